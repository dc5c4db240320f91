#!/usr/bin/env bash
# Rucksack on PostgreSQL beside Rucksack on SQLite and beside Parse Server on
# the same PostgreSQL, on this machine, in one run: get by id, durable create
# and the latest page of 30, with 1, 2 and 3 server processes sharing one
# PostgreSQL database and one NATS bus (each process gets its own wrk; the
# figures are their sums); then realtime fan-out to SUBSCRIBERS sockets spread
# over the 3 processes (writes through one) beside one SQLite process. Nothing
# is pinned: PostgreSQL, NATS and Parse need the same cores.
#
#   bash bench/postgres.sh                 # about 5 minutes (Parse's npm install once)
#   DURATION=1 SEED=200 PARSE=none bash bench/postgres.sh   # a quick look
#   PARTS="parse fanout" bash bench/postgres.sh          # some parts only
#
# Prints Markdown tables; POSTGRES names the database (a schema of its own is
# made and dropped, and a database for Parse), NATS the bus (a stream of its
# own, deleted).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-5}
SEED=${SEED:-10000}
CONNS=${CONNS:-50}
POSTGRES=${POSTGRES:-postgres://postgres@127.0.0.1:5432/test}
NATS=${NATS:-127.0.0.1:4222}
PARSE=${PARSE:-parse}
PARSE_VERSION=${PARSE_VERSION:-8.6.94}
SUBSCRIBERS=${SUBSCRIBERS:-1000}
# Which parts run: rucksack (the request table), parse (its row), fanout.
PARTS=" ${PARTS:-rucksack parse fanout} "
KEY=bench-key-0123456789
ADMIN=bench-admin-key-0123456789
BIN=target/release/rucksack-server
cargo build --release --quiet -p reference-server -p e2e --bin rucksack-server --bin fanout
WORK=$(mktemp -d)
SCHEMA=rk_bench_$$
PARSE_DB=rk_bench_parse_$$
BUS="nats://$NATS?stream=$SCHEMA"
PIDS=()
# drop_streams NAME...: deletes JetStream streams (NATS's text protocol).
drop_streams() {
  python3 - "$NATS" "$@" <<'PY' || true
import socket, sys
host, port = sys.argv[1].split(':')
s = socket.create_connection((host, int(port)), timeout=2)
ask = 'CONNECT {"verbose":false}\r\nSUB _INBOX.rk_drop 1\r\n'
for name in sys.argv[2:]:
    ask += f'PUB $JS.API.STREAM.DELETE.{name} _INBOX.rk_drop 0\r\n\r\n'
s.sendall(ask.encode())
seen = b''
try:
    while seen.count(b'MSG _INBOX.rk_drop') < len(sys.argv) - 2:
        chunk = s.recv(4096)
        if not chunk:
            break
        seen += chunk
except OSError:
    pass
PY
}
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  PGOPTIONS="-c client_min_messages=warning" psql "$POSTGRES" -qc "DROP SCHEMA IF EXISTS $SCHEMA CASCADE" || true
  PGOPTIONS="-c client_min_messages=warning" psql "$POSTGRES" -qc "DROP DATABASE IF EXISTS $PARSE_DB" || true
  drop_streams "$SCHEMA" "${SCHEMA}_limits"
  rm -rf "$WORK"
}
trap cleanup EXIT
sep='?'; [[ $POSTGRES == *\?* ]] && sep='&'
PG_URL="$POSTGRES${sep}options=-c%20search_path%3D$SCHEMA"

# serve DIR [flags]: starts a server; appends its URL to URLS.
serve() {
  local dir=$1; shift
  mkdir -p "$dir"
  "$BIN" --listen 127.0.0.1:0 --data-dir "$dir" --api-key "$KEY" --admin-key "$ADMIN" "$@" \
    >"$dir.out" 2>"$dir.err" &
  PIDS+=("$!")
  for _ in $(seq 200); do grep -q 'listening on' "$dir.out" 2>/dev/null && break; sleep 0.05; done
  local url; url=$(sed -n 's/.*listening on //p' "$dir.out")
  [[ -n $url ]] || { echo "the server did not start: $(cat "$dir.err")" >&2; exit 1; }
  URLS+=("$url")
}

stop_all() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  PIDS=()
}

