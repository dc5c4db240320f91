#!/usr/bin/env bash
# Storage at the sizes apps reach, side by side with PocketBase: the same posts grow
# to each size in SIZES on both servers, and at each size the reads apps run most are
# timed: the latest 30, "my" latest 30, the latest 30 with their authors loaded, an
# equality filter on a declared property with and without an index, and a count. At
# the largest size, creates too. Every figure is taken twice: the servers pinned to
# core 0 with the load generator on core 1, and both unpinned, sharing both cores;
# the servers' CPU use during each run is recorded (get by id too, at each size, for
# how each server uses the second core). Writes bench/storage.jsonl and
# bench/storage.svg under OUT and the section "Storage at scale" of OUT/BENCHMARKS.md.
#
#   bash bench/storage.sh                      # 1k, 10k, 100k and 1M posts, about 25 minutes
#   SMOKE=1 OUT=/tmp/b bash bench/storage.sh   # tiny sizes, debug build: checks the harness works
#
# No index is declared on either side but the one on `k` (the same on both).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
# shellcheck source=bench/lib.sh
source bench/lib.sh

if [[ -n ${SMOKE:-} ]]; then
  OUT=${OUT:-$(mktemp -d)}
  SIZES=${SIZES:-"300 2000"}; DURATION=${DURATION:-1}; PROFILE=${PROFILE:-debug}
else
  OUT=${OUT:-$ROOT}
  SIZES=${SIZES:-"1000 10000 100000 1000000"}; DURATION=${DURATION:-5}; PROFILE=${PROFILE:-release}
fi
CONNS=${CONNS:-10}               # reads: PocketBase's slowest must finish within a run
WRITE_CONNS=${WRITE_CONNS:-50}   # creates: as bench/run.sh, so writes can share commits
KEY=bench-key-0123456789
ADMIN=bench-admin-key-0123456789
WORK=$(mktemp -d)
RESULTS=$WORK/storage.jsonl
RS_PID=; PB_PID=
trap '[[ -n $RS_PID ]] && kill "$RS_PID" 2>/dev/null; [[ -n $PB_PID ]] && kill "$PB_PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"' EXIT
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
step() { echo "== $*" >&2; }

step "set-up: PocketBase $PB_VERSION, the $PROFILE build"
command -v wrk >/dev/null && command -v jq >/dev/null || {
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk jq >/dev/null; }
install_pocketbase
if [[ -z ${SKIP_BUILD:-} ]]; then
  if [[ $PROFILE == release ]]; then
    cargo build --release --quiet -p reference-server --bin rucksack-server
  else
    cargo build --quiet -p reference-server --bin rucksack-server
  fi
fi
BIN=$ROOT/target/$PROFILE/rucksack-server
PINNED=("${SERVER_CPU[@]}")
PB_PORT=${PB_PORT:-8093}

# servers pinned|unpinned: (re)starts both servers on their data, pinned to core 0 or not.
servers() {
  [[ -n $RS_PID ]] && { kill "$RS_PID"; wait "$RS_PID" 2>/dev/null || true; }
  [[ -n $PB_PID ]] && { kill "$PB_PID"; wait "$PB_PID" 2>/dev/null || true; }
  if [[ $1 == pinned ]]; then SERVER_CPU=("${PINNED[@]}"); else SERVER_CPU=(); fi
  start_rucksack "$BIN" "$WORK/rs" --auth-rate-per-ip 1000000000 --auth-rate-per-email 1000000000
  start_pocketbase "$WORK/pb" "$PB_PORT"
}
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# settle PID: waits (up to a minute) until the server has finished the requests
# wrk abandoned, so they do not take the core from the next measurement.
settle() {
  local a b
  for _ in $(seq 120); do
    a=$(ticks "$1"); sleep 0.5; b=$(ticks "$1")
    (( b - a <= 2 )) && return
  done
}

# timed SIZE SETUP NAME SERVER PID wrk-args...: one warm-up second, then DURATION
# seconds of wrk; requests/s, p50, p99 and the server's CPU use as one result line.
timed() {
  local size=$1 setup=$2 name=$3 server=$4 pid=$5 load=() out before after conns=${TCONNS:-$CONNS}
  shift 5
  [[ $setup == pinned ]] && load=("${LOAD_CPU[@]}")
  settle "$RS_PID"; settle "$PB_PID"
  "${load[@]}" wrk -t1 -c"$conns" -d1s --timeout 30s "$@" >/dev/null
  settle "$pid"
  before=$(ticks "$pid")
  out=$("${load[@]}" wrk -t1 -c"$conns" -d"${DURATION}s" --timeout 30s --latency "$@")
  after=$(ticks "$pid")
  if grep -qE 'Non-2xx|Socket errors' <<<"$out"; then
    echo "$server, $name at $size: failed answers or socket errors:" >&2; echo "$out" >&2; exit 1
  fi
  jq -cn --argjson size "$size" --arg setup "$setup" --arg name "$name" --arg server "$server" \
    --argjson rps "$(awk -v d="$DURATION" '/requests in/ {printf "%.2f", $1 / d}' <<<"$out")" \
    --argjson p50 "$(to_ms "$(awk '$1 == "50%" {print $2}' <<<"$out")")" \
    --argjson p99 "$(to_ms "$(awk '$1 == "99%" {print $2}' <<<"$out")")" \
    --argjson cpu "$(awk -v t=$(( after - before )) -v hz="$(getconf CLK_TCK)" -v d="$DURATION" 'BEGIN {printf "%.0f", t / hz / d * 100}')" \
    --argjson conns "$conns" \
    '{section: "storage", size: $size, setup: $setup, name: $name, server: $server, rps: $rps, p50_ms: $p50, p99_ms: $p99, cpu_pct: $cpu, conns: $conns}' >>"$RESULTS"
}
to_ms() { awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n += 0; else if (v ~ /s$/) n *= 1000; print n }'; }
uri() { jq -rn --arg v "$1" '$v | @uri'; }

