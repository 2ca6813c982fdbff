#!/usr/bin/env bash
# Build cost of generated layers in a user's project: the warm incremental build after an unrelated edit, for
# a console project with 0, 10 and 30 [AttentionLayer] declarations of assorted shapes. Prints the median of
# a few rebuilds per project and the cost per layer above the project with none.
#
#   benchmarks/build-cost/run.sh [repeats] [server|no-server]
#
# repeats: rebuilds per project (default 3). The second argument chooses the compiler: `server` builds through
# the shared compiler server (VBCSCompiler, the SDK's default: the compiler and the generator stay loaded and
# compiled between builds), `no-server` starts a fresh compiler process for every build (what a machine with
# UseSharedCompilation=false gets, and what CI machines often do). Default: whatever the environment says.
#
# The projects are written to a temporary folder outside the repository and reference src/ by
# ProjectReference, as the repository's own samples do.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
repeats="${1:-3}"
compiler="${2:-}"
server_flag=()
case "$compiler" in
  server) server_flag=(-p:UseSharedCompilation=true) ;;
  no-server) server_flag=(-p:UseSharedCompilation=false) ;;
  "") ;;
  *) echo "second argument: server or no-server, not '$compiler'" >&2; exit 2 ;;
esac
work="$(mktemp -d)"
cleanup() {
  rm -rf "$work"
  # The compiler server this script started would otherwise stay up for its idle timeout.
  [[ "$compiler" == server ]] && dotnet build-server shutdown --vbcscompiler > /dev/null 2>&1
  return 0
}
trap cleanup EXIT
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

# Layer i: a deterministic spread of head counts, widths, lengths and options.
declaration() {
  local i=$1
  local heads=(2 4 8 6 12 4 8 16)
  local dims=(16 32 64 24 64 80 48 32)
  local lens=(32 64 128 50 256 100 77 512)
  local h=${heads[$((i % 8))]} d=${dims[$(((i / 2) % 8))]} s=${lens[$(((i / 3) % 8))]}
  local opts=""
  (( i % 3 == 1 )) && opts=", Causal = true"
  (( i % 5 == 2 && h % 2 == 0 )) && opts="$opts, KvHeads = $((h / 2))"
  (( i % 7 == 3 )) && opts="$opts, Projections = false, Bias = false"
  echo "[AttentionLayer(heads: $h, headDim: $d, seqLen: $s$opts)] public partial class Layer$i;"
}

make_project() {
  local n=$1 dir="$work/layers$1"
  mkdir -p "$dir"
  cat > "$dir/Consumer.csproj" <<PROJ
<Project Sdk="Microsoft.NET.Sdk">
  <Import Project="$repo/src/Package/build/AttnGen.props" />
  <PropertyGroup>
    <OutputType>Exe</OutputType>
    <TargetFramework>net10.0</TargetFramework>
    <Nullable>enable</Nullable>
    <AllowUnsafeBlocks>true</AllowUnsafeBlocks>
    <ManagePackageVersionsCentrally>false</ManagePackageVersionsCentrally>
  </PropertyGroup>
  <ItemGroup>
    <ProjectReference Include="$repo/src/Runtime/AttnGen.Runtime.csproj" />
    <ProjectReference Include="$repo/src/Generator/AttnGen.Generator.csproj" OutputItemType="Analyzer" ReferenceOutputAssembly="false" />
  </ItemGroup>
</Project>
PROJ
  {
    echo "using AttnGen;"
    echo "namespace Consumer;"
    for ((i = 0; i < n; i++)); do declaration "$i"; done
  } > "$dir/Layers.cs"
  echo 'namespace Consumer; public static class Program { public static int Main() => Other.Value; }' > "$dir/Program.cs"
  echo 'namespace Consumer; public static class Other { public const int Value = 0; }' > "$dir/Other.cs"
  echo "$dir"
}

measure() {
  local dir=$1
  dotnet build "$dir" -c Release -v quiet -nologo "${server_flag[@]}" > "$dir/first.log" 2>&1 || { cat "$dir/first.log"; exit 1; }
  local times=()
  for ((r = 0; r < repeats; r++)); do
    echo "namespace Consumer; public static class Other { public const int Value = $r; }" > "$dir/Other.cs"
    local start end
    start=$(date +%s.%N)
    dotnet build "$dir" -c Release -v quiet -nologo --no-restore "${server_flag[@]}" > "$dir/rebuild.log" 2>&1 || { cat "$dir/rebuild.log"; exit 1; }
    end=$(date +%s.%N)
    times+=("$(echo "$end - $start" | bc)")
  done
  printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}

declare -A median
for n in 0 10 30; do
  dir=$(make_project "$n")
  median[$n]=$(measure "$dir")
  echo "layers $n: warm rebuild after an unrelated edit ${median[$n]} s (median of $repeats)"
done
for n in 10 30; do
  echo "per layer above none, $n layers: $(echo "scale=3; (${median[$n]} - ${median[0]}) / $n" | bc) s"
done