# load NAME URL-SUFFIX [wrk args]: one wrk per server at once; prints the summed requests/s.
load() {
  local suffix=$1; shift
  local i=0 outs=() loaders=()
  for u in "${URLS[@]}"; do
    wrk -t1 -c"$(( CONNS / ${#URLS[@]} ))" -d"${DURATION}s" -H "authorization: key $KEY" "$@" "$u$suffix" \
      >"$WORK/wrk.$i" 2>&1 &
    loaders+=("$!"); outs+=("$WORK/wrk.$i"); i=$((i + 1))
  done
  wait "${loaders[@]}"
  local total=0
  for f in "${outs[@]}"; do
    local r; r=$(awk '/Requests\/sec/ {print $2}' "$f")
    [[ -n $r ]] || { cat "$f" >&2; exit 1; }
    total=$(python3 -c "print($total + $r)")
  done
  printf '%.0f' "$total"
}

measure() { # ENGINE-LABEL
  local label=$1 ids
  curl -fsS -X PUT "${URLS[0]}/collections/messages" -H "authorization: key $ADMIN" \
    -d '{"rules":{"read":"public","create":"public","update":"public","delete":"public"}}' >/dev/null
  python3 -c "
import json
for start in range(0, $SEED, 1000):
    print(json.dumps([{'text': f'seed message {i} lorem ipsum dolor sit amet'} for i in range(start, min(start + 1000, $SEED))]))
" | while read -r chunk; do
    curl -fsS -X POST "${URLS[0]}/messages" -H "authorization: key $KEY" --data-binary "$chunk" | jq -r '.[]._id'
  done >"$WORK/ids"
  ids=$(wc -l <"$WORK/ids")
  [[ $ids == "$SEED" ]] || { echo "seeding failed ($ids of $SEED)" >&2; exit 1; }
  wrk -t1 -c8 -d1s -H "authorization: key $KEY" "${URLS[0]}/messages?pageSize=1" >/dev/null
  local get create page
  get=$(IDS=$WORK/ids PREFIX=/messages/ load "" -s bench/wrk/get.lua)
  create=$(load /messages -s bench/wrk/create.lua)
  page=$(load "/messages?sortBy=createdAt%20desc&pageSize=30")
  echo "| $label | $get | $create | $page |"
}

URLS=()
echo "Seed: $SEED messages; wrk, $CONNS connections in all, ${DURATION}s per figure; $(nproc) cores, nothing pinned."
echo
echo "| engine | get by id /s | create (durable) /s | latest 30 /s |"
echo "|---|---:|---:|---:|"
if [[ $PARTS == *" rucksack "* ]]; then
  serve "$WORK/sqlite"
  measure "SQLite, 1 process"
  stop_all
  for n in 1 2 3; do
    PGOPTIONS="-c client_min_messages=warning" psql "$POSTGRES" -qc "DROP SCHEMA IF EXISTS $SCHEMA CASCADE; CREATE SCHEMA $SCHEMA"
    URLS=()
    drop_streams "$SCHEMA" "${SCHEMA}_limits"
    for i in $(seq "$n"); do serve "$WORK/pg$n.$i" --database "$PG_URL" --bus "$BUS"; done
    measure "PostgreSQL + NATS, $n process(es)"
    stop_all
  done
fi

if [[ $PARSE != none && $PARTS == *" parse "* ]]; then
  # Parse Server from npm, cached; its data in a database of its own on the same
  # PostgreSQL server.
  PARSE_DIR=${PARSE_DIR:-$HOME/.cache/rucksack-bench/parse-$PARSE_VERSION}
  if [[ ! -x $PARSE_DIR/node_modules/.bin/parse-server ]]; then
    mkdir -p "$PARSE_DIR"
    (cd "$PARSE_DIR" && npm init -y >/dev/null && npm install --no-audit --no-fund --loglevel=error "parse-server@$PARSE_VERSION" >/dev/null)
  fi
  PGOPTIONS="-c client_min_messages=warning" psql "$POSTGRES" -qc "DROP DATABASE IF EXISTS $PARSE_DB" -c "CREATE DATABASE $PARSE_DB"
  PARSE_URI="${POSTGRES%/*}/$PARSE_DB"
  PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  # From the work directory: Parse writes its log files where it runs.
  (cd "$WORK" && exec "$PARSE_DIR/node_modules/.bin/parse-server" --appId bench --masterKey bench-master-key \
    --databaseURI "$PARSE_URI" --port "$PORT" --mountPath /parse --serverURL "http://127.0.0.1:$PORT/parse") \
    >"$WORK/parse.log" 2>&1 &
  PIDS+=("$!")
  P="http://127.0.0.1:$PORT/parse"
  for _ in $(seq 200); do curl -fsS "$P/health" >/dev/null 2>&1 && break; sleep 0.1; done
  PH=(-H "X-Parse-Application-Id: bench" -H "content-type: application/json")
  curl -fsS -X POST "$P/schemas/Message" "${PH[@]}" -H "X-Parse-Master-Key: bench-master-key" \
    -d '{"className":"Message","fields":{"text":{"type":"String"}}}' >/dev/null
  # One create a request, 16 at once (Parse 8.6's /batch fails on class paths).
  python3 - "$P" "$SEED" >"$WORK/ids" <<'PY'