step "servers: the same collections on both"
mkdir -p "$WORK/pb"
servers pinned
PUBLIC='"listRule":"","viewRule":"","createRule":"","updateRule":"","deleteRule":""'
pb_collection '{"name":"authors","type":"base","fields":[{"name":"name","type":"text"}],'"$PUBLIC"'}'
AUTHORS_ID=$(curl -fsS "$PB_URL/api/collections/authors" -H "Authorization: $PB_TOKEN" | jq -r .id)
pb_collection '{"name":"posts","type":"base","fields":[{"name":"text","type":"text"},{"name":"n","type":"number"},
  {"name":"k","type":"number"},{"name":"j","type":"number"},{"name":"owner","type":"text"},
  {"name":"author","type":"relation","collectionId":"'"$AUTHORS_ID"'","maxSelect":1},
  {"name":"created","type":"autodate","onCreate":true,"onUpdate":false},
  {"name":"updated","type":"autodate","onCreate":true,"onUpdate":true}],
  "indexes":["CREATE INDEX idx_posts_k ON posts (k)"],'"$PUBLIC"'}'
RULES='"rules":{"read":"public","create":"public","update":"public","delete":"public"}'
curl -fsS -X PUT "$RS_URL/collections/authors" -H "authorization: key $ADMIN" -d "{$RULES}" >/dev/null
curl -fsS -X PUT "$RS_URL/collections/posts" -H "authorization: key $ADMIN" -d "{$RULES,
  \"properties\": {\"text\": {\"type\": \"String\"}, \"n\": {\"type\": \"Number\"}, \"k\": {\"type\": \"Number\"},
                   \"j\": {\"type\": \"Number\"}, \"author\": {\"type\": \"String\"}},
  \"indexes\": [[\"k\"]]}" >/dev/null
RS_H=(-H "authorization: key $KEY")
for u in $(seq 0 9); do
  curl -fsS -X POST "$RS_URL/register" "${RS_H[@]}" -d "{\"email\":\"u$u@example.com\",\"password\":\"storage-bench-password\"}" \
    | jq -r '"\(.id) \(.token)"'
done >"$WORK/users"
read -r ME TOKEN < "$WORK/users"
seq 0 99 | jq -sc 'map({name: "author \(.)"})' | curl -fsS -X POST "$RS_URL/authors" "${RS_H[@]}" --data-binary @- \
  | jq -r '.[]._id' >"$WORK/rs.authors"
python3 - "$WORK/pb/data.db" "$WORK/pb.authors" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], timeout=60)
ids = [f"a{i:014d}" for i in range(100)]
db.executemany("INSERT INTO authors (id, name) VALUES (?, ?)", [(a, f"author {i}") for i, a in enumerate(ids)])
db.commit()
open(sys.argv[2], "w").write("\n".join(ids) + "\n")
PY

PB_LIST="/api/collections/posts/records"
declare -A RS_Q PB_Q
RS_Q[latest 30]="sortBy=$(uri 'createdAt desc')&pageSize=30"
PB_Q[latest 30]="sort=-created&perPage=30&skipTotal=1"
RS_Q[my latest 30]="where=$(uri 'userId = @me')&sortBy=$(uri 'createdAt desc')&pageSize=30"
PB_Q[my latest 30]="filter=$(uri "owner='$ME'")&sort=-created&perPage=30&skipTotal=1"
RS_Q[latest 30 with authors]="sortBy=$(uri 'createdAt desc')&pageSize=30&load=$(uri 'writer=author:authors')"
PB_Q[latest 30 with authors]="sort=-created&perPage=30&skipTotal=1&expand=author"
RS_Q[equality, index]="where=$(uri 'k = 7')&pageSize=30"
PB_Q[equality, index]="filter=$(uri 'k=7')&perPage=30&skipTotal=1"
RS_Q[equality, no index]="where=$(uri 'j = 7')&pageSize=30"
PB_Q[equality, no index]="filter=$(uri 'j=7')&perPage=30&skipTotal=1"
RS_Q[count]="count"
PB_Q[count]="perPage=1&fields=id"
READS=("get by id" "latest 30" "my latest 30" "latest 30 with authors" "equality, index" "equality, no index" "count")

