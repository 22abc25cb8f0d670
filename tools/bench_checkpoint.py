"""bench_checkpoint.py - the cost of a checkpoint's digest (issue 17): a
replica that holds every op ingests one checkpoint op and computes R(K) by
replaying the cut into a scratch database (ext/bec_checkpoint.c).  Shapes:
N rows written one per op (N write ops), and N rows written 1000 per op.
Compared with what ingesting the same ops cost that replica in the first
place (signature checks included).  Run with Debian's python3:

    BEC_EXT=$PWD/build/bec /usr/bin/python3 tools/bench_checkpoint.py [N ...]
"""
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "py"))
from bectest import connect, one  # noqa: E402


def replica(a, tmp, name):
    db = connect(os.path.join(tmp, name))
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")
    db.execute("SELECT bec_keygen()")
    db.execute("SELECT bec_join(?)", (one(a, "SELECT bec_group_id()"),))
    return db


def ingest_all(src, dst):
    bodies = [x for (x,) in src.execute("SELECT body FROM bec_ops")]
    t0 = time.perf_counter()
    dst.execute("BEGIN")
    for x in bodies:
        dst.execute("SELECT bec_ingest(?)", (x,))
    dst.execute("COMMIT")
    return time.perf_counter() - t0, len(bodies)


def run(n, per_op, tmp):
    tag = "%d_%d" % (n, per_op)
    a = connect(os.path.join(tmp, "a" + tag))
    a.execute("PRAGMA journal_mode=WAL")
    a.execute("PRAGMA synchronous=OFF")
    a.execute("SELECT bec_keygen()")
    a.execute("SELECT bec_create_group()")
    a.execute("CREATE VIRTUAL TABLE t USING bec(id INTEGER PRIMARY KEY, v TEXT, w INTEGER)")
    # b holds one op concurrent with everything after this point, so b
    # replays the cut; c holds nothing else and reads its own state.
    b = replica(a, tmp, "b" + tag)
    c = replica(a, tmp, "c" + tag)
    a.execute("SELECT bec_add_member(?, 'member')", (one(b, "SELECT bec_pubkey()"),))
    ingest_all(a, b)
    b.execute("SELECT bec_sign(x'00')")
    i = 0
    while i < n:
        a.execute("BEGIN")
        for j in range(per_op):
            a.execute("INSERT INTO t VALUES(?, ?, ?)", (i, "value %d" % i, i * 7))
            i += 1
        a.execute("COMMIT")
    t_ingest, nops = ingest_all(a, c)
    ingest_all(a, b)
    t0 = time.perf_counter()
    k = one(a, "SELECT bec_checkpoint()")
    t_local = time.perf_counter() - t0
    body = one(a, "SELECT body FROM bec_ops WHERE hash=?", k)
    t0 = time.perf_counter()
    c.execute("SELECT bec_ingest(?)", (body,))
    t_direct = time.perf_counter() - t0
    t0 = time.perf_counter()
    b.execute("SELECT bec_ingest(?)", (body,))
    t_replay = time.perf_counter() - t0
    d = set(one(x, "SELECT digest FROM bec_checkpoints") for x in (a, b, c))
    print("%7d rows, %5d per op (%6d ops): first ingest %7.3f s | bec_checkpoint() %7.3f s |"
          " digest from the state %7.3f s (%5.1f us/row) | by replay %7.3f s (%.2f x first ingest)"
          " | one digest: %s"
          % (n, per_op, nops, t_ingest, t_local, t_direct, 1e6 * t_direct / n, t_replay,
             t_replay / t_ingest, len(d) == 1), flush=True)
    for x in (a, b, c):
        x.close()


def main():
    sizes = [int(x) for x in sys.argv[1:]] or [10000, 100000]
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            run(n, 1000, tmp)
            run(n, 1, tmp)


main()
