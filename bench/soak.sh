#!/usr/bin/env bash
# Soaks, for RELIABILITY.md: the release server on a fresh data directory,
#   1. SOCKETS WebSockets (10,000) held MINUTES minutes (10) while records are
#      written at RATE/s (5) and CHURN sockets (20) leave and join every second:
#      the server's memory every minute, every record delivered to every socket
#      open when it was written, in order (tests/rust/bin/soak.rs);
#   2. HTTP_CLIENTS connections (1,000) for MINUTES minutes mixing creates, pages
#      and reads by id (bench/wrk/mixed.lua): errors, p50 and p99, memory.
#
#   bash bench/soak.sh                         # about 25 minutes
#   SOCKETS=500 HTTP_CLIENTS=100 MINUTES=1 bash bench/soak.sh
#   PARTS=http bash bench/soak.sh              # only the HTTP soak
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
source bench/lib.sh
SOCKETS=${SOCKETS:-10000}; HTTP_CLIENTS=${HTTP_CLIENTS:-1000}; MINUTES=${MINUTES:-10}
RATE=${RATE:-5}; CHURN=${CHURN:-20}; PARTS=${PARTS:-"ws http"}
KEY=bench-key-0123456789
ADMIN=bench-admin-key-0123456789
WORK=$(mktemp -d)
RS_PID=
trap '[[ -n $RS_PID ]] && kill "$RS_PID" 2>/dev/null; rm -rf "$WORK"' EXIT
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk >/dev/null; }
cargo build --release --quiet -p reference-server -p e2e --bin rucksack-server --bin soak
SERVER_CPU=()

if [[ $PARTS == *ws* ]]; then
  echo "== $SOCKETS WebSockets for $MINUTES minutes" >&2
  start_rucksack target/release/rucksack-server "$WORK/ws" --max-ws $(( SOCKETS + 1000 )) --max-ws-per-ip $(( SOCKETS + 1000 ))
  target/release/soak --url "$RS_URL" --key "$KEY" --pid "$RS_PID" --sockets "$SOCKETS" \
    --minutes "$MINUTES" --rate "$RATE" --churn "$CHURN"
  kill "$RS_PID"; wait "$RS_PID" 2>/dev/null || true; RS_PID=
fi
[[ $PARTS == *http* ]] || exit 0

echo "== $HTTP_CLIENTS HTTP clients for $MINUTES minutes" >&2
start_rucksack target/release/rucksack-server "$WORK/http"
TOKEN=$(curl -fsS -X POST "$RS_URL/register" -H "authorization: key $KEY" \
  -d '{"email":"soak@example.com","password":"soak-password-123"}' | sed -n 's/.*"token":"\([^"]*\)".*/\1/p')
rss() { awk '/VmRSS/ {print $2}' "/proc/$RS_PID/status"; }
echo "server RSS before: $(rss) KiB"
( for m in $(seq "$MINUTES"); do sleep 60; echo "minute $m: server RSS $(rss) KiB"; done ) &
WATCH=$!
out=$(PREFIX=/soak wrk -t1 -c"$HTTP_CLIENTS" -d"${MINUTES}m" --timeout 10s --latency -s bench/wrk/mixed.lua \
  -H "authorization: key $KEY" -H "x-authorization: $TOKEN" "$RS_URL")
echo "$out"
wait "$WATCH" 2>/dev/null || true
if grep -qE 'Non-2xx|Socket errors' <<<"$out"; then
  echo "the HTTP soak had failed answers or socket errors" >&2; exit 1
fi
