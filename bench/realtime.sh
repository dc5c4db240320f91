#!/usr/bin/env bash
# Realtime fan-out, side by side with PocketBase: N subscribers to one collection
# (WebSockets here, PocketBase's SSE there), a writer creating records over HTTP at
# a fixed rate; write-to-delivery latency p50/p99 at every subscriber, and the
# server's memory per idle connection (RSS growth / N). The servers run on core 0,
# the subscribers and the writer on core 1. PEER=none skips PocketBase; RESULTS=FILE
# also appends each measurement there as a JSON line (bench/run.sh reads them).
# BATCH=B makes each write a bulk create of B records, a burst of B events at every
# subscriber (Rucksack only: PocketBase has no bulk create). SERVER=PATH measures
# another rucksack-server binary (an older build, for a before/after). Each row
# also gives the server's CPU time per delivered frame (from the first write to
# the last delivery).
#
#   bash bench/realtime.sh                      # 1,000, 5,000 and 10,000 subscribers
#   SUBSCRIBERS="100 500" WRITES=50 RATE=10 bash bench/realtime.sh
#   SUBSCRIBERS=5000 WRITES=10 RATE=2 BATCH=10 bash bench/realtime.sh
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
source bench/lib.sh
SUBSCRIBERS=${SUBSCRIBERS:-"1000 5000 10000"}
WRITES=${WRITES:-100}
RATE=${RATE:-20}
BATCH=${BATCH:-1}
KEY=bench-key-0123456789
ADMIN=bench-admin-key-0123456789
PEER=${PEER:-pocketbase}
(( BATCH > 1 )) && PEER=none
PROFILE=${PROFILE:-release}
RESULTS=${RESULTS:-/dev/null}
WORK=$(mktemp -d)
PID=
trap '[[ -n $PID ]] && kill "$PID" 2>/dev/null; rm -rf "$WORK"' EXIT
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

if [[ -z ${SKIP_BUILD:-} ]]; then
  if [[ $PROFILE == release ]]; then
    cargo build --release -p reference-server -p e2e --bin rucksack-server --bin fanout --quiet
  else
    cargo build -p reference-server -p e2e --bin rucksack-server --bin fanout --quiet
  fi
fi
BIN=target/$PROFILE
SERVER=${SERVER:-$BIN/rucksack-server}
command -v jq >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends jq >/dev/null; }
if [[ $PEER == pocketbase ]]; then
  install_pocketbase
fi

row() { # server label, JSON line of fanout
  jq -c --arg s "$1" '{section: "realtime", name: "fan-out", server: ($s | split(" ")[0])} + .' <<<"$2" >>"$RESULTS"
  python3 -c '
import json, sys
r = json.loads(sys.argv[2])
cpu = "{:.1f} µs".format(r["cpu_us"] / r["delivered"]) if r.get("cpu_us") and r["delivered"] else "–"
print("| {} | {subscribers:,} | {write_rate:.1f}/s | {p50_ms:.1f} ms | {p99_ms:.1f} ms | {max_ms:.1f} ms | {delivered:,}/{expected:,} | {deliveries_per_s:,.0f} | {} | {bytes_per_idle_socket:,} B |".format(sys.argv[1], cpu, **r))' "$1" "$2"
}

echo "| server | subscribers | writes achieved | p50 | p99 | max | delivered | deliveries/s | server CPU per frame | server memory per idle connection |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for n in $SUBSCRIBERS; do
  rm -rf "$WORK/data" "$WORK/data.out" "$WORK/data.err"
  start_rucksack "$SERVER" "$WORK/data" --max-ws $(( n + 100 )) --max-ws-per-ip $(( n + 100 ))
  PID=$RS_PID
  out=$("${LOAD_CPU[@]}" "$BIN/fanout" --url "$RS_URL" --key "$KEY" --pid "$PID" \
    --subscribers "$n" --writes "$WRITES" --rate "$RATE" --batch "$BATCH")
  kill "$PID"; wait "$PID" 2>/dev/null || true; PID=
  row rucksack "$out"
  if [[ $PEER == pocketbase ]]; then
    rm -rf "$WORK/pb" "$WORK/pb.log"
    start_pocketbase "$WORK/pb" 8090
    PID=$PB_PID
      pb_collection '{"name":"fanout","type":"base","fields":[{"name":"t","type":"number"},{"name":"i","type":"number"}],
      "listRule":"","viewRule":"","createRule":"","updateRule":null,"deleteRule":null}'
    out=$("${LOAD_CPU[@]}" "$BIN/fanout" --peer pocketbase --url "$PB_URL" --pid "$PID" \
      --subscribers "$n" --writes "$WRITES" --rate "$RATE")
      kill "$PID"; wait "$PID" 2>/dev/null || true; PID=
    row "pocketbase $PB_VERSION" "$out"
  fi
done
echo
echo "writes: $WRITES at $RATE/s, $BATCH record(s) each; machine: $(nproc) cores, $(uname -m); $("$SERVER" --version 2>/dev/null || true)"
