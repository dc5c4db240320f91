#!/usr/bin/env bash
# Runs every test: lints, Rust unit and end-to-end tests, the npm package's
# Node.js tests and its headless-Chromium tests, all against the real server.
# On a fresh machine it first installs what it needs (idempotently): Debian's
# chromium, the wasm32 target, wasm-pack, the wasm-bindgen CLI matching
# Cargo.lock, and the npm packages.
#
#   bash scripts/test.sh            set up, then run everything
#   SKIP_SETUP=1 bash scripts/test.sh   run without the set-up step
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
LOGS=$ROOT/target/test-logs
mkdir -p "$LOGS"
# shellcheck source=scripts/setup.sh
source "$ROOT/scripts/setup.sh"

[[ -n ${SKIP_SETUP:-} ]] || setup

# A tier that ran no test, or skipped some, tested nothing there: the run fails
# (a browser that cannot start makes its tests skip with exit status 0).
require_ran() { # TIER PASSED FAILED SKIPPED
  (( ${2:-0} > 0 )) || die "$1: no test ran"
  (( ${3:-0} == 0 )) || die "$1: ${3} failed"
  (( ${4:-0} == 0 )) || die "$1: ${4} skipped"
}
count() { grep -E "^ℹ $2 [0-9]+" "$1" | awk '{print $3}' || true; }
# Node's runner fails a test that runs longer than this instead of hanging.
NODE_TEST=(node --experimental-websocket --no-warnings=ExperimentalWarning --test
  --test-reporter=spec --test-timeout=180000)

step "format and lints"
cargo fmt --all -- --check
cargo fmt --manifest-path fuzz/Cargo.toml -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
cargo clippy -p sdk-wasm --target wasm32-unknown-unknown --quiet -- -D warnings

step "Rust: unit and end-to-end tests (real server process, native SDK)"
cargo build -p reference-server --quiet
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast 2>&1 | tee "$LOGS/rust.log"
  rust_pass=$(grep -E '^ +Summary' "$LOGS/rust.log" | tail -1 | grep -oE '[0-9]+ passed' | awk '{print $1}' || true)
  rust_fail=$(grep -E '^ +Summary' "$LOGS/rust.log" | tail -1 | grep -oE '[0-9]+ failed' | awk '{print $1}' || true)
  rust_skip=$(grep -E '^ +Summary' "$LOGS/rust.log" | tail -1 | grep -oE '[0-9]+ skipped' | awk '{print $1}' || true)
  # nextest does not run doctests: the examples in the API docs are compiled
  # and run here.
  cargo test --workspace --doc --quiet 2>&1 | tee "$LOGS/doctests.log"
else
  cargo test --workspace --no-fail-fast 2>&1 | tee "$LOGS/rust.log"
  rust_pass=$(grep -E '^test result' "$LOGS/rust.log" | awk '{p+=$4} END {print p}')
  rust_fail=$(grep -E '^test result' "$LOGS/rust.log" | awk '{f+=$6} END {print f}')
  rust_skip=$(grep -E '^test result' "$LOGS/rust.log" | awk '{i+=$8} END {print i}')
fi
require_ran "Rust tests" "$rust_pass" "$rust_fail" "${rust_skip:-0}"

step "fuzz targets: short runs (cargo-fuzz, AddressSanitizer)"
bash scripts/fuzz.sh "${FUZZ_SECONDS:-20}" 2>&1 | tee "$LOGS/fuzz.log"
fuzz_targets=$(grep -c '^fuzz ' "$LOGS/fuzz.log" || true)

step "npm package: build"
npm run build --prefix npm

step "npm package: its contents and its TypeScript declarations"
# What `npm publish` would ship must hold the wasm, the glue, the files a server
# serves (the minified loader and bundled module) and the licences.
packed=$(cd npm && npm pack --dry-run --ignore-scripts --json 2>/dev/null)
for f in pkg/rucksack_bg.wasm pkg/rucksack.js pkg/sdk.min.js pkg/index.min.js index.d.ts sdk.js LICENSE-MIT LICENSE-APACHE; do
  grep -q "\"path\": \"$f\"" <<<"$packed" || die "the npm package would ship without $f"
done
# A typed usage file: what apps write must type-check, what is wrong must not.
(cd tests && npx tsc -p types)