# same NAME SIZE: both servers must give the same answer before it is timed.
same() {
  local name=$1 size=$2 rs pb
  if [[ $name == "get by id" ]]; then
    curl -fsS "$RS_URL/posts/$(head -1 "$WORK/rs.ids")" "${RS_H[@]}" >/dev/null
    curl -fsS "$PB_URL$PB_LIST/$(head -1 "$WORK/pb.ids")" >/dev/null
    return
  fi
  rs=$(curl -fsS "$RS_URL/posts?${RS_Q[$name]}" "${RS_H[@]}" -H "x-authorization: $TOKEN")
  pb=$(curl -fsS "$PB_URL$PB_LIST?${PB_Q[$name]}")
  case $name in
    count) pb=$(jq .totalItems <<<"$pb") ;;
    "latest 30 with authors")
      rs=$(jq -c '[.[] | [.n, .writer.name]]' <<<"$rs"); pb=$(jq -c '[.items[] | [.n, .expand.author.name]]' <<<"$pb") ;;
    equality*) rs=$(jq -c '[.[].n] | sort' <<<"$rs"); pb=$(jq -c '[.items[].n] | sort' <<<"$pb") ;;
    *) rs=$(jq -c '[.[].n]' <<<"$rs"); pb=$(jq -c '[.items[].n]' <<<"$pb") ;;
  esac
  [[ $rs == "$pb" && $rs != "[]" && $rs != null ]] || { echo "$name at $size: the servers differ: $rs vs $pb" >&2; exit 1; }
}

FROM=0
for SIZE in $SIZES; do
  step "$SIZE posts: seeding $(( SIZE - FROM ))"
  servers pinned
  python3 bench/storage_seed.py "$FROM" "$SIZE" "$WORK" "$WORK/pb/data.db" "$RS_URL" "$KEY"
  FROM=$SIZE
  for setup in pinned unpinned; do
    [[ $setup == unpinned ]] && servers unpinned
    step "$SIZE posts, $setup: wrk -t1 -c$CONNS -d${DURATION}s"
    for name in "${READS[@]}"; do
      same "$name" "$SIZE"
      if [[ $name == "get by id" ]]; then
        IDS=$WORK/rs.ids PREFIX=/posts/ timed "$SIZE" "$setup" "$name" rucksack "$RS_PID" -s bench/wrk/get.lua \
          "${RS_H[@]}" -H "x-authorization: $TOKEN" "$RS_URL"
        IDS=$WORK/pb.ids PREFIX=$PB_LIST/ timed "$SIZE" "$setup" "$name" pocketbase "$PB_PID" -s bench/wrk/get.lua "$PB_URL"
        continue
      fi
      timed "$SIZE" "$setup" "$name" rucksack "$RS_PID" "${RS_H[@]}" -H "x-authorization: $TOKEN" "$RS_URL/posts?${RS_Q[$name]}"
      timed "$SIZE" "$setup" "$name" pocketbase "$PB_PID" "$PB_URL$PB_LIST?${PB_Q[$name]}"
    done
  done
done
for setup in unpinned pinned; do   # the last size's servers are unpinned
  [[ $setup == pinned ]] && servers pinned
  TCONNS=$WRITE_CONNS timed "$SIZE" "$setup" "create (durable)" rucksack "$RS_PID" -s bench/wrk/create.lua "${RS_H[@]}" -H "x-authorization: $TOKEN" "$RS_URL/posts"
  TCONNS=$WRITE_CONNS timed "$SIZE" "$setup" "create (durable)" pocketbase "$PB_PID" -s bench/wrk/create.lua "$PB_URL$PB_LIST"
done

COMMAND="bash bench/storage.sh"
[[ -n ${SMOKE:-} ]] && COMMAND="SMOKE=1 bash bench/storage.sh"
jq -cn --arg cmd "$COMMAND" --arg rev "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" --arg profile "$PROFILE" \
  --arg date "$(date -u +%Y-%m-%d)" \
  --arg settings "wrk -t1 -d${DURATION}s after a 1-s warm-up, $CONNS connections for reads and $WRITE_CONNS for creates" \
  --argjson duration "$DURATION" \
  '{section: "meta", name: "storage", command: $cmd, revision: $rev, profile: $profile, date: $date, settings: $settings, duration: $duration}' >>"$RESULTS"
mkdir -p "$OUT/bench"
cp "$RESULTS" "$OUT/bench/storage.jsonl"
python3 bench/storage_report.py "$RESULTS" "$OUT/BENCHMARKS.md" "$OUT/bench/storage.svg"
step "written: the storage section of $OUT/BENCHMARKS.md, $OUT/bench/storage.svg, $OUT/bench/storage.jsonl"
