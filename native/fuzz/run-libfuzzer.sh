#!/bin/sh
# Runs one libFuzzer target for a bounded time over its committed seed corpus
# (new inputs go to a scratch corpus in the build folder, never into the
# repository) and records its figures for docs/robustness.md.
# Usage: run-libfuzzer.sh <binary> <seed corpus dir> <seconds> <stats dir>
set -eu
bin=$1 seeds=$2 seconds=$3 stats=$4
name=$(basename "$bin")
target=${name#fuzz_}
work=$(dirname "$bin")/corpus-$target
mkdir -p "$work" "$stats"
log=$(dirname "$bin")/$target.log
rc=0
"$bin" -max_total_time="$seconds" -print_final_stats=1 -artifact_prefix="$(dirname "$bin")/$target-crash-" \
  "$work" "$seeds" >"$log" 2>&1 || rc=$?
# libFuzzer's last status line ("#N DONE cov: C ft: F corp: ...") and final stats.
runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
ok=true
[ "$rc" -eq 0 ] || ok=false
printf '{"target":"%s","executions":%s,"seconds":%s,"coverage":%s,"ok":%s}\n' \
  "$target" "${runs:-0}" "$seconds" "${cov:-0}" "$ok" >"$stats/$target.json"
echo "fuzz $target: ${runs:-0} executions in ${seconds}s, coverage ${cov:-0}, $( [ "$ok" = true ] && echo 'no crash' || echo "FAILED (see $log)")"
[ "$rc" -eq 0 ]
