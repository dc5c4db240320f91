#!/usr/bin/env bash
# The tools the tests and the benchmarks need, installed idempotently on a fresh
# Debian machine: Debian's chromium, wrk and jq, the wasm32 target, wasm-pack, the
# wasm-bindgen CLI matching Cargo.lock, a nightly toolchain with rust-src (for
# the browser build and the fuzz targets) and cargo-fuzz, s3s-fs (an S3 server
# for the tests), and the npm packages. Sourced by scripts/test.sh and
# bench/run.sh; `bash scripts/setup.sh` runs it alone.
step() { printf '\n==> %s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

wasm_bindgen_version() {
  awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock
}

setup() {
  step "set-up"
  command -v cargo >/dev/null || die "cargo is required (https://rustup.rs)"
  command -v node >/dev/null || die "Node.js 20.11 or newer is required"
  # 20.11 brought the test runner's --test-timeout, which the test command uses.
  node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 11) ? 0 : 1)' \
    || die "Node.js 20.11 or newer is required (found $(node --version))"

  # Debian packages: a browser for the browser tests; wrk and jq for the benchmarks.
  local missing=()
  [[ -x ${CHROMIUM_PATH:-/usr/bin/chromium} ]] || missing+=(chromium)
  command -v wrk >/dev/null || missing+=(wrk)
  command -v jq >/dev/null || missing+=(jq)
  if (( ${#missing[@]} )); then
    command -v apt-get >/dev/null || die "install ${missing[*]} (and set CHROMIUM_PATH for another browser)"
    local sudo=""
    [[ $(id -u) == 0 ]] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi

  if command -v rustup >/dev/null && ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    rustup target add wasm32-unknown-unknown
  fi
  command -v wasm-pack >/dev/null || cargo install wasm-pack --version 0.15.1 --locked
  local want have
  want=$(wasm_bindgen_version)
  have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
  if [[ "$have" != "$want" ]]; then
    cargo install wasm-bindgen-cli --version "$want" --force
  fi
  # A nightly compiler: libFuzzer's instrumentation needs it, and so does the
  # size-optimized browser build (npm/scripts/build.mjs rebuilds the standard
  # library from rust-src). The server and the native SDK build on stable.
  if command -v rustup >/dev/null && ! rustup run nightly rustc --version >/dev/null 2>&1; then
    rustup toolchain install nightly --profile minimal
  fi
  if command -v rustup >/dev/null && ! rustup component list --toolchain nightly --installed 2>/dev/null | grep -q '^rust-src'; then
    rustup component add rust-src --toolchain nightly
  fi
  command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --version 0.13.2 --locked
  # A real S3-protocol server for the tests of `--files s3://…` (file system backed).
  command -v s3s-fs >/dev/null || cargo install s3s-fs --version 0.14.1 --features binary --locked
  (cd npm && npm ci --no-audit --no-fund --loglevel=error)
  (cd tests && npm ci --no-audit --no-fund --loglevel=error)
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
  set -euo pipefail
  cd "$(dirname "$0")/.."
  setup
fi
