"""bench_graph.py - what a history of N ops costs a replica that opens it
(COMPACTION.md §9, the figures it asks for: graph load time and memory at
10k, 100k and 1M ops), run by `make bench` with Debian's /usr/bin/python3:

    BEC_EXT=build/bec /usr/bin/python3 tools/bench_graph.py

For each size (BENCH_GRAPH_SIZES, default 10000,100000,1000000) a history of
app ops with 16-byte payloads by one author, after a bec table's create
op, is built once (in BENCH_DIR or a temporary folder; 1M ops take
minutes), then a fresh process measures:
  - graph load: the first call that needs the op graph on a fresh
    connection (SELECT bec_sync_op_count()), its wall time and the growth
    of the process's resident set (VmRSS), per op: the graph, and the pages
    SQLite's cache took to read it (at most its 2 MiB default);
  - first sign: a fresh connection's first bec_sign (what an app pays at
    start);
  - first INSERT: a fresh connection's first INSERT into a bec table (the
    history starts with the table's create op);
  - storage: the database file's bytes per op.
The goals of §9 (load linear: 1M at most 10x 100k; at most 40 bytes per op
in memory; a first sign that reads the heads and grants, not the graph)
are printed beside the figures.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "test", "py"))
from bectest import connect, one  # noqa: E402

SIZES = tuple(int(x) for x in os.environ.get("BENCH_GRAPH_SIZES", "10000,100000,1000000").split(","))
KEEP = os.environ.get("BENCH_DIR")
DIR = KEEP or tempfile.mkdtemp(prefix="bench_graph_")

PROBE = r'''
import sys, time
sys.path.insert(0, %r)
from bectest import connect, one
def rss():
    # The resident set now, in KiB (ru_maxrss would carry the parent's peak
    # across fork and exec).
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
path = sys.argv[1]
c = connect(path)
r0 = rss()
t = time.monotonic(); n = one(c, "SELECT bec_sync_op_count()"); t = time.monotonic() - t
r1 = rss()
c2 = connect(path)
t2 = time.monotonic(); one(c2, "SELECT bec_sign(x'01')"); t2 = time.monotonic() - t2
c2.execute("ROLLBACK") if c2.in_transaction else None
c3 = connect(path)
t3 = time.monotonic(); c3.execute("INSERT INTO t VALUES(abs(random() %% 1000000000), x'02')"); t3 = time.monotonic() - t3
print(n, t, (r1 - r0) * 1024, t2, t3)
''' % os.path.join(ROOT, "test", "py")


def build(n):
    path = os.path.join(DIR, "graph%d.db" % n)
    if os.path.exists(path):
        return path
    c = connect(path)
    one(c, "SELECT bec_keygen()")
    one(c, "SELECT bec_create_group()")
    c.execute("CREATE VIRTUAL TABLE t USING bec(id INTEGER PRIMARY KEY, v BLOB)")
    for k in range(0, n, 10000):
        c.execute("BEGIN")
        for _ in range(min(10000, n - k)):
            c.execute("SELECT bec_sign(randomblob(16))")
        c.execute("COMMIT")
    c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    c.close()
    return path


def probe(path):
    p = subprocess.run([sys.executable, "-c", PROBE, path], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=3600, env=os.environ)
    out = p.stdout.decode().split()
    return int(out[0]), float(out[1]), float(out[2]), float(out[3]), float(out[4])


print("bench_graph: histories of app ops (16-byte payloads, one author); a fresh process each")
print("%9s %12s %14s %12s %12s %14s %12s" % ("ops", "graph load", "memory/op", "first sign", "first INSERT",
                                            "file bytes/op", "load/10x"))
loads = {}
for n in SIZES:
    t0 = time.monotonic()
    path = build(n)
    built = time.monotonic() - t0
    nops, tload, mem, tsign, tins = probe(path)
    loads[n] = tload
    prev = loads.get(n // 10)
    print("%9d %10.3f s %12.0f B %10.3f s %10.3f s %14.0f %12s   (built in %.0f s)"
          % (nops, tload, mem / nops, tsign, tins, os.path.getsize(path) / nops,
             "%.1fx" % (tload / prev) if prev else "-", built))
    sys.stdout.flush()
print("goals (COMPACTION.md §9): load at 1M <= 10x load at 100k; <= 40 B per op in memory; "
      "a first sign (and a first INSERT) that does not load the graph")
if not KEEP:
    shutil.rmtree(DIR, ignore_errors=True)
