#!/usr/bin/env bash
# File-storage benchmark: peak server memory while uploading a large file, and
# upload/download throughput of a 50 MB file on loopback, against a release build.
#
#   bash bench/files.sh            # 500 MB memory run + 50 MB throughput (3 runs each)
#   BIG_MB=100 RUNS=1 bash bench/files.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BIG_MB=${BIG_MB:-500}
MID_MB=${MID_MB:-50}
RUNS=${RUNS:-3}
WORK=$(mktemp -d)
trap 'kill $PID 2>/dev/null || true; rm -rf "$WORK"' EXIT

cargo build --release -p reference-server --quiet
BIN=target/release/rucksack-server
KEY=bench-key
"$BIN" --listen 127.0.0.1:0 --data-dir "$WORK/data" --api-key $KEY \
  --max-upload $(( (BIG_MB + 1) * 1024 * 1024 )) >"$WORK/out" 2>"$WORK/err" &
PID=$!
for _ in $(seq 100); do grep -q 'listening on' "$WORK/out" 2>/dev/null && break; sleep 0.1; done
URL=$(sed -n 's/.*listening on //p' "$WORK/out")
H=(-H "authorization: key $KEY")
REG=$(curl -fsS "${H[@]}" -X POST "$URL/register" -d '{"email":"bench@example.com","password":"benchmark-password"}')
TOKEN=$(sed 's/.*"token":"\([0-9a-f]*\)".*/\1/' <<<"$REG")
ME=$(sed 's/.*"id":"\([0-9a-f]*\)".*/\1/' <<<"$REG")
H+=(-H "x-authorization: $TOKEN")

rss_kb() { awk '/^VmRSS/ {print $2}' /proc/$PID/status; }
hwm_kb() { awk '/^VmHWM/ {print $2}' /proc/$PID/status; }

head -c $(( BIG_MB * 1024 * 1024 )) /dev/urandom >"$WORK/big.bin"
head -c $(( MID_MB * 1024 * 1024 )) /dev/urandom >"$WORK/mid.bin"

before=$(rss_kb)
curl -fsS -o /dev/null "${H[@]}" -F bucket=bench -F filename=big.bin -F "file=@$WORK/big.bin" "$URL/uploads"
peak=$(hwm_kb)
echo "upload of ${BIG_MB} MB: server RSS before ${before} KB, peak ${peak} KB (VmHWM)"

up=(); down=()
for i in $(seq "$RUNS"); do
  t=$(curl -fsS -o /dev/null -w '%{time_total}' "${H[@]}" -F bucket=bench -F "filename=mid$i.bin" \
    -F "file=@$WORK/mid.bin" "$URL/uploads")
  up+=("$(awk -v mb="$MID_MB" -v t="$t" 'BEGIN {printf "%.0f", mb * 1.048576 / t}')")
  s=$(curl -fsS -o /dev/null -w '%{speed_download}' "${H[@]}" "$URL/uploads/$ME/mid$i.bin")
  down+=("$(awk -v s="$s" 'BEGIN {printf "%.0f", s / 1e6}')")
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "upload ${MID_MB} MB: $(median "${up[@]}") MB/s median of ${up[*]} (includes fsync)"
echo "download ${MID_MB} MB: $(median "${down[@]}") MB/s median of ${down[*]}"
echo "server peak RSS over the whole run: $(hwm_kb) KB"
