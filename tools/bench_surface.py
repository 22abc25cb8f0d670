"""bench_surface.py - the levers below a virtual table's floor, measured on
both sides (issue 18): the same table read and written through bec's virtual
table; through a view over its stored rows whose writes an INSTEAD OF
trigger forwards to the virtual table (the only way a view takes writes);
and as a plain table whose writes AFTER triggers capture (the way a real
table's writes can be captured in the same transaction: SQLite's update,
pre-update and commit hooks must not modify the database, so they cannot
store a change where a crash keeps it with the row), with the least a
merged table needs per changed row and nothing of bec's own work: one row
of the change and the row's register (its clock) updated.  All are
compared with a plain table in the same run; a run builds fresh files.  Run
with Debian's python3:

    BEC_EXT=$PWD/build/bec /usr/bin/python3 tools/bench_surface.py [N [RUNS]]

N rows (default 100,000) of (id INTEGER PRIMARY KEY, title TEXT, done
INTEGER), WAL, synchronous=NORMAL, as build/bench_tables.  The view reads the
shadow table's columns by their stored names (c0, c1, c2: a bench-only
knowledge of the layout, as bench_tables' VIEW lines).  Lines: SELECT
sum(done), then UPDATE of one column of every row (point lookups are in
build/bench_tables, in C: from Python the call's own cost hides them).  A read
is the fastest of 7 calls.  Printed: the per-run ratios to the plain table and their
median.  The view answers the same rows as the virtual table, and the
captured table's change rows are one per updated row (checked each run).
"""
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "py"))
from bectest import connect, one  # noqa: E402

SCHEMA = "(id INTEGER PRIMARY KEY, title TEXT, done INTEGER)"
FILL = ("WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM s WHERE i<{n}) "
        "INSERT INTO {t} SELECT i, 'title ' || i, i % 2 FROM s")


def fresh(path):
    for suffix in ("", "-wal", "-shm", "-bec-key"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)
    db = connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    return db


def timed(fn, reps=1):
    """The fastest of reps calls of fn, in seconds (a read is repeated: one
    sum over 100k rows takes milliseconds, which the machine's load moves)."""
    best = None
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        t = time.perf_counter() - t0
        best = t if best is None else min(best, t)
    return best


def run(n, tmp, ratios):
    plain = fresh(os.path.join(tmp, "plain.db"))
    plain.execute("CREATE TABLE t" + SCHEMA)
    plain.execute(FILL.format(n=n, t="t"))
    bec = fresh(os.path.join(tmp, "bec.db"))
    bec.execute("SELECT bec_keygen()")
    bec.execute("SELECT bec_create_group()")
    bec.execute("CREATE VIRTUAL TABLE t USING bec" + SCHEMA)
    bec.execute(FILL.format(n=n, t="t"))
    cap = fresh(os.path.join(tmp, "captured.db"))
    cap.execute("CREATE TABLE t" + SCHEMA)
    cap.execute("CREATE TABLE t_clock(id INTEGER PRIMARY KEY, s_title INTEGER, s_done INTEGER)")
    cap.execute("CREATE TABLE t_change(n INTEGER PRIMARY KEY, id INTEGER, title, done)")
    cap.execute(FILL.format(n=n, t="t"))
    cap.execute("INSERT INTO t_clock SELECT id, 0, 0 FROM t")
    cap.execute("CREATE TRIGGER t_capture AFTER UPDATE ON t BEGIN "
                "INSERT INTO t_change(id, title, done) VALUES(NEW.id, NEW.title, NEW.done); "
                "UPDATE t_clock SET s_title = 1, s_done = 1 WHERE id = NEW.id; END")
    bec.execute("CREATE TEMP VIEW v AS SELECT c0 AS id, c1 AS title, c2 AS done FROM main.t_rows")
    bec.execute("CREATE TEMP TRIGGER v_update INSTEAD OF UPDATE ON v BEGIN "
                "UPDATE t SET title=NEW.title, done=NEW.done WHERE id=OLD.id; END")
    # Reads first, on the rows as the fill left them; then the writes.
    surfaces = (("virtual table", bec, "t"), ("view + INSTEAD OF trigger", bec, "v"),
                ("plain table + capture trigger", cap, "t"))
    base = timed(lambda: plain.execute("SELECT sum(done) FROM t").fetchall(), 7)
    for surface, db, t in surfaces:
        ratios.setdefault(("SELECT sum(done)", surface), []).append(
            timed(lambda: db.execute(f"SELECT sum(done) FROM {t}").fetchall(), 7) / base)
    for surface, db, t in surfaces:
        base = timed(lambda: plain.execute("UPDATE t SET done = 1 - done").fetchall())
        ratios.setdefault(("UPDATE one column of every row", surface), []).append(
            timed(lambda: db.execute(f"UPDATE {t} SET done = 1 - done").fetchall()) / base)
    if one(cap, "SELECT count(*) FROM t_change") != n:
        sys.exit("bench_surface: the capture trigger did not record every row")
    # The two surfaces show the same rows, and the view's writes reached the
    # virtual table (every row was updated twice: once through each).
    same = one(bec, "SELECT count(*) FROM t JOIN v USING(id) "
                    "WHERE t.title IS v.title AND t.done IS v.done")
    flipped = one(bec, "SELECT count(*) FROM t WHERE done = id % 2")
    if same != n or flipped != n:
        sys.exit(f"bench_surface: the view and the table differ ({same}, {flipped} of {n})")
    plain.close()
    bec.close()
    cap.close()


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100000
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    ratios = {}
    with tempfile.TemporaryDirectory(prefix="bench_surface") as tmp:
        for _ in range(runs):
            run(n, tmp, ratios)
    print(f"bec table, a view over its rows, a captured plain table, / a plain table ({n} rows, {runs} runs)")
    for (name, surface), r in ratios.items():
        print(f"{name:32s} {surface:31s} " + " ".join(f"{x:6.2f}x" for x in r)
              + f"   median {statistics.median(r):.2f}x")


if __name__ == "__main__":
    main()
