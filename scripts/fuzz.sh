#!/usr/bin/env bash
# Runs the coverage-guided fuzz targets in fuzz/ (cargo-fuzz, libFuzzer, with
# AddressSanitizer) for SECONDS each, from the committed seeds and a corpus kept
# in target/fuzz/corpus, and fails on the first crash, panic, leak or timeout.
# What each target holds: RELIABILITY.md.
#
#   bash scripts/fuzz.sh              every target, 20 s each (the test command's run)
#   bash scripts/fuzz.sh 1800         every target, 30 minutes each
#   TARGETS="frames multipart" bash scripts/fuzz.sh 60
#
# A crash leaves its input in target/fuzz/artifacts/TARGET/; replay it with
#   cd fuzz && cargo +nightly fuzz run -O --target-dir ../target/fuzz TARGET ../target/fuzz/artifacts/TARGET/crash-…
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SECONDS_EACH=${1:-20}
FUZZ=(cargo +nightly fuzz)
OPTS=(-O --target-dir "$ROOT/target/fuzz")
TARGETS=${TARGETS:-"query_text sql_vs_evaluator frames documents multipart script_values"}
LOGS=$ROOT/target/fuzz/logs
mkdir -p "$LOGS"

cd fuzz
"${FUZZ[@]}" build "${OPTS[@]}" 2>&1 | grep -vE '^\s+(Compiling|Fresh)' || true
for t in $TARGETS; do
  corpus=$ROOT/target/fuzz/corpus/$t
  artifacts=$ROOT/target/fuzz/artifacts/$t
  mkdir -p "$corpus" "$artifacts"
  if ! "${FUZZ[@]}" run "${OPTS[@]}" "$t" "$corpus" "seeds/$t" -- \
      -dict="dict/$t.dict" -max_total_time="$SECONDS_EACH" -max_len=4096 -timeout=10 \
      -rss_limit_mb=4096 -artifact_prefix="$artifacts/" -print_final_stats=1 \
      >"$LOGS/$t.log" 2>&1; then
    grep -E 'panicked|ERROR|SUMMARY' -A12 "$LOGS/$t.log" | head -60 >&2
    echo "fuzz target $t failed (log: $LOGS/$t.log, input in $artifacts)" >&2
    exit 1
  fi
  runs=$(grep -oE '^stat::number_of_executed_units: [0-9]+' "$LOGS/$t.log" | awk '{print $2}')
  done_line=$(grep -E '#[0-9]+\s+DONE' "$LOGS/$t.log" | tail -1)
  cov=$(grep -oE 'cov: [0-9]+' <<<"$done_line" | awk '{print $2}')
  ft=$(grep -oE 'ft: [0-9]+' <<<"$done_line" | awk '{print $2}')
  corp=$(grep -oE 'corp: [0-9]+' <<<"$done_line" | awk '{print $2}')
  (( ${runs:-0} > 0 )) || { echo "fuzz target $t ran no input (log: $LOGS/$t.log)" >&2; exit 1; }
  printf 'fuzz %-17s %6ss %12s runs  coverage %6s edges %7s features  corpus %6s\n' \
    "$t" "$SECONDS_EACH" "$runs" "${cov:-?}" "${ft:-?}" "${corp:-?}"
done
