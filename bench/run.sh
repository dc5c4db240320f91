#!/usr/bin/env bash
# The benchmark harness: Rucksack side by side with PocketBase on this machine, in
# one run, with the machine's ceiling for small JSON answers. Measures the HTTP data
# API (create, get by id, a filtered sorted page of 20 over ITEMS records with and
# without an index, patch, delete), sign-in, realtime fan-out, file upload and
# download, and the client side (package sizes, the native SDK's per-request cost).
# Writes BENCHMARKS.md and bench/chart.svg under OUT (the repository by default).
#
#   bash bench/run.sh                      # the full run, about 15 minutes
#   SMOKE=1 OUT=/tmp/b bash bench/run.sh   # tiny sizes, debug build: checks the harness works
#
# Servers run on core 0, load generators on core 1; every HTTP figure is the median
# of RUNS wrk runs of DURATION seconds after a warm-up run of WARMUP seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
# shellcheck source=scripts/setup.sh
source scripts/setup.sh
# shellcheck source=bench/lib.sh
source bench/lib.sh

if [[ -n ${SMOKE:-} ]]; then
  OUT=${OUT:-$(mktemp -d)}
  ITEMS=${ITEMS:-2000}; SEED=${SEED:-200}; DELETES=${DELETES:-20000}; DURATION=${DURATION:-1}; RUNS=${RUNS:-1}
  SUBSCRIBERS=${SUBSCRIBERS:-20}; WRITES=${WRITES:-10}; SMALL_FILES=${SMALL_FILES:-3}; BIG_MB=${BIG_MB:-5}
  OVERHEAD_REQUESTS=${OVERHEAD_REQUESTS:-200}; PROFILE=${PROFILE:-debug}
else
  OUT=${OUT:-$ROOT}
  ITEMS=${ITEMS:-100000}; SEED=${SEED:-1000}; DELETES=${DELETES:-800000}; DURATION=${DURATION:-5}; RUNS=${RUNS:-3}
  SUBSCRIBERS=${SUBSCRIBERS:-1000}; WRITES=${WRITES:-100}; SMALL_FILES=${SMALL_FILES:-50}; BIG_MB=${BIG_MB:-50}
  OVERHEAD_REQUESTS=${OVERHEAD_REQUESTS:-2000}; PROFILE=${PROFILE:-release}
fi
CONNS=${CONNS:-50}
WARMUP=${WARMUP:-$(( DURATION < 2 ? DURATION : 2 ))}
LOGIN_CONNS=${LOGIN_CONNS:-8}
# A sign-in takes tens of milliseconds of hashing, and with 8 at once on two cores
# some take longer than a second, so a one-second window can end before any of
# them does: sign-ins are measured over at least 3 seconds.
LOGIN_DURATION=${LOGIN_DURATION:-$(( DURATION < 3 ? 3 : DURATION ))}
RATE=${RATE:-20}
KEY=bench-key-0123456789
ADMIN=bench-admin-key-0123456789
WORK=$(mktemp -d)
RESULTS=$WORK/results.jsonl
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

step "set-up: tools, PocketBase $PB_VERSION, $PROFILE build, the npm package"
[[ -n ${SKIP_SETUP:-} ]] || setup
install_pocketbase
if [[ $PROFILE == release ]]; then
  cargo build --release --quiet -p reference-server -p e2e --bin rucksack-server --bin fanout --bin ceiling --bin sdk-overhead
else
  cargo build --quiet -p reference-server -p e2e --bin rucksack-server --bin fanout --bin ceiling --bin sdk-overhead
fi
BIN=$ROOT/target/$PROFILE
[[ -n ${SMOKE:-} && -f npm/pkg/rucksack_bg.wasm ]] || npm run build --prefix npm --silent

result() { echo "$1" >>"$RESULTS"; }
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
to_ms() { # a wrk latency such as 812.00us, 1.53ms or 2.01s -> milliseconds
  awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n += 0; else if (v ~ /s$/) n *= 1000; print n }'
}

