#!/usr/bin/env bash
# Builds the solution and runs every test suite, printing one line of real counts at the end:
#   N passed, N failed, N skipped
# The kernel suites (Kernels.Tests, Decoding.Tests) run once per instruction-set path: natively, then in child processes with
# AVX-512, AVX2, AVX (SSE only) and all hardware intrinsics switched off, then published for linux-arm64 and run
# under qemu-aarch64-static (the Neon path) with Debian's arm64 multiarch libraries. (Do not mix those with
# `-L /usr/aarch64-linux-gnu` from the *-arm64-cross packages: a loader and a libc from two glibc builds
# spin forever in pthread_create.) Each forced run sets ATTNGEN_EXPECT_ISA, which a test
# checks, so a switch that silently did nothing fails the run.
#
# Then tests/package/run.sh packs the AttnGen package and builds, runs and NativeAOT-publishes a
# consumer project outside the solution against it; each of its checks counts as one test.
#
# Environment:
#   ATTNGEN_SKIP_NEON=1      skip the Arm run (counted as skipped, with a note); CI never sets it.
#   ATTNGEN_SKIP_PACKAGE=1   skip the package checks (counted as skipped); CI never sets it.
set -uo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

results=artifacts/test-results
rm -rf "$results"
mkdir -p "$results"
passed=0 failed=0 skipped=0

echo "== build (Release)"
if ! dotnet build AttnGen.sln -c Release -v quiet -nologo; then
  echo "build failed"
  echo "0 passed, 1 failed"
  exit 1
fi

# run_suite <label> [VAR=value...] -- <command...>: runs one xunit v3 test executable and adds its counts.
run_suite() {
  local label=$1
  shift
  local vars=()
  while [[ $1 != "--" ]]; do vars+=("$1"); shift; done
  shift
  local log="$results/$label.log"
  echo "== $label"
  env "${vars[@]}" "$@" -noColor > "$log" 2>&1
  local code=$?
  local line
  line=$(grep -E 'Total: [0-9]+, Errors: [0-9]+, Failed: [0-9]+, Skipped: [0-9]+, Not Run: [0-9]+' "$log" | tail -1)
  if [[ -z "$line" ]]; then
    echo "   no summary (exit code $code); last lines of $log:"
    tail -20 "$log" | sed 's/^/   /'
    failed=$((failed + 1))
    return
  fi
  local total errors fails skips notrun
  read -r total errors fails skips notrun < <(echo "$line" | sed -E 's/.*Total: ([0-9]+), Errors: ([0-9]+), Failed: ([0-9]+), Skipped: ([0-9]+), Not Run: ([0-9]+).*/\1 \2 \3 \4 \5/')
  local ok=$((total - fails - skips - notrun))
  passed=$((passed + ok))
  failed=$((failed + fails + errors))
  skipped=$((skipped + skips + notrun))
  echo "   $ok passed, $((fails + errors)) failed, $((skips + notrun)) skipped"
  if [[ $fails -gt 0 || $errors -gt 0 || $code -ne 0 ]]; then
    grep -E '^\s*\[FAIL\]' "$log" | head -20 | sed 's/^/   /'
    if [[ $fails -eq 0 && $errors -eq 0 ]]; then
      echo "   exit code $code"
      failed=$((failed + 1))
    fi
  fi
}

