#!/usr/bin/env bash
# Runs the AttnGen benchmark suite and copies BenchmarkDotNet's GitHub-flavoured markdown tables to
# benchmarks/results/ (one file per benchmark class; logs, CSV and HTML stay in results/artifacts/).
#
#   benchmarks/run.sh                  full run, BenchmarkDotNet's default job (hours on 2 cores)
#   benchmarks/run.sh --short          --job short: 3 warm-ups, 3 iterations (minutes; rough numbers)
#   benchmarks/run.sh --quick          the suite's Quick job: 1 warm-up, 5 iterations of 100 ms
#   benchmarks/run.sh --short --filter '*Core_H8_S128*'   any further BenchmarkDotNet options pass through
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
results="$here/results"
artifacts="$results/artifacts"

job=()
case "${1:-}" in
  --short) job=(--job short); shift ;;
  --quick) job=(--quick); shift ;;
esac

filter=()
if [[ " $* " != *" --filter "* && " $* " != *" -f "* ]]; then
  filter=(--filter '*')
fi

mkdir -p "$results"
rm -f "$artifacts"/results/*-report-github.md   # only this run's tables get copied
dotnet run -c Release --project "$here/AttnGen.Benchmarks" -- \
  "${job[@]}" "${filter[@]}" --artifacts "$artifacts" "$@"

shopt -s nullglob
tables=("$artifacts"/results/*-report-github.md)
for table in "${tables[@]}"; do
  name="$(basename "$table")"
  cp "$table" "$results/${name#AttnGen.Benchmarks.}"
done
echo "${#tables[@]} table(s) in $results"
