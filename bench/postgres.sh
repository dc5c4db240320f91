#!/usr/bin/env bash
# Rucksack on PostgreSQL beside Rucksack on SQLite, on this machine, in one run:
# get by id, durable create and the latest page of 30, with 1, 2 and 3 server
# processes sharing one PostgreSQL database (each process gets its own wrk; the
# figures are their sums). Nothing is pinned: PostgreSQL needs the same cores.
#
#   bash bench/postgres.sh                 # about 3 minutes
#   DURATION=1 SEED=200 bash bench/postgres.sh   # a quick look
#
# Prints a Markdown table; POSTGRES names the database (a schema of its own is
# made and dropped).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-5}
SEED=${SEED:-10000}
CONNS=${CONNS:-50}
POSTGRES=${POSTGRES:-postgres://postgres@127.0.0.1:5432/test}
KEY=bench-key-0123456789
ADMIN=bench-admin-key-0123456789
BIN=target/release/rucksack-server
cargo build --release --quiet -p reference-server --bin rucksack-server
WORK=$(mktemp -d)
SCHEMA=rk_bench_$$
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  PGOPTIONS="-c client_min_messages=warning" psql "$POSTGRES" -qc "DROP SCHEMA IF EXISTS $SCHEMA CASCADE" || true
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
echo "Seed: $SEED messages; wrk, $CONNS connections in all, ${DURATION}s per figure."
echo
echo "| engine | get by id /s | create (durable) /s | latest 30 /s |"
echo "|---|---:|---:|---:|"
serve "$WORK/sqlite"
measure "SQLite, 1 process"
stop_all
for n in 1 2 3; do
  PGOPTIONS="-c client_min_messages=warning" psql "$POSTGRES" -qc "DROP SCHEMA IF EXISTS $SCHEMA CASCADE; CREATE SCHEMA $SCHEMA"
  URLS=()
  for i in $(seq "$n"); do serve "$WORK/pg$n.$i" --database "$PG_URL"; done
  measure "PostgreSQL, $n process(es)"
  stop_all
done
