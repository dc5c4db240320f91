#!/usr/bin/env python3
"""Turns bench/storage.sh's JSON lines into the section "Storage at scale" of
BENCHMARKS.md (replaced in place between its markers, or appended) and a chart of
latency against collection size.

    python3 bench/storage_report.py STORAGE.jsonl BENCHMARKS.md storage.svg

Fails (exit 1) when a figure is missing or not positive, so the smoke run in the
test suite notices when a part of the harness stops measuring.
"""
import json
import math
import os
import re
import sys

READS = ["get by id", "latest 30", "my latest 30", "latest 30 with authors", "equality, index", "equality, no index", "count"]
TARGETS = {"latest 30": 5, "my latest 30": 5, "latest 30 with authors": 5, "equality, index": 5,
           "equality, no index": 1, "create (durable)": 5}
BEGIN, END = "<!-- storage: written by bench/storage.sh -->", "<!-- /storage -->"
SETUPS = ["pinned", "unpinned"]


def need(by, key, duration):
    """The measurement, checked. A server that finished no request within the run
    gets the bounds that implies: under 1/duration requests/s, over the run's
    length for its median."""
    r = by.get(key) or sys.exit(f"storage report: no measurement of {key}")
    for f in ("rps", "p50_ms", "p99_ms"):
        if not isinstance(r.get(f), (int, float)) or r[f] < 0:
            sys.exit(f"storage report: {key}: {f} is {r.get(f)!r}")
    if r["rps"] == 0:
        return {**r, "rps": 1 / duration, "p50_ms": duration * 1000, "bound": True}
    if r["p50_ms"] <= 0:
        sys.exit(f"storage report: {key}: p50_ms is {r['p50_ms']!r}")
    return r


def need_any(r, duration):
    key = (r["setup"], r["size"], r["name"], r["server"])
    return need({key: r}, key, duration)


def rate(r):
    return f"< {r['rps']:,.1f}/s" if r.get("bound") else f"{r['rps']:,.0f}/s"


def ratio_text(r, p):
    x = r["rps"] / p["rps"]
    return (f"> {x:,.0f}×" if p.get("bound") else f"{x:.2f}×"), x


def got(by, key):
    return by.get(key) or sys.exit(f"storage report: no measurement of {key}")


def ms(v):
    return f"{v:.2f}" if v < 10 else f"{v:.1f}"


def verdict(ok):
    return "met" if ok else "**missed**"


