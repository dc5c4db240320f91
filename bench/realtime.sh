#!/usr/bin/env bash
# Realtime fan-out: N WebSocket subscribers to one collection, a writer creating
# records over HTTP at a fixed rate; write-to-delivery latency p50/p99 at every
# subscriber, and the server's memory per idle connection (RSS growth / N).
# The server runs on core 0, the subscribers and the writer on core 1.
#
#   bash bench/realtime.sh                      # 1,000, 5,000 and 10,000 subscribers
#   SUBSCRIBERS="100 500" WRITES=50 RATE=10 bash bench/realtime.sh
set -euo pipefail
cd "$(dirname "$0")/.."
SUBSCRIBERS=${SUBSCRIBERS:-"1000 5000 10000"}
WRITES=${WRITES:-100}
RATE=${RATE:-20}
KEY=bench-key-0123456789
WORK=$(mktemp -d)
PID=
trap '[[ -n $PID ]] && kill "$PID" 2>/dev/null; rm -rf "$WORK"' EXIT
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

cargo build --release -p reference-server -p e2e --bin rucksack-server --bin fanout --quiet
SERVER_CPU=(); LOAD_CPU=()
if (( $(nproc) > 1 )); then SERVER_CPU=(taskset -c 0); LOAD_CPU=(taskset -c 1); fi

echo "| subscribers | p50 | p99 | max | delivered | deliveries/s | server memory per idle socket |"
echo "|---|---|---|---|---|---|---|"
for n in $SUBSCRIBERS; do
  rm -rf "$WORK/data"
  "${SERVER_CPU[@]}" target/release/rucksack-server --listen 127.0.0.1:0 --data-dir "$WORK/data" \
    --api-key "$KEY" --max-ws $(( n + 100 )) >"$WORK/server.log" 2>&1 &
  PID=$!
  for _ in $(seq 100); do grep -q "listening on" "$WORK/server.log" && break; sleep 0.1; done
  URL=$(grep -o 'listening on [^ ]*' "$WORK/server.log" | awk '{print $3}')
  out=$("${LOAD_CPU[@]}" target/release/fanout --url "$URL" --key "$KEY" --pid "$PID" \
    --subscribers "$n" --writes "$WRITES" --rate "$RATE")
  kill "$PID"; wait "$PID" 2>/dev/null || true; PID=
  echo "$out" | python3 -c '
import json, sys
r = json.loads(sys.stdin.read())
print("| {subscribers:,} | {p50_ms:.1f} ms | {p99_ms:.1f} ms | {max_ms:.1f} ms | {delivered:,}/{expected:,} | {deliveries_per_s:,.0f} | {bytes_per_idle_socket:,} B |".format(**r))'
done
echo
echo "writes: $WRITES at $RATE/s; machine: $(nproc) cores, $(uname -m); $(target/release/rucksack-server --version 2>/dev/null || true)"
