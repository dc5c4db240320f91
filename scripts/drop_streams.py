#!/usr/bin/env python3
"""Deletes the NATS JetStream streams whose names start with any of the given
prefixes (the test servers' streams), speaking NATS's text protocol to the
JetStream API: `python3 scripts/drop_streams.py [--nats HOST:PORT] PREFIX...`.
Prints how many it deleted; a NATS that cannot be reached deletes nothing."""
import json
import socket
import sys


def request(sock, subject, body, inbox):
    sock.sendall(f"PUB {subject} {inbox} {len(body)}\r\n".encode() + body + b"\r\n")
    buf = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            raise OSError("closed")
        buf += chunk
        i = buf.find(f"MSG {inbox} ".encode())
        if i < 0:
            continue
        head_end = buf.find(b"\r\n", i)
        if head_end < 0:
            continue
        size = int(buf[i:head_end].split()[-1])
        if len(buf) >= head_end + 2 + size:
            return json.loads(buf[head_end + 2 : head_end + 2 + size])


def main():
    args = sys.argv[1:]
    host, port = "127.0.0.1", 4222
    if args[:1] == ["--nats"]:
        host, port = args[1].rsplit(":", 1)
        args = args[2:]
    try:
        sock = socket.create_connection((host, int(port)), timeout=5)
        sock.sendall(b'CONNECT {"verbose":false}\r\nSUB _INBOX.rk_streams 1\r\n')
        names, offset = [], 0
        while True:
            page = request(sock, "$JS.API.STREAM.NAMES", json.dumps({"offset": offset}).encode(), "_INBOX.rk_streams")
            got = page.get("streams") or []
            names += got
            offset += len(got)
            if not got or offset >= page.get("total", 0):
                break
        doomed = [n for n in names if any(n.startswith(p) for p in args)]
        for n in doomed:
            request(sock, f"$JS.API.STREAM.DELETE.{n}", b"", "_INBOX.rk_streams")
        print(f"deleted {len(doomed)} stream(s)")
    except (OSError, ValueError) as e:
        print(f"no streams deleted: {e}")


if __name__ == "__main__":
    main()