# bench_http SECTION NAME SERVER CONNS wrk-args...: RUNS runs of wrk, the medians of
# requests/s, p50 and p99 as one result line. Fails on any non-2xx answer or socket
# error. For deletes (SKIP set), each run starts after the ids earlier runs used.
bench_http() {
  local section=$1 name=$2 server=$3 conns=$4 out rps=() p50=() p99=() done_ run
  local duration=${RUN_SECONDS:-$DURATION}
  shift 4
  # Run 0 is a warm-up, not counted: caches filled, and the first writes after
  # seeding pay for checkpointing the seeded records, as any write would.
  for run in $(seq 0 "$RUNS"); do
    out=$("${LOAD_CPU[@]}" wrk -t1 -c"$conns" -d"$(( run == 0 ? WARMUP : duration ))s" --timeout 30s --latency "$@")
    if grep -qE 'Non-2xx|Socket errors' <<<"$out"; then
      echo "$server, $name: failed answers or socket errors:" >&2; echo "$out" >&2; exit 1
    fi
    if [[ -n ${SKIP:-} ]]; then
      done_=$(awk '/requests in/ {print $1}' <<<"$out")
      SKIP=$(( SKIP + done_ + 2 * conns ))   # requests in flight when wrk stopped were served too
    fi
    (( run == 0 )) && continue
    rps+=("$(awk '/Requests\/sec/ {print $2}' <<<"$out")")
    if ! awk '/Requests\/sec/ {exit !($2 > 0)}' <<<"$out"; then
      echo "$server, $name: no request completed in ${duration} s:" >&2; echo "$out" >&2
    fi
    p50+=("$(to_ms "$(awk '$1 == "50%" {print $2}' <<<"$out")")")
    p99+=("$(to_ms "$(awk '$1 == "99%" {print $2}' <<<"$out")")")
  done
  result "{\"section\":\"$section\",\"name\":\"$name\",\"server\":\"$server\",\"rps\":$(median "${rps[@]}"),\"p50_ms\":$(median "${p50[@]}"),\"p99_ms\":$(median "${p99[@]}"),\"conns\":$conns}"
}

# --- realtime (fresh servers of its own) -----------------------------------------
step "realtime: $SUBSCRIBERS subscribers, $WRITES writes at $RATE/s"
SKIP_BUILD=1 PROFILE=$PROFILE SUBSCRIBERS=$SUBSCRIBERS WRITES=$WRITES RATE=$RATE RESULTS=$RESULTS \
  bash bench/realtime.sh

# --- the ceiling ----------------------------------------------------------------
step "the ceiling: a minimal hyper server"
"${SERVER_CPU[@]}" "$BIN/ceiling" --listen 127.0.0.1:0 >"$WORK/ceiling.out" &
CEILING_PID=$!
PIDS+=("$CEILING_PID")
for _ in $(seq 100); do grep -q 'listening on' "$WORK/ceiling.out" && break; sleep 0.05; done
CEILING_URL=$(sed -n 's/.*listening on //p' "$WORK/ceiling.out")
"${LOAD_CPU[@]}" wrk -t1 -c"$CONNS" -d1s "$CEILING_URL/" >/dev/null
bench_http http "ceiling" hyper "$CONNS" "$CEILING_URL/"
kill "$CEILING_PID"

# --- the two servers, the same collections and data -------------------------------
step "servers: the same collections, rules and data on both"
start_pocketbase "$WORK/pb" "${PB_PORT:-8091}"
PIDS+=("$PB_PID")
PUBLIC='"listRule":"","viewRule":"","createRule":"","updateRule":"","deleteRule":""'
pb_collection '{"name":"messages","type":"base","fields":[{"name":"text","type":"text","max":10000},
  {"name":"created","type":"autodate","onCreate":true,"onUpdate":false},
  {"name":"updated","type":"autodate","onCreate":true,"onUpdate":true}],'"$PUBLIC"'}'
pb_collection '{"name":"trash","type":"base","fields":[{"name":"text","type":"text","max":10000},
  {"name":"created","type":"autodate","onCreate":true,"onUpdate":false},
  {"name":"updated","type":"autodate","onCreate":true,"onUpdate":true}],'"$PUBLIC"'}'