step "Node.js: end-to-end tests through the npm package"
"${NODE_TEST[@]}" tests/node/*.test.mjs 2>&1 | tee "$LOGS/node.log"
node_pass=$(count "$LOGS/node.log" pass); node_fail=$(count "$LOGS/node.log" fail)
require_ran "Node.js tests" "$node_pass" "$node_fail" "$(count "$LOGS/node.log" skipped)"

step "Chromium: end-to-end tests of the npm package in a real browser"
"${NODE_TEST[@]}" tests/browser/*.test.mjs 2>&1 | tee "$LOGS/browser.log"
browser_pass=$(count "$LOGS/browser.log" pass); browser_fail=$(count "$LOGS/browser.log" fail)
require_ran "Chromium tests" "$browser_pass" "$browser_fail" "$(count "$LOGS/browser.log" skipped)"

step "PostgreSQL, NATS and S3: the Rust, Node.js and Chromium end-to-end suites again"
# RUCKSACK_TEST_DATABASE=postgres gives every test server a PostgreSQL schema of
# its own (--database postgres://…, the machine's PostgreSQL); RUCKSACK_TEST_FILES=s3
# starts a real S3-protocol server (s3s-fs) beside it (--files s3://…);
# RUCKSACK_TEST_BUS=nats gives it a JetStream stream of its own on the machine's
# NATS (--bus nats://…). Tests of the embedded engines' own files pin them.
export RUCKSACK_TEST_DATABASE=postgres RUCKSACK_TEST_FILES=s3 RUCKSACK_TEST_BUS=nats
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run -p e2e --no-fail-fast 2>&1 | tee "$LOGS/rust-pg.log"
  pg_rust=$(grep -E '^ +Summary' "$LOGS/rust-pg.log" | tail -1)
  pg_rust_pass=$(grep -oE '[0-9]+ passed' <<<"$pg_rust" | awk '{print $1}')
  require_ran "Rust tests on PostgreSQL, NATS and S3" "$pg_rust_pass" \
    "$(grep -oE '[0-9]+ failed' <<<"$pg_rust" | awk '{print $1}')" "$(grep -oE '[0-9]+ skipped' <<<"$pg_rust" | awk '{print $1}')"
else
  cargo test -p e2e --no-fail-fast 2>&1 | tee "$LOGS/rust-pg.log"
  pg_rust_pass=$(grep -E '^test result' "$LOGS/rust-pg.log" | awk '{p+=$4} END {print p}')
  require_ran "Rust tests on PostgreSQL, NATS and S3" "$pg_rust_pass" \
    "$(grep -E '^test result' "$LOGS/rust-pg.log" | awk '{f+=$6} END {print f}')" 0
fi
"${NODE_TEST[@]}" tests/node/*.test.mjs tests/browser/*.test.mjs 2>&1 | tee "$LOGS/js-pg.log"
pg_js_pass=$(count "$LOGS/js-pg.log" pass)
require_ran "Node.js and Chromium tests on PostgreSQL, NATS and S3" "$pg_js_pass" "$(count "$LOGS/js-pg.log" fail)" "$(count "$LOGS/js-pg.log" skipped)"
unset RUCKSACK_TEST_DATABASE RUCKSACK_TEST_FILES RUCKSACK_TEST_BUS
# Schemas of data directories the tests made themselves (restarted servers).
psql "${RUCKSACK_TEST_POSTGRES:-postgres://postgres@127.0.0.1:5432/test}" -qAt -c \
  "SELECT format('DROP SCHEMA %I CASCADE;', nspname) FROM pg_namespace WHERE nspname LIKE 'rk\_e2e\_%' OR nspname LIKE 'rk\_js\_%'" \
  | PGOPTIONS="-c client_min_messages=warning" psql "${RUCKSACK_TEST_POSTGRES:-postgres://postgres@127.0.0.1:5432/test}" -q >/dev/null || true
# Streams of those data directories too.
python3 scripts/drop_streams.py rk_e2e_ rk_js_ || true

step "benchmark harnesses: smoke runs (tiny sizes, debug build, PocketBase beside)"
SMOKE=1 SKIP_SETUP=1 OUT="$LOGS/bench" bash bench/run.sh >"$LOGS/bench.log" 2>&1 \
  || { tail -40 "$LOGS/bench.log"; die "the benchmark harness's smoke run failed (log: $LOGS/bench.log)"; }
SMOKE=1 OUT="$LOGS/bench" bash bench/storage.sh >"$LOGS/bench-storage.log" 2>&1 \
  || { tail -40 "$LOGS/bench-storage.log"; die "the storage benchmark's smoke run failed (log: $LOGS/bench-storage.log)"; }
echo "smoke run complete: $LOGS/bench/BENCHMARKS.md"

step "summary"
echo "rust e2e and unit (native SDK): ${rust_pass:-0} passed, ${rust_fail:-0} failed"
echo "node e2e (npm package):         $node_pass passed, $node_fail failed"
echo "chromium e2e (npm package):     $browser_pass passed, $browser_fail failed"
echo "on PostgreSQL + NATS + S3:      Rust $pg_rust_pass passed, Node.js + Chromium $pg_js_pass passed"
echo "fuzz targets:                   $fuzz_targets run ${FUZZ_SECONDS:-20} s each, no crash"
echo "benchmark harness smoke run:    passed"
echo "total: $(( ${rust_pass:-0} + node_pass + browser_pass )) passed, $(( ${rust_fail:-0} + node_fail + browser_fail )) failed"
