#!/usr/bin/env bash
# The package, end to end, as a user gets it:
#   1. `dotnet pack AttnGen.sln` makes the AttnGen package (checked: one package, the expected layout);
#   2. tests/package/Consumer, a project outside the solution whose only AttnGen reference is
#      <PackageReference Include="AttnGen"/>, restores it from a local folder feed into a packages folder
#      of its own, builds and runs: forward, training forward + backward, save and load;
#   3. the same code built from source (tests/package/FromSource) gives byte-identical results;
#   4. a NativeAOT publish with IlcInstructionSet=native runs on the same instruction-set path as the JIT
#      build, with the same results, and shows no instruction-set warning;
#   5. a default NativeAOT publish shows warning ATTN1001 naming IlcInstructionSet and its choices, and
#      its binary runs the 128-bit path.
# Each check prints PASS or FAIL; the last line is "package: N passed, N failed".
# The package version is the repository's Version with a per-run prerelease suffix, so neither NuGet's
# caches nor an older package in a feed can stand in for the one just built. Only the package's version
# changes (PackageVersion): the assemblies keep the repository's Version, so nothing is compiled again.
set -uo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

work=artifacts/package
feed=$work/feed
packages=$work/packages
logs=$work/logs
rm -rf "$work"
mkdir -p "$feed" "$packages" "$logs"
passed=0 failed=0

