#!/usr/bin/env bash
# What the browser SDK's WebAssembly is made of: runs the npm build, takes the
# same compiler output through wasm-bindgen and binaryen's wasm-opt -Oz with
# the function names kept, and sums twiggy's shallow sizes per crate and per module of
# our own crates. Prints a Markdown section for BENCHMARKS.md.
#
#   bash bench/wasm_size.sh            # about 2 minutes after a first build
#
# Needs nightly with rust-src and npm/'s binaryen (bash scripts/setup.sh); installs
# twiggy with cargo when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v twiggy >/dev/null || cargo install --quiet --locked twiggy
WASM_OPT=npm/node_modules/.bin/wasm-opt
[[ -x $WASM_OPT ]] || { echo "binaryen missing: npm install --prefix npm" >&2; exit 1; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
# The shipped build (npm/scripts/build.mjs, its settings in one place), which
# leaves the compiler's output, names kept, in target/ before wasm-bindgen.
RUCKSACK_SIZE_CHECK=0 npm run build --prefix npm --silent >/dev/null
wasm-bindgen --target web --out-dir "$WORK" --out-name rucksack \
  target/wasm32-unknown-unknown/release/sdk_wasm.wasm
# -g keeps the names section (the shipped build strips it; the code is the same).
"$WASM_OPT" -Oz -g --enable-bulk-memory --enable-nontrapping-float-to-int \
  "$WORK/rucksack_bg.wasm" -o "$WORK/named.wasm"
twiggy top -n 1000000 --format csv "$WORK/named.wasm" >"$WORK/top.csv"
# What a browser downloads, as npm/scripts/build.mjs left it above, beside the
# PocketBase JS SDK's one file.
source bench/lib.sh
(cd "$WORK" && npm pack --silent "pocketbase@$PBJS_VERSION" >/dev/null && tar xzf pocketbase-*.tgz)
DOWNLOADS=(npm/pkg/sdk.min.js npm/pkg/index.min.js npm/pkg/rucksack_bg.wasm)
python3 - "$WORK/top.csv" npm/pkg/rucksack_bg.wasm npm/pkg/index.min.js "$WORK/package/dist/pocketbase.es.mjs" "$PBJS_VERSION" "${DOWNLOADS[@]}" <<'PY'
import collections, csv, gzip, os, re, sys

rows = list(csv.DictReader(open(sys.argv[1])))
shipped = open(sys.argv[2], "rb").read()
glue = open(sys.argv[3], "rb").read()
# The first match names the part: our crates by module, then the libraries.
PARTS = [
    (r"sdk_core::query", "sdk-core: find's options (find_params)"),
    (r"sdk_core::api", "sdk-core: requests and answers (api)"),
    (r"sdk_core::", "sdk-core: the rest (link, errors, names, JSON view)"),
    (r"sdk_wasm::live|^live_", "sdk-wasm: the socket's link (live) and its entry points"),
    (r"sdk_wasm::|^(core|pending)_|^createSdk", "sdk-wasm: calls, answers and their entry points"),
    (r"serde_json|zmij", "serde_json (with its float printing)"),
    (r"serde(_core)?::|indexmap|hashbrown", "serde, indexmap, hashbrown"),
    (r"::fmt|flt2dec|escape_debug|bignum|core::num", "core::fmt and number formatting"),
    (r"js_sys|wasm_bindgen|web_sys|externref|multivalue shim", "wasm-bindgen, js-sys"),
    (r"dlmalloc|alloc::", "allocator and alloc"),
    (r"^data segment", "data (strings, tables, constants)"),
]
sizes = collections.Counter()
for r in rows:
    # Crate names without their disambiguators (`sdk_core[0123abcd]::`).
    name, size = re.sub(r"\[[0-9a-f]+\]", "", r["Name"]), int(r["ShallowSize"])
    if "subsection" in name:
        continue  # the names themselves, not shipped
    part = next((label for pat, label in PARTS if re.search(pat, name)), "other (core: strings, sorting, iterators; the exported entry points)")
    sizes[part] += size
total = sum(sizes.values())
gz = len(gzip.compress(shipped, 9))
def gzsize(path):
    return len(gzip.compress(open(path, "rb").read(), 9))

print("<!-- wasm-parts: measured by bench/wasm_size.sh -->")
print("## What a browser downloads")
print()
print("Each file a page fetches through `<script src=/sdk.js>`, as `npm run build --prefix npm`")
print("leaves it, gzipped alone (gzip -9): the loader, one module (index.js, the wasm-bindgen")
print("glue and its snippets, bundled and minified) and the wasm. A bundler's output is alike:")
print()
print("| file | raw | gzipped |")
print("|---|---:|---:|")
downloads = sys.argv[6:]
raw_total = gz_total = 0
for path in downloads:
    raw, packed = os.path.getsize(path), gzsize(path)
    raw_total += raw
    gz_total += packed
    name = re.sub(r"^npm/|snippets/[^/]+/", "", path)
    print(f"| {name} | {raw:,} | {packed:,} |")
print(f"| **all** | {raw_total:,} | **{gz_total:,}** |")
pb = sys.argv[4]
pb_gz = gzsize(pb)
print(f"| PocketBase JS SDK {sys.argv[5]} (pocketbase.es.mjs) | {os.path.getsize(pb):,} | {pb_gz:,} |")
print()
print(f"The goal is 40 KB gzipped: {'met' if gz_total <= 40_000 else 'missed'} ({gz_total / 1000:.1f} KB). Ours is")
print(f"{gz_total / pb_gz:.2f}× PocketBase's SDK, gzipped, and carries the protocol's rules (sdk-core) in its wasm.")
print()
print("## What the browser SDK's WebAssembly is made of")
print()
print(f"`bash bench/wasm_size.sh`: the shipped wasm is {len(shipped):,} bytes, {gz:,} gzipped (gzip -9), plus the")
print(f"JavaScript module ({len(glue):,} bytes, {len(gzip.compress(glue, 9)):,} gzipped). twiggy's shallow sizes of the")
print("same build with its names kept, summed per part (bytes before gzip; gzip shrinks")
print("the parts alike, roughly):")
print()
print("| part | bytes | share |")
print("|---|---:|---:|")
for part, size in sizes.most_common():
    print(f"| {part} | {size:,} | {100 * size / total:.1f}% |")
print(f"| all | {total:,} | 100% |")
print()
print("The goal is 40 KB gzipped for wasm and JS together (npm/scripts/build.mjs prints")
print("every file). What has left the wasm: the query parsers and regex-lite (the server")
print("evaluates subscribe filters and hands over page cursors); serde_json and serde")
print("(sdk-core reads JSON through its `JsonView`, over the JavaScript engine's")
print("`JSON.parse` here, and writes it with `ObjectWriter`); the futures, fetch and")
print("WebSocket bindings (`js/http.js` and `js/socket.js` move bytes, `Core`, `Pending`")
print("and `Live` decide); and core::fmt with every panic message (no `format!` on")
print("browser paths, and the shipped build rebuilds std on nightly with")
print("`panic=immediate-abort`); std's substring search and Unicode trim (JSON's and")
print("HTTP's white space is ASCII). Beside the wasm: the names the wasm and its glue")
print("share are minified by wasm-opt and the glue rewritten to match, and the JS is one")
print("bundled module rather than five files compressed alone.")
print("<!-- /wasm-parts -->")
PY
