#!/usr/bin/env bash
# The per-request cost of event scripts counted in instructions, which, unlike
# requests per second, does not move with what else the machine is doing: the
# server runs under valgrind's callgrind, 400 creates go to a collection without
# a script, with a comment-only On Validate and with a 4-line validation script,
# and the user-space instructions per create are compared.
#
#   bash bench/script-cost.sh          # N=400
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-400}
command -v valgrind >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends valgrind >/dev/null; }
command -v jq >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends jq >/dev/null; }
cargo build --release -p reference-server --quiet
BIN=$PWD/target/release/rucksack-server

per_create() { # config JSON (empty: none)
  local W P URL TOKEN total=0 t f
  W=$(mktemp -d)
  valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$W/cg.out" "$BIN" \
    --listen 127.0.0.1:0 --data-dir "$W/d" --api-key k --admin-key a \
    --hash-memory-kib 64 --hash-iterations 1 >"$W/out" 2>"$W/err" &
  P=$!
  for _ in $(seq 300); do grep -q 'listening on' "$W/out" 2>/dev/null && break; sleep 0.1; done
  URL=$(sed -n 's/.*listening on //p' "$W/out")
  TOKEN=$(curl -fsS -X POST "$URL/register" -H "authorization: key k" \
    -d '{"email":"b@example.com","password":"benchmark-password"}' | jq -r .token)
  [[ -n $1 ]] && curl -fsS -X PUT "$URL/collections/c" -H "authorization: key a" -d "$1" >/dev/null
  post() { curl -fsS -o /dev/null -X POST "$URL/c" -H "authorization: key k" -H "x-authorization: $TOKEN" \
    -d '{"text":"benchmark message lorem ipsum dolor sit amet"}'; }
  for _ in $(seq 100); do post; done   # warm: engine started, script compiled
  callgrind_control -i on "$P" >/dev/null
  for _ in $(seq "$N"); do post; done
  callgrind_control -i off "$P" >/dev/null
  callgrind_control -d "$P" >/dev/null
  sleep 1
  for f in "$W"/cg.out.*; do
    t=$(grep -m1 -E '^totals:' "$f" | awk '{print $2}' || true)
    total=$(( total + ${t:-0} ))
  done
  kill "$P"; wait "$P" 2>/dev/null || true; rm -rf "$W"
  echo $(( total / N ))
}

# shellcheck source=bench/lib.sh
source bench/lib.sh
EMPTY=$(jq -n --arg s "$EMPTY_SCRIPT" '{events: {validate: $s}}')
CHECKED=$(jq -n --arg s "$VALIDATION_SCRIPT" '{events: {validate: $s}}')
none=$(per_create "")
empty=$(per_create "$EMPTY")
checked=$(per_create "$CHECKED")
cost() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%+.1f%%", (b / a - 1) * 100}'; }
echo "user-space instructions per create (callgrind, $N sequential creates)"
printf '| %-34s | %12s | %8s |\n' "collection" "instructions" "cost"
printf '|%s|%s|%s|\n' "------------------------------------" "--------------" "----------"
printf '| %-34s | %12s | %8s |\n' "no script" "$none" "-"
printf '| %-34s | %12s | %8s |\n' "empty On Validate (a comment)" "$empty" "$(cost "$none" "$empty")"
printf '| %-34s | %12s | %8s |\n' "validation script (4 lines)" "$checked" "$(cost "$none" "$checked")"
