"""Checks a benchmark run's raw figures before they are reported: every section
ran for both servers, every throughput is above zero, and the realtime fan-out
wrote every write and delivered every event. A harness that silently lost a
section, or a server that dropped events, fails the run instead of printing a
table with holes or flattering figures.

    python3 bench/check_results.py RESULTS.jsonl WRITES SUBSCRIBERS
"""

import json
import sys

SERVERS = ("rucksack", "pocketbase")
HTTP = ("get by id", "create (durable)", "page of 20, index", "page of 20, no index", "patch", "delete")
FILES = ("upload 1 MiB", "download 1 MiB")


def main(path, writes, subscribers):
    rows = [json.loads(line) for line in open(path) if line.strip()]
    problems = []

    def find(section, name, server):
        return [r for r in rows if r.get("section") == section and r.get("name") == name and r.get("server") == server]

    for server in SERVERS:
        for name in HTTP:
            got = find("http", name, server)
            if not got:
                problems.append(f"http '{name}' has no figure for {server}")
            elif not got[0].get("rps", 0) > 0:
                problems.append(f"http '{name}' ran at 0 requests/s on {server}")
        signin = find("auth", "sign-in", server)
        if not signin or not signin[0].get("rps", 0) > 0:
            problems.append(f"sign-in has no throughput for {server}")
        files = [r for r in rows if r.get("section") == "files" and r.get("server") == server]
        names = {r["name"] for r in files}
        for name in FILES:
            if name not in names:
                problems.append(f"files '{name}' is missing for {server}")
        if len(files) != 4 or any(not r.get("mb_s", 0) > 0 for r in files):
            problems.append(f"files: expected 4 transfers above 0 MB/s for {server}, got {files}")
        fan = find("realtime", "fan-out", server)
        if not fan:
            problems.append(f"realtime fan-out has no figure for {server}")
            continue
        f = fan[0]
        if f.get("subscribers") != subscribers:
            problems.append(f"fan-out on {server}: {f.get('subscribers')} subscribers, not {subscribers}")
        if f.get("writes") != writes:
            problems.append(f"fan-out on {server}: {f.get('writes')} of {writes} writes succeeded")
        if f.get("expected") != writes * subscribers or f.get("delivered") != f.get("expected"):
            problems.append(
                f"fan-out on {server}: delivered {f.get('delivered')} of {f.get('expected')} "
                f"(want {writes * subscribers})"
            )
        if not f.get("bytes_per_idle_socket", 0) > 0:
            problems.append(f"fan-out on {server}: no memory figure per idle socket")
    sizes = [r for r in rows if r.get("section") == "client" and r.get("name") == "package size"]
    if len(sizes) != 2 or any(not r.get("gzip", 0) > 0 for r in sizes):
        problems.append(f"client package sizes missing: {sizes}")
    if not [r for r in rows if r.get("section") == "client" and r.get("name") == "native SDK"]:
        problems.append("the native SDK's per-request cost is missing")
    if problems:
        print("the benchmark run is incomplete or lost events:", file=sys.stderr)
        for p in problems:
            print(f"  - {p}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
