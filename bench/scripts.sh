#!/usr/bin/env bash
# The per-request cost of collection event scripts: creates per second into a
# collection without a script, with an empty On Validate script, and with a
# typical validation script, as ratios to no script. Server on core 0, wrk on
# core 1, median of RUNS rounds; each round measures the three collections in
# turn, so all of them write into a database of about the same size.
#
#   bash bench/scripts.sh             # wrk -t1 -c50 -d5s, 3 rounds
#   BIN=path/to/rucksack-server bash bench/scripts.sh   # another build
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-5}
CONNS=${CONNS:-50}
RUNS=${RUNS:-3}
WORK=$(mktemp -d)
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"' EXIT
command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk >/dev/null; }
command -v jq >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends jq >/dev/null; }
BIN=${BIN:-}
if [[ -z $BIN ]]; then
  cargo build --release -p reference-server --quiet
  BIN=target/release/rucksack-server
fi
# shellcheck source=bench/lib.sh
source bench/lib.sh

KEY=bench-key
ADMIN=bench-admin-key
start_rucksack "$BIN" "$WORK/rs"
PIDS+=("$RS_PID")
URL=$RS_URL
TOKEN=$(curl -fsS -X POST "$URL/register" -H "authorization: key $KEY" \
  -d '{"email":"bench@example.com","password":"benchmark-password"}' | jq -r .token)
configure() { # collection, events JSON
  curl -fsS -X PUT "$URL/collections/$1" -H "authorization: key $ADMIN" -d "{\"events\": $2}" >/dev/null
}
configure empty "$(jq -n --arg s "$EMPTY_SCRIPT" '{validate: $s}')"
configure checked "$(jq -n --arg s "$VALIDATION_SCRIPT" '{validate: $s}')"

rps() { # collection: one wrk run's requests per second
  local out
  out=$("${LOAD_CPU[@]}" wrk -t1 -c"$CONNS" -d"${DURATION}s" -s bench/wrk/create.lua \
    -H "authorization: key $KEY" -H "x-authorization: $TOKEN" "$URL/$1")
  if grep -q 'Non-2xx' <<<"$out"; then echo "non-2xx answers: $out" >&2; exit 1; fi
  awk '/Requests\/sec/ {printf "%.0f", $2}' <<<"$out"
}
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
"${LOAD_CPU[@]}" wrk -t1 -c"$CONNS" -d2s "$URL/health" >/dev/null
all_none=(); all_empty=(); all_checked=()
for _ in $(seq "$RUNS"); do
  all_none+=("$(rps plain)")
  all_empty+=("$(rps empty)")
  all_checked+=("$(rps checked)")
done
none=$(median "${all_none[@]}")
empty=$(median "${all_empty[@]}")
checked=$(median "${all_checked[@]}")
cost() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%+.1f%%", (a / b - 1) * 100}'; }
echo
echo "creates per second, wrk -t1 -c$CONNS -d${DURATION}s, median of $RUNS rounds; server on core 0, wrk on core 1"
printf '| %-34s | %10s | %14s |\n' "collection" "creates/s" "cost per request"
printf '|%s|%s|%s|\n' "------------------------------------" "------------" "----------------"
printf '| %-34s | %10s | %14s |\n' "no script" "$none" "-"
printf '| %-34s | %10s | %14s |\n' "empty On Validate (a comment)" "$empty" "$(cost "$none" "$empty")"
printf '| %-34s | %10s | %14s |\n' "validation script (4 lines)" "$checked" "$(cost "$none" "$checked")"