pass() { echo "PASS $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1"; failed=$((failed + 1)); [[ $# -lt 2 || ! -f $2 ]] || tail -25 "$2" | sed 's/^/     /'; }
finish() { echo "package: $passed passed, $failed failed"; [[ $failed -eq 0 ]]; exit; }

base=$(dotnet msbuild src/Runtime/AttnGen.Runtime.csproj -getProperty:Version 2>/dev/null)
version="$base-local.$(date -u +%Y%m%d%H%M%S)"
consumer=tests/package/Consumer
global_packages=$(dotnet nuget locals global-packages --list | sed -E 's/^global-packages: //')
# Restore AttnGen into a folder of this run; other packages may come from the machine's cache.
restore_props=(-p:AttnGenVersion="$version" -p:RestorePackagesPath="$root/$packages" -p:RestoreFallbackFolders="$global_packages")

# 1. Pack.
if dotnet pack AttnGen.sln -c Release -o "$feed" -p:PackageVersion="$version" -v quiet -nologo > "$logs/pack.log" 2>&1; then
  nupkgs=("$feed"/*.nupkg)
  nupkg=$feed/AttnGen.$version.nupkg
  listing=$(unzip -Z1 "$nupkg" 2>/dev/null)
  missing=""
  for entry in lib/net10.0/AttnGen.Runtime.dll lib/net10.0/AttnGen.Attributes.dll analyzers/dotnet/cs/AttnGen.Generator.dll \
               build/AttnGen.targets buildTransitive/AttnGen.targets README.md; do
    grep -qx "$entry" <<< "$listing" || missing="$missing $entry"
  done
  # Its assemblies are inside it: the only dependency is a package from the registry.
  dependencies=$(unzip -p "$nupkg" AttnGen.nuspec 2>/dev/null | sed -nE 's/.*<dependency id="([^"]+)".*/\1/p' | tr '\n' ' ')
  if [[ ${#nupkgs[@]} -eq 1 && -f $nupkg && -z $missing && $dependencies == "System.Numerics.Tensors " ]]; then
    pass "pack: one package, AttnGen $version, with lib/, analyzers/dotnet/cs/, build/, buildTransitive/, README.md; depends on System.Numerics.Tensors only"
  else
    echo "     packages: ${nupkgs[*]}; missing entries:${missing:- none}; dependencies: $dependencies"
    fail "pack: package layout"
    finish
  fi
else
  fail "pack: dotnet pack AttnGen.sln" "$logs/pack.log"
  finish
fi

# 2. The consumer from the package (JIT).
if dotnet build "$consumer" -c Release "${restore_props[@]}" -o "$work/jit" -v quiet -nologo > "$logs/consumer-build.log" 2>&1; then
  # The restored package must be the one just packed: compare NuGet's recorded hash with the file's.
  expected=$(openssl dgst -sha512 -binary "$nupkg" | base64 -w0)
  recorded=$(grep -A4 "\"AttnGen/$version\"" "$consumer/obj/project.assets.json" | sed -nE 's/.*"sha512": "([^"]+)".*/\1/p' | head -1)
  if [[ -n $expected && $expected == "$recorded" && -d $packages/attngen/$version ]]; then
    pass "consumer: restored the packed AttnGen $version into its own packages folder and built"
  else
    echo "     packed sha512 $expected, restored $recorded"
    fail "consumer: restored package is not the one just packed"
  fi
else
  fail "consumer: restore and build against the package" "$logs/consumer-build.log"
  finish
fi
if "$work/jit/PackageConsumer" "$work/jit.bin" "$work/jit-files" > "$logs/jit.out" 2>&1; then
  sed 's/^/     /' "$logs/jit.out"
  pass "consumer (package, JIT): forward, backward, save, load"
else
  fail "consumer (package, JIT): run" "$logs/jit.out"
fi
jit_isa=$(sed -nE 's/^isa: (.*)$/\1/p' "$logs/jit.out")

# 3. The same code from source.
if dotnet build tests/package/FromSource -c Release -o "$work/source" -v quiet -nologo > "$logs/source-build.log" 2>&1 \
   && "$work/source/FromSource" "$work/source.bin" "$work/source-files" > "$logs/source.out" 2>&1; then
  if cmp -s "$work/jit.bin" "$work/source.bin" && diff -q "$logs/jit.out" "$logs/source.out" > /dev/null; then
    pass "consumer (package) = consumer (source): byte-identical forward, gradients, parameters and reloaded forward"
  else
    diff "$logs/jit.out" "$logs/source.out" | sed 's/^/     /'
    fail "consumer (package) differs from the same code built from source"
  fi
else
  fail "consumer (source): build and run" "$logs/source.out"
fi

# 4. NativeAOT with IlcInstructionSet=native.
if dotnet publish "$consumer" -c Release "${restore_props[@]}" -p:PublishAot=true -p:IlcInstructionSet=native \
     -o "$work/aot-native" -v minimal -nologo -tl:off > "$logs/publish-native.log" 2>&1; then
  if grep -q ATTN1001 "$logs/publish-native.log"; then
    fail "NativeAOT (IlcInstructionSet=native): warned ATTN1001 although the instruction set was chosen"
  else
    pass "NativeAOT (IlcInstructionSet=native): published without an instruction-set warning"
  fi
  if "$work/aot-native/PackageConsumer" "$work/aot.bin" "$work/aot-files" > "$logs/aot-native.out" 2>&1; then
    aot_isa=$(sed -nE 's/^isa: (.*)$/\1/p' "$logs/aot-native.out")
    if [[ -n $jit_isa && $aot_isa == "$jit_isa" ]] && cmp -s "$work/jit.bin" "$work/aot.bin"; then
      pass "NativeAOT (IlcInstructionSet=native): runs on the JIT build's path ($aot_isa) with byte-identical results"
    else
      echo "     JIT path '$jit_isa', NativeAOT path '$aot_isa'"
      diff "$logs/jit.out" "$logs/aot-native.out" | sed 's/^/     /'
      fail "NativeAOT (IlcInstructionSet=native): path or results differ from the JIT build"
    fi
  else
    fail "NativeAOT (IlcInstructionSet=native): run" "$logs/aot-native.out"
  fi
else
  fail "NativeAOT (IlcInstructionSet=native): publish" "$logs/publish-native.log"
fi

# 5. NativeAOT by default: the warning, and the 128-bit path it warns about.
if dotnet publish "$consumer" -c Release "${restore_props[@]}" -p:PublishAot=true \
     -o "$work/aot-default" -v minimal -nologo -tl:off > "$logs/publish-default.log" 2>&1; then
  warning=$(grep -m1 'warning ATTN1001' "$logs/publish-default.log")
  if [[ $warning == *IlcInstructionSet* && $warning == *x86-64-v3* && $warning == *x86-64-v4* && $warning == *native* ]]; then
    pass "NativeAOT (default): warning ATTN1001 names IlcInstructionSet, x86-64-v3, x86-64-v4 and native"
  else
    fail "NativeAOT (default): no ATTN1001 warning naming IlcInstructionSet and its choices" "$logs/publish-default.log"
  fi
  if "$work/aot-default/PackageConsumer" "$work/aot-default.bin" "$work/aot-default-files" > "$logs/aot-default.out" 2>&1 \
     && grep -qx 'isa: Vector128' "$logs/aot-default.out"; then
    pass "NativeAOT (default): runs, on the 128-bit path the warning describes"
  else
    fail "NativeAOT (default): run on the 128-bit path" "$logs/aot-default.out"
  fi
else
  fail "NativeAOT (default): publish" "$logs/publish-default.log"
fi

finish