import json, sys, urllib.request
from concurrent.futures import ThreadPoolExecutor
url, seed = sys.argv[1], int(sys.argv[2])
def make(i):
    req = urllib.request.Request(f"{url}/classes/Message", method="POST",
        data=json.dumps({"text": f"seed message {i} lorem ipsum dolor sit amet"}).encode(),
        headers={"X-Parse-Application-Id": "bench", "content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.load(r)["objectId"]
with ThreadPoolExecutor(16) as pool:
    for oid in pool.map(make, range(seed), chunksize=64):
        print(oid)
PY
  ids=$(wc -l <"$WORK/ids")
  [[ $ids == "$SEED" ]] || { echo "seeding Parse failed ($ids of $SEED)" >&2; exit 1; }
  URLS=("$P")
  get=$(IDS=$WORK/ids PREFIX=/parse/classes/Message/ load "" -s bench/wrk/get.lua "${PH[@]}")
  create=$(load /classes/Message -s bench/wrk/create.lua "${PH[@]}")
  page=$(load "/classes/Message?order=-createdAt&limit=30" "${PH[@]}")
  echo "| Parse Server $PARSE_VERSION (Node $(node --version)), 1 process, same PostgreSQL | $get | $create | $page |"
  stop_all
fi

if [[ $PARTS == *" fanout "* ]]; then
  # Realtime fan-out: SUBSCRIBERS sockets, 100 writes at 20/s through the first process.
  echo
  echo "| realtime fan-out | subscribers | p50 | p99 | max | delivered |"
  echo "|---|---:|---:|---:|---:|---|"
  fan() { # LABEL
    python3 -c '
import json, sys
r = json.loads(sys.argv[2])
print("| {} | {subscribers:,} | {p50_ms:.1f} ms | {p99_ms:.1f} ms | {max_ms:.1f} ms | {delivered:,}/{expected:,} |".format(sys.argv[1], **r))' "$1" "$2"
  }
  ulimit -n 65536 2>/dev/null || true
  URLS=()
  serve "$WORK/fan-sqlite" --max-ws $(( SUBSCRIBERS + 100 )) --max-ws-per-ip $(( SUBSCRIBERS + 100 ))
  fan "SQLite, 1 process" "$(target/release/fanout --url "${URLS[0]}" --key "$KEY" --pid "${PIDS[0]}" \
    --subscribers "$SUBSCRIBERS" --writes 100 --rate 20)"
  stop_all
  PGOPTIONS="-c client_min_messages=warning" psql "$POSTGRES" -qc "DROP SCHEMA IF EXISTS $SCHEMA CASCADE; CREATE SCHEMA $SCHEMA"
  drop_streams "$SCHEMA" "${SCHEMA}_limits"
  URLS=()
  for i in 1 2 3; do
    serve "$WORK/fan-pg.$i" --database "$PG_URL" --bus "$BUS" --max-ws $(( SUBSCRIBERS + 100 )) --max-ws-per-ip $(( SUBSCRIBERS + 100 ))
  done
  fan "PostgreSQL + NATS, 3 processes (sockets spread, writes through one)" \
    "$(target/release/fanout --url "${URLS[0]}" --spread "${URLS[1]},${URLS[2]}" --key "$KEY" --pid "${PIDS[0]}" \
    --subscribers "$SUBSCRIBERS" --writes 100 --rate 20)"
  stop_all
fi
