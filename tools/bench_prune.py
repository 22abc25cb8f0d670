"""bench_prune.py - storage per op before and after bec_prune() (issue 17,
COMPACTION.md section 6).  One admin writes N ops, one row write per op (a
text of 16 bytes and an integer), over R distinct rows; signs a checkpoint
(sealed by its own claim: k=1); the database is measured (VACUUM, then
page_count * page_size) before and after bec_prune().  Shapes: R = N/10
(history ten times the state) and R = N (every op a new row).  Run with
Debian's python3:

    BEC_EXT=$PWD/build/bec /usr/bin/python3 tools/bench_prune.py [--first] [N ...]

--first runs the first shape only (R = N/10: the 1M figure of BENCH.md).
--ids N measures the lookups by id instead (for callgrind): N signed ops are
ingested into a new replica, then each is read by id (bec_ops WHERE hash=?,
bec_op()); --ids-ingest N stops after the ingest.
"""
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "py"))
from bectest import checkpointed_history, connect, one  # noqa: E402


def size(db):
    db.execute("VACUUM")
    return one(db, "PRAGMA page_count") * one(db, "PRAGMA page_size")


def run(n, nrow, tmp):
    path = os.path.join(tmp, "p%d_%d.db" % (n, nrow))
    a = checkpointed_history(path, n, nrow)
    nops = one(a, "SELECT count(*) FROM bec_ops")
    before = size(a)
    where(a, nops, "before")
    # (bec_store_op: what is stored; bec_ops shows a pruned op's header rebuilt)
    body_before = one(a, "SELECT sum(length(body)) FROM bec_store_op")
    t0 = time.perf_counter()
    dropped = one(a, "SELECT bec_prune()")
    t_prune = time.perf_counter() - t0
    after = size(a)
    body_after = one(a, "SELECT sum(length(body)) FROM bec_store_op")
    base = one(a, "SELECT sum(length(cells)) FROM bec_store_base")
    t0 = time.perf_counter()
    ok = one(a, "SELECT bec_check()")
    t_check = time.perf_counter() - t0
    print("N=%d ops (%d stored), %d rows: file %.1f MB -> %.1f MB, %.0f -> %.0f B/op; "
          "op encodings %.0f -> %.0f B/op; base %.1f B/row; %d bodies dropped in %.2f s; "
          "bec_check %s in %.2f s"
          % (n, nops, nrow, before / 1e6, after / 1e6, before / nops, after / nops,
             body_before / nops, body_after / nops, base / nrow, dropped, t_prune,
             ok, t_check), flush=True)
    where(a, nops, "after")
    a.close()


def where(db, nops, when):
    """Where the bytes go (before or after pruning): SQLite's dbstat per
    table and index, per op, the largest first (if this SQLite has dbstat)."""
    try:
        parts = db.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name "
                           "ORDER BY 2 DESC").fetchall()
    except Exception:
        return
    big = [(name, size) for name, size in parts if size >= 4 * 4096]
    rest = sum(size for name, size in parts) - sum(size for name, size in big)
    print("  where %s: " % when + ", ".join("%s %.1f" % (name, size / nops) for name, size in big)
          + ", the other %d tables and indexes %.1f (B/op)" % (len(parts) - len(big), rest / nops),
          flush=True)


def ids(n, tmp, read):
    """Ingest n signed ops into a new replica, then (read) each by id."""
    src = connect(os.path.join(tmp, "src.db"))
    src.execute("SELECT bec_keygen()")
    group = one(src, "SELECT bec_create_group()")
    src.execute("BEGIN")
    for i in range(n):
        src.execute("SELECT bec_sign(?)", (b"%d" % i,))
    src.execute("COMMIT")
    ops = src.execute("SELECT hash, body FROM bec_ops").fetchall()
    dst = connect(os.path.join(tmp, "dst.db"))
    dst.execute("SELECT bec_keygen()")
    dst.execute("SELECT bec_join(?)", (group,))
    t0 = time.perf_counter()
    dst.execute("BEGIN")
    for h, body in ops:
        dst.execute("SELECT bec_ingest(?)", (body,))
    dst.execute("COMMIT")
    t_ingest = time.perf_counter() - t0
    t0 = time.perf_counter()
    found = 0
    if read:
        for h, body in ops:
            found += one(dst, "SELECT count(*) FROM bec_ops WHERE hash=?", h)
            found += one(dst, "SELECT length(bec_op(?))", h) > 0
    print("%d ops: ingest %.2f s, %d reads by id %.2f s" % (len(ops), t_ingest, found,
                                                          time.perf_counter() - t0))


def main():
    for flag in ("--ids", "--ids-ingest"):
        if flag in sys.argv[1:]:
            n = int(sys.argv[sys.argv.index(flag) + 1])
            with tempfile.TemporaryDirectory(prefix="bec-bench-ids-") as tmp:
                ids(n, tmp, flag == "--ids")
            return
    first = "--first" in sys.argv[1:]
    sizes = [int(x) for x in sys.argv[1:] if x != "--first"] or [100000]
    with tempfile.TemporaryDirectory(prefix="bec-bench-prune-") as tmp:
        for n in sizes:
            run(n, max(1, n // 10), tmp)
            if not first:
                run(n, n, tmp)


main()