pb_collection '{"name":"items","type":"base","fields":[{"name":"n","type":"number"},{"name":"category","type":"text"},
  {"name":"score","type":"number"},{"name":"title","type":"text"},
  {"name":"created","type":"autodate","onCreate":true,"onUpdate":false},
  {"name":"updated","type":"autodate","onCreate":true,"onUpdate":true}],'"$PUBLIC"'}'
pb_collection '{"name":"files","type":"base","fields":[{"name":"file","type":"file","maxSelect":1,
  "maxSize":'$(( (BIG_MB + 1) * 1024 * 1024 ))'}],'"$PUBLIC"'}'

start_rucksack "$BIN/rucksack-server" "$WORK/rs" --auth-rate-per-ip 1000000000 --auth-rate-per-email 1000000000 \
  --max-upload $(( (BIG_MB + 1) * 1024 * 1024 ))
PIDS+=("$RS_PID")
RULES='"rules":{"read":"public","create":"public","update":"public","delete":"public"}'
for c in messages trash items; do
  curl -fsS -X PUT "$RS_URL/collections/$c" -H "authorization: key $ADMIN" -d "{$RULES}" >/dev/null
done
RS_H=(-H "authorization: key $KEY")

# The same generated records go to both: through Rucksack's bulk insert, and straight
# into PocketBase's SQLite file (its API would take minutes for 100,000).
python3 - "$SEED" "$DELETES" "$ITEMS" "$WORK" <<'PY'
import json, random, secrets, sys
seed, deletes, items, work = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
random.seed(7)
def write(name, rows):
    with open(f"{work}/{name}.jsonl", "w") as f:
        for r in rows: f.write(json.dumps(r) + "\n")
write("messages", ({"text": f"seed message {i} lorem ipsum dolor sit amet"} for i in range(seed)))
write("trash", ({"text": f"doomed message {i} lorem ipsum dolor sit amet"} for i in range(deletes)))
write("items", ({"n": i, "category": f"c{random.randrange(20)}", "score": random.randrange(100000),
                 "title": f"item {i}"} for i in range(items)))
PY
python3 - "$WORK" "$WORK/pb/data.db" <<'PY'
import json, secrets, sqlite3, sys
work, path = sys.argv[1], sys.argv[2]
db = sqlite3.connect(path, timeout=30)
alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
now = "2026-01-01 00:00:00.000Z"
for name in ("messages", "trash", "items"):
    rows, ids = [], []
    for line in open(f"{work}/{name}.jsonl"):
        r = json.loads(line)
        pid = "".join(secrets.choice(alphabet) for _ in range(15))
        ids.append(pid)
        rows.append((pid, *r.values(), now, now))
    cols = ", ".join(["id", *json.loads(open(f"{work}/{name}.jsonl").readline()).keys(), "created", "updated"])
    marks = ", ".join("?" * (len(rows[0]) if rows else 1))
    db.executemany(f"INSERT INTO {name} ({cols}) VALUES ({marks})", rows)
    with open(f"{work}/pb.{name}.ids", "w") as f: f.write("\n".join(ids) + "\n")
db.commit()
PY
for c in messages trash items; do
  split -l 1000 "$WORK/$c.jsonl" "$WORK/chunk.$c."
  for f in "$WORK"/chunk."$c".*; do
    jq -s -c . "$f" | curl -fsS -X POST "$RS_URL/$c" "${RS_H[@]}" --data-binary @- | jq -r '.[]._id'
  done >"$WORK/rs.$c.ids"
  [[ $(wc -l <"$WORK/rs.$c.ids") == $(wc -l <"$WORK/$c.jsonl") ]] || { echo "seeding $c failed" >&2; exit 1; }
done