bin=bin/Release/net10.0
for project in tests/*/; do
  name=$(basename "$project")
  exe=$(ls "$project$bin"/AttnGen.*.Tests 2>/dev/null | head -1)
  [[ -n "$exe" ]] || continue
  run_suite "$name" -- "$exe"
done

# Forced instruction-set paths for the kernel suites (x64 only).
isa_suites=(Kernels.Tests Decoding.Tests)
if [[ "$(uname -m)" == "x86_64" ]]; then
  flags=$(grep -m1 '^flags' /proc/cpuinfo)
  for suite in "${isa_suites[@]}"; do
    exe="tests/$suite/$bin/AttnGen.${suite}"
    if [[ "$flags" == *" avx512f "* ]]; then
      if [[ "$flags" == *" avx2 "* && "$flags" == *" fma "* ]]; then no512=Avx2; else no512=Vector128; fi
      run_suite "$suite-no-avx512" DOTNET_EnableAVX512=0 ATTNGEN_EXPECT_ISA=$no512 -- "$exe"
    fi
    if [[ "$flags" == *" avx2 "* ]]; then
      run_suite "$suite-no-avx2" DOTNET_EnableAVX2=0 ATTNGEN_EXPECT_ISA=Vector128 -- "$exe"
    fi
    # The 128-bit path as an SSE-only machine runs it. With AVX2 off the tiles already take their SSE row passes
    # (sized to 16 xmm registers), but the JIT still encodes them with VEX and the partial vectors use AVX's masked
    # loads and stores; with AVX off the code is legacy two-operand SSE and the tails go element by element.
    if [[ "$flags" == *" avx "* ]]; then
      run_suite "$suite-sse" DOTNET_EnableAVX=0 ATTNGEN_EXPECT_ISA=Vector128 -- "$exe"
    fi
    run_suite "$suite-scalar" DOTNET_EnableHWIntrinsic=0 ATTNGEN_EXPECT_ISA=Scalar -- "$exe"
  done
fi

# The Neon path: the kernel suites published for linux-arm64 and run under user-mode emulation.
if [[ "${ATTNGEN_SKIP_NEON:-0}" == "1" ]]; then
  echo "== Neon runs: skipped (ATTNGEN_SKIP_NEON=1)"
  skipped=$((skipped + ${#isa_suites[@]}))
elif [[ "$(uname -m)" == "aarch64" ]]; then
  echo "== Neon runs: this machine is Arm64; the native runs above covered Neon"
elif ! command -v qemu-aarch64-static > /dev/null || [[ ! -e /lib/aarch64-linux-gnu/libc.so.6 ]] || [[ ! -e /usr/lib/aarch64-linux-gnu/libssl.so.3 ]]; then
  echo "== Neon runs: qemu-aarch64-static or the arm64 libraries are missing"
  echo "   install them with: dpkg --add-architecture arm64 && apt-get update && apt-get install qemu-user-static libc6:arm64 libstdc++6:arm64 libssl3:arm64"
  echo "   (or set ATTNGEN_SKIP_NEON=1 to run without the Arm path)"
  failed=$((failed + 1))
else
  for suite in "${isa_suites[@]}"; do
    echo "== publish $suite for linux-arm64"
    arm=artifacts/arm64/$suite
    if dotnet publish "tests/$suite" -c Release -r linux-arm64 --self-contained -o "$arm" -v quiet -nologo > "$results/publish-arm64-$suite.log" 2>&1; then
      # W^X off: qemu-user does not see code the runtime writes through a second (writable) mapping of the
      # same pages, so dynamic methods would run stale translations and die with SIGILL.
      run_suite "$suite-neon" DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1 DOTNET_EnableWriteXorExecute=0 ATTNGEN_EXPECT_ISA=Vector128 -- \
        qemu-aarch64-static "$arm/AttnGen.$suite"
    else
      tail -20 "$results/publish-arm64-$suite.log"
      failed=$((failed + 1))
    fi
  done
fi

# The package as a user gets it: pack, consume from a folder feed, compare with source, NativeAOT.
if [[ "${ATTNGEN_SKIP_PACKAGE:-0}" == "1" ]]; then
  echo "== package: skipped (ATTNGEN_SKIP_PACKAGE=1)"
  skipped=$((skipped + 1))
else
  echo "== package"
  bash tests/package/run.sh > "$results/package.log" 2>&1
  sed 's/^/   /' "$results/package.log" | grep -E '^   (PASS|FAIL|package:)'
  line=$(grep -E '^package: [0-9]+ passed, [0-9]+ failed$' "$results/package.log" | tail -1)
  if [[ -z "$line" ]]; then
    echo "   no summary; last lines of $results/package.log:"
    tail -20 "$results/package.log" | sed 's/^/   /'
    failed=$((failed + 1))
  else
    read -r ok bad < <(echo "$line" | sed -E 's/package: ([0-9]+) passed, ([0-9]+) failed/\1 \2/')
    passed=$((passed + ok))
    failed=$((failed + bad))
  fi
fi

echo
echo "$passed passed, $failed failed, $skipped skipped"
[[ $failed -eq 0 ]]