def chart(by, sizes, path):
    """Median latency against collection size, both axes logarithmic."""
    series = [("latest 30", "rucksack", "#2e8b57", ""), ("latest 30", "pocketbase", "#d2691e", ""),
              ("equality, index", "rucksack", "#2e8b57", ' stroke-dasharray="6,4"'),
              ("equality, index", "pocketbase", "#d2691e", ' stroke-dasharray="6,4"')]
    width, height, left, right, top, bottom = 760, 420, 70, 200, 60, 50
    values = [by[("pinned", s, n, srv)]["p50_ms"] for n, srv, _, _ in series for s in sizes]
    values = [v for v in values if v > 0] or [1]
    lo = 10 ** math.floor(math.log10(min(values)))
    hi = 10 ** math.ceil(math.log10(max(values)))
    if hi <= lo:
        hi = lo * 10
    xs = [math.log10(s) for s in sizes]
    x0, x1 = min(xs), max(xs) if max(xs) > min(xs) else min(xs) + 1

    def x(size):
        return left + (math.log10(size) - x0) / (x1 - x0) * (width - left - right)

    def y(v):
        return top + (math.log10(hi) - math.log10(v)) / (math.log10(hi) - math.log10(lo)) * (height - top - bottom)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
           'font-family="Helvetica, Arial, sans-serif" font-size="13">',
           f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
           '<text x="20" y="26" font-size="17" font-weight="bold">Read latency against collection size</text>',
           '<text x="20" y="46" fill="#555">median latency in ms, servers on one core (log scales; flat is O(log n))</text>']
    tick = lo
    while tick <= hi * 1.0001:
        out.append(f'<line x1="{left}" y1="{y(tick):.1f}" x2="{width - right}" y2="{y(tick):.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{left - 8}" y="{y(tick) + 4:.1f}" text-anchor="end" fill="#555">{tick:g}</text>')
        tick *= 10
    for s in sizes:
        label = f"{s // 1_000_000}M" if s >= 1_000_000 else (f"{s // 1000}k" if s >= 1000 else str(s))
        out.append(f'<line x1="{x(s):.1f}" y1="{top}" x2="{x(s):.1f}" y2="{height - bottom}" stroke="#eee"/>')
        out.append(f'<text x="{x(s):.1f}" y="{height - bottom + 18}" text-anchor="middle" fill="#555">{label}</text>')
    for i, (name, server, color, dash) in enumerate(series):
        points = " ".join(f"{x(s):.1f},{y(max(by[('pinned', s, name, server)]['p50_ms'], lo)):.1f}" for s in sizes)
        out.append(f'<polyline points="{points}" fill="none" stroke="{color}" stroke-width="2.5"{dash}/>')
        ly = top + 10 + i * 22
        out.append(f'<line x1="{width - right + 15}" y1="{ly}" x2="{width - right + 45}" y2="{ly}" stroke="{color}" '
                   f'stroke-width="2.5"{dash}/>')
        who = "Rucksack" if server == "rucksack" else "PocketBase"
        out.append(f'<text x="{width - right + 52}" y="{ly + 4}">{who}, {name}</text>')
    out.append(f'<text x="{(left + width - right) / 2}" y="{height - 12}" text-anchor="middle" fill="#555">records in the collection</text>')
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def main():
    results, md_path, svg_path = sys.argv[1:4]
    rows = [json.loads(line) for line in open(results) if line.strip()]
    meta = next((r for r in rows if r.get("name") == "storage" and r["section"] == "meta"), None) \
        or sys.exit("storage report: no run description")
    duration = meta.get("duration", 2)
    by = {(r["setup"], r["size"], r["name"], r["server"]): need_any(r, duration) for r in rows if r["section"] == "storage"}
    sizes = sorted({r["size"] for r in rows if r["section"] == "storage"})
    if not sizes:
        sys.exit("storage report: no measurements")
    at = 100_000 if 100_000 in sizes else sizes[-1]
    lines = [BEGIN, "## Storage at scale", ""]
    if meta["profile"] != "release":
        lines += ["> **Smoke run** (debug build, tiny sizes): its figures mean nothing.", ""]
    lines += [
        "The same posts grown to each size on both servers, the reads apps run most timed at",
        f"each size (revision {meta['revision']}, {meta['profile']} build, {meta['date']}; {meta['settings']}):",
        "",
        "```sh",
        meta["command"],
        "```",
        "",
        f"![Read latency against collection size]({os.path.relpath(svg_path, os.path.dirname(md_path) or '.')})",
        "",
        "The reads: one post by id (random ids); the latest 30 (`sortBy=createdAt desc`, PocketBase `sort=-created&skipTotal=1`);",
        "the caller's latest 30 (`where=userId = @me`, PocketBase a filter on a text `owner`",
        "field holding the same id); the latest 30 with their author (`load`, PocketBase",
        "`expand` of a relation); equality on a declared number property, indexed on both",
        "(`k`, 1 post in 1,000 matches) and on neither (`j`); and a count (PocketBase's",
        "`totalItems`). Creates are timed at the largest size. No other index is declared",
        "on either side; Rucksack's system fields are indexed by its storage layout. A",
        "server that finished no request within a run is shown with the bound that implies",
        "(`<` so many requests/s).",
        "",
        f"Targets at {at:,} posts, in both set-ups:",
        "",
        "| operation | set-up | Rucksack | PocketBase | ratio | target |",
        "|---|---|---:|---:|---:|---|",
    ]
    for name in [*READS, "create (durable)"]:
        size = sizes[-1] if name == "create (durable)" else at
        for setup in SETUPS:
            r = got(by, (setup, size, name, "rucksack"))
            p = got(by, (setup, size, name, "pocketbase"))
            shown, ratio = ratio_text(r, p)
            goal = TARGETS.get(name)
            target = f"≥ {goal}×: {verdict(ratio >= goal)}" if goal else ""
            where = f" (at {size:,})" if size != at else ""
            lines.append(f"| {name}{where} | {setup} | {rate(r)} | {rate(p)} | {shown} | {target} |")
    lines += [
        "",
        "Every size: requests/s, median latency in ms, and the server's CPU use during the",
        "run (100% is one core). Unpinned, the load generator shares the cores: one wrk",
        "thread needs most of a core at tens of thousands of requests/s, so for the",
        "cheapest requests (get by id, count) it, not an idle core, is what the server",
        "lacks; for dearer reads the CPU column shows Rucksack using the second core",
        "(blocking-pool readers and the runtime's second worker run in parallel).",
        "",
    ]
    for setup in SETUPS:
        lines += [f"**{setup.capitalize()}**" + (" (servers on core 0, wrk on core 1)" if setup == "pinned" else
                                                 " (servers and wrk share both cores)"), "",
                  "| operation | size | Rucksack | p50 | CPU | PocketBase | p50 | CPU | ratio |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for name in READS:
            for size in sizes:
                r = got(by, (setup, size, name, "rucksack"))
                p = got(by, (setup, size, name, "pocketbase"))
                lat = lambda x: ("> " if x.get("bound") else "") + ms(x["p50_ms"])
                lines.append(f"| {name} | {size:,} | {rate(r)} | {lat(r)} | {r['cpu_pct']}% | "
                             f"{rate(p)} | {lat(p)} | {p['cpu_pct']}% | {ratio_text(r, p)[0]} |")
        lines.append("")
    lines.append(END)
    section = "\n".join(lines)
    text = open(md_path).read() if os.path.exists(md_path) else "# Benchmarks\n"
    pattern = re.compile(re.escape(BEGIN) + ".*?" + re.escape(END), re.S)
    text = pattern.sub(lambda _: section, text) if pattern.search(text) else text.rstrip("\n") + "\n\n" + section + "\n"
    with open(md_path, "w") as f:
        f.write(text)
    chart(by, sizes, svg_path)


if __name__ == "__main__":
    main()