# --- the HTTP data API --------------------------------------------------------------
step "HTTP data API: wrk -t1 -c$CONNS -d${DURATION}s, median of $RUNS"
"${LOAD_CPU[@]}" wrk -t1 -c"$CONNS" -d1s "$RS_URL/health" >/dev/null   # warm-up
"${LOAD_CPU[@]}" wrk -t1 -c"$CONNS" -d1s "$PB_URL/api/health" >/dev/null
PB_REC=/api/collections
IDS=$WORK/rs.messages.ids PREFIX=/messages/ bench_http http "get by id" rucksack "$CONNS" -s bench/wrk/get.lua "${RS_H[@]}" "$RS_URL"
IDS=$WORK/pb.messages.ids PREFIX=$PB_REC/messages/records/ bench_http http "get by id" pocketbase "$CONNS" -s bench/wrk/get.lua "$PB_URL"
bench_http http "create (durable)" rucksack "$CONNS" -s bench/wrk/create.lua "${RS_H[@]}" "$RS_URL/messages"
bench_http http "create (durable)" pocketbase "$CONNS" -s bench/wrk/create.lua "$PB_URL$PB_REC/messages/records"
IDS=$WORK/rs.messages.ids PREFIX=/messages/ bench_http http "patch" rucksack "$CONNS" -s bench/wrk/patch.lua "${RS_H[@]}" "$RS_URL"
IDS=$WORK/pb.messages.ids PREFIX=$PB_REC/messages/records/ bench_http http "patch" pocketbase "$CONNS" -s bench/wrk/patch.lua "$PB_URL"
SKIP=0 IDS=$WORK/rs.trash.ids PREFIX=/trash/ bench_http http "delete" rucksack "$CONNS" -s bench/wrk/delete.lua "${RS_H[@]}" "$RS_URL"
SKIP=0 IDS=$WORK/pb.trash.ids PREFIX=$PB_REC/trash/records/ bench_http http "delete" pocketbase "$CONNS" -s bench/wrk/delete.lua "$PB_URL"

RS_PAGE="$RS_URL/items?where=category%20%3D%20%22c3%22%20AND%20score%20%3E%3D%2050000&sortBy=score%20desc&pageSize=20"
PB_PAGE="$PB_URL$PB_REC/items/records?filter=(category%3D'c3'%20%26%26%20score%3E%3D50000)&sort=-score&perPage=20&skipTotal=1"
same_page() { # both must answer the same 20 records before the page is timed
  local rs pb
  rs=$(curl -fsS "$RS_PAGE" "${RS_H[@]}" | jq -c '[.[].score]')
  pb=$(curl -fsS "$PB_PAGE" | jq -c '[.items[].score]')
  [[ $rs == "$pb" && $(jq length <<<"$rs") == 20 ]] || { echo "the two pages differ: $rs vs $pb" >&2; exit 1; }
}
same_page
bench_http http "page of 20, no index" rucksack "$CONNS" "${RS_H[@]}" "$RS_PAGE"
bench_http http "page of 20, no index" pocketbase "$CONNS" "$PB_PAGE"
curl -fsS -X PUT "$RS_URL/collections/items" -H "authorization: key $ADMIN" \
  -d "{$RULES, \"indexes\": [[\"category\", \"score\"]]}" >/dev/null
curl -fsS -X PATCH "$PB_URL/api/collections/items" -H "Authorization: $PB_TOKEN" -H 'content-type: application/json' \
  -d '{"indexes": ["CREATE INDEX idx_items_cat_score ON items (category, score)"]}' >/dev/null
same_page
bench_http http "page of 20, index" rucksack "$CONNS" "${RS_H[@]}" "$RS_PAGE"
bench_http http "page of 20, index" pocketbase "$CONNS" "$PB_PAGE"

# --- sign-in ------------------------------------------------------------------------
step "sign-in: wrk -t1 -c$LOGIN_CONNS -d${LOGIN_DURATION}s"
EMAIL=bench@example.com
PASSWORD=benchmark-password
REG=$(curl -fsS -X POST "$RS_URL/register" "${RS_H[@]}" -d "{\"email\":\"$EMAIL\",\"password\":\"$PASSWORD\"}")
RS_TOKEN=$(jq -r .token <<<"$REG")
RS_ME=$(jq -r .id <<<"$REG")
curl -fsS -X POST "$PB_URL$PB_REC/users/records" -H 'content-type: application/json' \
  -d "{\"email\":\"$EMAIL\",\"password\":\"$PASSWORD\",\"passwordConfirm\":\"$PASSWORD\"}" >/dev/null
