#!/usr/bin/env python3
"""Adds the posts FROM..TO-1 to both servers for bench/storage.sh: the same records,
through Rucksack's bulk insert (as ten users, in blocks of 100, so `userId` varies)
and straight into PocketBase's SQLite file (its API would take many minutes at a
million records).

    python3 bench/storage_seed.py FROM TO WORK PB_DB RS_URL API_KEY

WORK holds `users` (one "id token" line per user) and `rs.authors`/`pb.authors`
(the author ids on each side); the posts' ids are added to `rs.ids` and `pb.ids`. Post i has n = i, k = i % 1000, j = i * 7 % 1000,
the author i % 100 and the owner (i // 100) % 10; on PocketBase the owner is a text
field holding the same user id, and `created` grows by a millisecond per post.
"""
import datetime
import http.client
import json
import sqlite3
import sys
import urllib.parse

BLOCK = 100


def main():
    start, end, work, pb_db, rs_url, key = sys.argv[1:7]
    start, end = int(start), int(end)
    users = [line.split() for line in open(f"{work}/users") if line.strip()]
    rs_authors = open(f"{work}/rs.authors").read().split()
    pb_authors = open(f"{work}/pb.authors").read().split()
    url = urllib.parse.urlsplit(rs_url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=120)
    base = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    db = sqlite3.connect(pb_db, timeout=60)
    rows, rs_ids = [], []
    for first in range(start, end, BLOCK):
        last = min(first + BLOCK, end)
        owner_id, token = users[(first // BLOCK) % len(users)]
        body = []
        for i in range(first, last):
            rec = {"text": f"post {i} lorem ipsum dolor sit amet", "n": i, "k": i % 1000, "j": i * 7 % 1000}
            body.append({**rec, "author": rs_authors[i % len(rs_authors)]})
            at = base + datetime.timedelta(milliseconds=i)
            stamp = at.strftime("%Y-%m-%d %H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"
            rows.append((f"p{i:014d}", rec["text"], i, rec["k"], rec["j"], owner_id,
                         pb_authors[i % len(pb_authors)], stamp, stamp))
        conn.request("POST", "/posts", json.dumps(body),
                     {"authorization": f"key {key}", "x-authorization": token,
                      "content-type": "application/json"})
        answer = conn.getresponse()
        text = answer.read()
        made = json.loads(text) if answer.status in (200, 201) else []
        if len(made) != last - first:
            sys.exit(f"seeding Rucksack failed at {first}: {answer.status} {text[:300]!r}")
        rs_ids.extend(r["_id"] for r in made)
        if len(rows) >= 50_000:
            flush(db, rows)
    flush(db, rows)
    with open(f"{work}/rs.ids", "a") as f:
        f.write("".join(i + "\n" for i in rs_ids))
    with open(f"{work}/pb.ids", "a") as f:
        f.write("".join(f"p{i:014d}\n" for i in range(start, end)))


def flush(db, rows):
    db.executemany("INSERT INTO posts (id, text, n, k, j, owner, author, created, updated) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    db.commit()
    rows.clear()


if __name__ == "__main__":
    main()