PB_COST=$(python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("select password from users limit 1").fetchone()[0].split("$")[2])' "$WORK/pb/data.db")
BODY="{\"email\":\"$EMAIL\",\"password\":\"$PASSWORD\"}" RUN_SECONDS=$LOGIN_DURATION \
  bench_http auth "sign-in" rucksack "$LOGIN_CONNS" -s bench/wrk/login.lua "${RS_H[@]}" "$RS_URL/login"
BODY="{\"identity\":\"$EMAIL\",\"password\":\"$PASSWORD\"}" RUN_SECONDS=$LOGIN_DURATION \
  bench_http auth "sign-in" pocketbase "$LOGIN_CONNS" -s bench/wrk/login.lua "$PB_URL$PB_REC/users/auth-with-password"
result "{\"section\":\"meta\",\"name\":\"hash\",\"rucksack\":\"argon2id, 19,456 KiB, 2 iterations, 1 lane (the defaults)\",\"pocketbase\":\"bcrypt, cost $PB_COST (its default)\"}"

# --- files --------------------------------------------------------------------------
step "files: $SMALL_FILES × 1 MiB and $RUNS × $BIG_MB MiB, one connection"
head -c $(( 1024 * 1024 )) /dev/urandom >"$WORK/small.bin"
head -c $(( BIG_MB * 1024 * 1024 )) /dev/urandom >"$WORK/big.bin"
RS_AUTH=(-H "authorization: key $KEY" -H "x-authorization: $RS_TOKEN")
# transfer NAME SERVER DIRECTION MIB: curl's per-transfer times (one process, one
# kept-alive connection, the arguments in $CURL_ARGS) summed into MB/s.
transfer() {
  local times
  times=$("${LOAD_CPU[@]}" curl -fsS "${CURL_ARGS[@]}")
  result "$(awk -v name="$1" -v server="$2" -v dir="$3" -v mib="$4" '
    { t += $1; n++ } END { printf "{\"section\":\"files\",\"name\":\"%s %s\",\"server\":\"%s\",\"mb_s\":%.1f,\"count\":%d}",
      dir, name, server, n * mib * 1.048576 / t, n }' <<<"$times")"
}
files() { # NAME FILE MIB COUNT
  local name=$1 file=$2 mib=$3 count=$4 i slug=${1// /}
  CURL_ARGS=()
  for i in $(seq "$count"); do
    (( i > 1 )) && CURL_ARGS+=(--next)
    CURL_ARGS+=(-fsS -o /dev/null -w '%{time_total}\n' "${RS_AUTH[@]}" -F bucket=bench -F "filename=$slug-$i.bin"
      -F "file=@$file" "$RS_URL/uploads")
  done
  transfer "$name" rucksack upload "$mib"
  CURL_ARGS=()
  for i in $(seq "$count"); do
    (( i > 1 )) && CURL_ARGS+=(--next)
    CURL_ARGS+=(-fsS -o /dev/null -w '%{time_total}\n' "${RS_AUTH[@]}" "$RS_URL/uploads/$RS_ME/$slug-$i.bin")
  done
  transfer "$name" rucksack download "$mib"
  CURL_ARGS=()
  for i in $(seq "$count"); do
    (( i > 1 )) && CURL_ARGS+=(--next)
    CURL_ARGS+=(-fsS -o "$WORK/pb-$slug-$i.json" -w '%{time_total}\n' -F "file=@$file" "$PB_URL$PB_REC/files/records")
  done
  transfer "$name" pocketbase upload "$mib"
  CURL_ARGS=()
  for i in $(seq "$count"); do
    (( i > 1 )) && CURL_ARGS+=(--next)
    CURL_ARGS+=(-fsS -o /dev/null -w '%{time_total}\n' "$PB_URL/api/files/files/$(jq -r '"\(.id)/\(.file)"' "$WORK/pb-$slug-$i.json")")
  done
  transfer "$name" pocketbase download "$mib"
}
files "1 MiB" "$WORK/small.bin" 1 "$SMALL_FILES"
files "$BIG_MB MiB" "$WORK/big.bin" "$BIG_MB" "$RUNS"

# --- client side ----------------------------------------------------------------------
step "client side: package sizes, the native SDK's per-request cost"
size_of() { # SERVER FILES... -> raw and gzip -9 sizes, each file compressed alone
  local raw=0 gz=0 f
  for f in "${@:2}"; do
    raw=$(( raw + $(stat -c %s "$f") ))
    gz=$(( gz + $(gzip -9 -c "$f" | wc -c) ))
  done
  result "{\"section\":\"client\",\"name\":\"package size\",\"server\":\"$1\",\"raw\":$raw,\"gzip\":$gz,\"files\":\"$(for f in "${@:2}"; do basename "$f"; done | paste -sd' ')\"}"
}
# As npm/scripts/build.mjs counts it: what a page fetches through /sdk.js (the
# loader, one module holding index.js, the glue and the snippets, the wasm).
size_of rucksack npm/pkg/sdk.min.js npm/pkg/index.min.js npm/pkg/rucksack_bg.wasm
(cd "$WORK" && npm pack --silent "pocketbase@$PBJS_VERSION" >/dev/null && tar xzf pocketbase-*.tgz)
size_of pocketbase "$WORK/package/dist/pocketbase.es.mjs"
ID=$(head -1 "$WORK/rs.messages.ids")
result "{\"section\":\"client\",\"name\":\"native SDK\",\"server\":\"rucksack\",$("${LOAD_CPU[@]}" "$BIN/sdk-overhead" \
  --url "$RS_URL" --key "$KEY" --collection messages --id "$ID" --requests "$OVERHEAD_REQUESTS" | sed 's/^{//')"

# --- the report -------------------------------------------------------------------------
COMMAND="bash bench/run.sh"
[[ -n ${SMOKE:-} ]] && COMMAND="SMOKE=1 bash bench/run.sh"
result "$(jq -cn --arg cmd "$COMMAND" --arg cpu "$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)" \
  --arg cores "$(nproc)" --arg mem "$(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)" \
  --arg kernel "$(uname -r)" --arg rustc "$(rustc --version)" --arg wrk "$(wrk -v 2>&1 | head -1 | awk '{print $1, $2}')" \
  --arg rev "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" --arg pb "$PB_VERSION" --arg pbjs "$PBJS_VERSION" \
  --arg date "$(date -u +%Y-%m-%d)" --arg profile "$PROFILE" \
  --arg settings "wrk -t1 -c$CONNS -d${DURATION}s, median of $RUNS after a ${WARMUP}-s warm-up; sign-in -c$LOGIN_CONNS -d${LOGIN_DURATION}s; $ITEMS items, $SEED messages; realtime $SUBSCRIBERS subscribers, $WRITES writes at $RATE/s" \
  '{section: "meta", name: "run", command: $cmd, cpu: $cpu, cores: $cores, memory: $mem, kernel: $kernel,
    rustc: $rustc, wrk: $wrk, revision: $rev, pocketbase: $pb, pocketbase_js: $pbjs, date: $date,
    profile: $profile, settings: $settings}')"
mkdir -p "$OUT/bench"
# A section lost, a write failed or an event not delivered fails the run.
python3 bench/check_results.py "$RESULTS" "$WRITES" "$SUBSCRIBERS"
cp "$RESULTS" "$OUT/bench/results.jsonl"   # the raw figures: python3 bench/report.py renders them again
python3 bench/report.py "$RESULTS" "$OUT/BENCHMARKS.md" "$OUT/bench/chart.svg"
step "written: $OUT/BENCHMARKS.md, $OUT/bench/chart.svg and $OUT/bench/results.jsonl"
