"""test_table_reads.py - the read path of bec tables (issue 18): constraints
on the key give exactly what a full scan with the same filter gives, over
hostile keys of every storage class; the plans (EXPLAIN QUERY PLAN) of key
lookups and ranges; a range of 100 rows out of 100k is far faster than a
scan; and a statement reading a subset of the columns (colUsed) gives the
same answers as one reading all of them.

    BEC_EXT=$PWD/build/bec /usr/bin/python3 test/py/test_table_reads.py
"""
import hashlib
import itertools
import os
import sqlite3
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bectest import T, connect, one  # noqa: E402
from becwire import Key, Text, make_op, op_id, write_payload  # noqa: E402

EVIL = Key(hashlib.sha256(b"issue 18 / hostile admin").digest())

# Keys of every storage class, the ones a comparison's affinity can mix up
# (numbers and the texts that read as them), NULL and NaN aside (a NULL or
# NaN key makes an op ignored).
HOSTILE = [0, 1, 5, -1, 7, 10, 2 ** 53 + 1, 2 ** 63 - 1, -2 ** 63,
           1.5, -0.0, 5.0, 0.1, 9223372036854775808.0, 1e300, float("inf"), float("-inf"),
           "5", "05", " 5", "5.0", "5e0", "1.5", "7", "a", "", "0x5", "-1", "inf",
           Text(b"a\x00b"), Text(b"\xff"),
           b"5", b"", b"\x00", b"a"]
INT_KEYS = [0, 1, 5, -1, 7, 10, 2 ** 53 + 1, 2 ** 63 - 1, -2 ** 63, 100]
def bind(v):
    return bytes(v).decode("utf-8") if isinstance(v, Text) else v


def bindable(v):
    try:
        bind(v)
        return True
    except UnicodeDecodeError:
        return False


# Right-hand sides: every hostile key, NULL, and values no key holds.
RHS = [x for x in HOSTILE if bindable(x)] + [None, 2, 5.5, "b", b"b", 2 ** 62, -1e300]
DECLS = {
    "tb": "k PRIMARY KEY, v",                       # no type: BLOB affinity
    "tt": "k TEXT PRIMARY KEY, v",
    "ti": "k INT PRIMARY KEY, v",                   # INTEGER affinity, not the rowid
    "tn": "k NUMERIC PRIMARY KEY, v",
    "tr": "k REAL PRIMARY KEY, v",
    "tp": "k INTEGER PRIMARY KEY, v",               # the rowid
    "tc": "k TEXT, j, v, PRIMARY KEY(k, j)",        # composite
}


class Replica:
    """A founder with an identity and the hostile admin EVIL, who writes
    ops by hand."""

    def __init__(self):
        self.db = connect()
        self.db.execute("SELECT bec_keygen()")
        self.db.execute("SELECT bec_create_group()")
        self.db.execute("SELECT bec_add_member(?, 'admin')", (EVIL.hex,))
        self.gid = bytes.fromhex(one(self.db, "SELECT bec_group_id()"))

    def heads(self):
        return [bytes.fromhex(r[0]) for r in self.db.execute("SELECT hash FROM bec_heads")]

    def schema_hash(self, name):
        return bytes.fromhex(one(self.db, "SELECT hash FROM bec_ops WHERE kind='schema' "
                                 "ORDER BY rowid DESC LIMIT 1"))

    def evil_write(self, tab_hash, changes):
        op = make_op(EVIL, "write", self.heads(), write_payload([tab_hash], changes), self.gid)
        self.db.execute("SELECT bec_ingest(?)", (op,))
        return op_id(op)


def cell(v):
    """A value with its storage class (Python's 1 == 1.0 == True)."""
    return (type(v).__name__, v if not isinstance(v, float) or v == v else "nan")


def rows(db, sql, args=()):
    return sorted((tuple(cell(x) for x in r) for r in db.execute(sql, args)), key=repr)


def plan(db, sql, args=()):
    return " | ".join(r[3][1].decode() if isinstance(r[3], tuple) else r[3]
                      for r in db.execute("EXPLAIN QUERY PLAN " + sql, args))


def setup():
    r = Replica()
    for name, decl in DECLS.items():
        r.db.execute("CREATE VIRTUAL TABLE %s USING bec(%s)" % (name, decl))
        h = r.schema_hash(name)
        if name == "tp":
            keys = [[k] for k in INT_KEYS]
        elif name == "tc":
            keys = [[a, b] for a in ["5", 5, "a", b"5", 1.5] for b in [1, "1", 2.5]]
        else:
            keys = [[k] for k in HOSTILE]
        ncol = 3 if name == "tc" else 2
        vcol = ncol - 1
        r.evil_write(h, [(0, k, {vcol: i}, ncol) for i, k in enumerate(keys)])
    return r


OPS = ["=", "<", "<=", ">", ">=", "IS", "==", "!="]


def test_constraints_match_a_scan():
    """Every comparison of the key with every hostile value, bound as a
    parameter (no affinity), as a literal column of another table of each
    affinity (joined), and in ranges and IN lists: the rows are those of
    the same filter over a full scan: "(k OP x) = 1", the same comparison,
    which SQLite does not hand to the virtual table."""
    r = setup()
    db = r.db
    # Texts as (b"text", bytes): invalid UTF-8 survives, and texts stay
    # apart from blobs.
    db.text_factory = lambda b: (b"text", b)
    n = {t: one(db, "SELECT count(*) FROM %s" % t) for t in DECLS}
    T.eq(n["tb"], len(HOSTILE) - 2, "the hostile keys are rows (-0.0 is 0, 5.0 is 5)")
    T.eq(n["tp"], len(INT_KEYS), "integer keys are rows")
    nbad = 0
    for t in DECLS:
        for op in OPS:
            for x in RHS:
                want = rows(db, "SELECT k, v FROM %s WHERE (k %s ?) = 1" % (t, op), (bind(x),))
                got = rows(db, "SELECT k, v FROM %s WHERE k %s ?" % (t, op), (bind(x),))
                if not T.eq(got, want, "%s: k %s %r" % (t, op, x)):
                    nbad += 1
                if nbad > 20:
                    return
        # Ranges with both bounds, ORDER BY the key in both directions.
        for lo, hi in itertools.product([None, 0, 1.5, "5", "a", b""], repeat=2):
            for order in (" ORDER BY k", " ORDER BY k DESC"):
                q = "k >= ? AND k < ?"
                want = [tuple(map(cell, x)) for x in db.execute(
                    "SELECT k, v FROM %s WHERE (%s) = 1%s" % (t, q, order.replace("k", "+k")), (lo, hi))]
                got = [tuple(map(cell, x)) for x in db.execute(
                    "SELECT k, v FROM %s WHERE %s%s" % (t, q, order), (lo, hi))]
                if t == "tc":
                    # Rows of one k come in any order: compare the keys'
                    # order and the rows.
                    got, want = ([r[0] for r in got], sorted(got, key=repr)), \
                                ([r[0] for r in want], sorted(want, key=repr))
                T.eq(got, want, "%s: %s%s with %r, %r" % (t, q, order, lo, hi))
    # Right-hand sides with an affinity: columns of a plain table, joined.
    db.execute("CREATE TABLE u(xi INTEGER, xt TEXT, xb BLOB, xn NUMERIC, xr REAL, xa)")
    for x in RHS:
        # Stored through each column's affinity; xa keeps the value as is.
        db.execute("INSERT INTO u VALUES(?1, ?1, ?1, ?1, ?1, ?1)", (bind(x),))
    for t in DECLS:
        for col in ("xi", "xt", "xb", "xn", "xr", "xa", "CAST(xa AS TEXT)", "CAST(xa AS INTEGER)"):
            for op in ("=", "<", ">="):
                want = rows(db, "SELECT u.rowid, k FROM u CROSS JOIN %s WHERE (%s.k %s %s) = 1"
                            % (t, t, op, col))
                got = rows(db, "SELECT u.rowid, k FROM u CROSS JOIN %s WHERE %s.k %s %s"
                           % (t, t, op, col))
                T.eq(got, want, "%s: k %s u.%s, joined" % (t, op, col))
    # IN lists.
    for t in DECLS:
        want = rows(db, "SELECT k FROM %s WHERE (k IN (5, '5', 1.5, x'35', 'a')) = 1" % t)
        got = rows(db, "SELECT k FROM %s WHERE k IN (5, '5', 1.5, x'35', 'a')" % t)
        T.eq(got, want, "%s: k IN (...)" % t)
    # The composite key: both columns, and the first alone.
    for a in ["5", 5, 5.0, "a", b"5", 1.5, " 5", None]:
        for b in [1, "1", 1.0, 2.5, None]:
            want = rows(db, "SELECT k, j FROM tc WHERE (k = ? AND j = ?) = 1", (a, b))
            got = rows(db, "SELECT k, j FROM tc WHERE k = ? AND j = ?", (a, b))
            T.eq(got, want, "tc: k = %r AND j = %r" % (a, b))
    # The reference really is a scan, and the constrained query is not.
    T.check("INDEX 0:" in plan(db, "SELECT k FROM tt WHERE (k = 'a') = 1"), "the reference scans")
    T.check("INDEX 0:" not in plan(db, "SELECT k FROM tt WHERE k = 'a'"), "the lookup does not")
    db.close()


def plain_origin():
    db = connect()
    db.execute("SELECT bec_keygen()")
    db.execute("SELECT bec_create_group()")
    return db


def best(fn, n=5):
    """The shortest of n timings of fn()."""
    t = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        t.append(time.perf_counter() - t0)
    return min(t)


def test_plans_and_range_speed():
    """Key lookups and ranges on the key use the shadow table's key (the
    plan's idxStr says which), ORDER BY the key needs no sort, and a range
    of 100 rows out of 100,000 is far faster than a scan."""
    db = plain_origin()
    db.execute("CREATE VIRTUAL TABLE t USING bec(id INTEGER PRIMARY KEY, title TEXT, done INTEGER)")
    db.execute("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x<100000) "
               "INSERT INTO t SELECT x, 'title ' || x, x % 2 FROM c")
    db.execute("CREATE VIRTUAL TABLE s USING bec(k TEXT PRIMARY KEY, v)")
    db.execute("BEGIN")
    db.executemany("INSERT INTO s VALUES(?, ?)", [("k%03d" % i, i) for i in range(5000)])
    db.execute("COMMIT")
    cases = [
        ("SELECT * FROM t WHERE id = 5", "rowid= cols=7"),
        ("SELECT title FROM t WHERE rowid = 5", "rowid= cols=2"),
        ("SELECT * FROM t WHERE id BETWEEN 5 AND 104", "rowid-range cols=7"),
        ("SELECT * FROM t WHERE id > 99900", "rowid-range cols=7"),
        ("SELECT * FROM t WHERE id < 100", "rowid-range cols=7"),
        ("SELECT * FROM t WHERE id >= 10 AND id < 20 ORDER BY id", "rowid-range order cols=7"),
        ("SELECT * FROM t ORDER BY id DESC", "scan order desc cols=7"),
        ("SELECT sum(done) FROM t", "scan cols=4"),
        ("SELECT title FROM t", "scan cols=2"),
        ("SELECT count(*) FROM t", "scan cols=0"),
        ("SELECT * FROM s WHERE k = 'k005'", "key= cols=3"),
        ("SELECT v FROM s WHERE k > 'k100'", "scan cols=3"),      # ranges on a text key: a scan
        ("SELECT * FROM s ORDER BY k", "scan order cols=3"),
        ("SELECT * FROM s WHERE k = 'k005' ORDER BY k DESC", "key= order desc cols=3"),
    ]
    for sql, want in cases:
        got = plan(db, sql)
        T.check(("INDEX " in got) and got.endswith(":" + want) and "TEMP B-TREE" not in got,
                "plan of %s: %r (want ...:%s)" % (sql, got, want))
    T.eq(db.execute("SELECT id FROM t WHERE id BETWEEN 5 AND 104").fetchall(),
         [(i,) for i in range(5, 105)], "BETWEEN: the rows, in order")
    T.eq(db.execute("SELECT id FROM t WHERE id > 99990 ORDER BY id DESC").fetchall(),
         [(i,) for i in range(100000, 99990, -1)], "id > x ORDER BY id DESC")
    T.eq(one(db, "SELECT count(*) FROM t WHERE id < 100"), 99, "id < y")
    T.eq(one(db, "SELECT count(*) FROM t WHERE id > 99999.5"), 1, "a REAL bound")
    T.eq(one(db, "SELECT count(*) FROM t WHERE id >= '99999'"), 2, "a text bound reads as a number")
    T.eq(one(db, "SELECT count(*) FROM t WHERE id < 'x'"), 100000, "every integer is below a text")
    # Time: a range of 100 rows against the same filter over a scan.
    rng = lambda: db.execute("SELECT count(*), sum(done) FROM t WHERE id BETWEEN 50000 AND 50099").fetchall()
    scan = lambda: db.execute("SELECT count(*), sum(done) FROM t WHERE +id BETWEEN 50000 AND 50099").fetchall()
    T.eq(rng(), scan(), "range and scan agree")
    t_rng, t_scan = best(rng), best(scan, 3)
    T.check(t_scan > 20 * t_rng, "a range of 100 rows is far faster than a scan: %.6f s vs %.6f s"
            % (t_rng, t_scan))
    gt = lambda: db.execute("SELECT count(*) FROM t WHERE id > 99900").fetchall()
    T.check(best(scan, 3) > 20 * best(gt), "id > x reads only the rows above x")
    # With fewer parameters allowed than a key lookup's statement has, a
    # scan answers instead of a failed statement.
    old = db.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 5) if hasattr(db, "setlimit") else None
    if old is not None:
        T.eq(db.execute("SELECT v FROM s WHERE k = 'k042'").fetchall(), [(42,)], "lookup under a low limit")
        T.check("INDEX 0:scan" in plan(db, "SELECT v FROM s WHERE k = 'k042'"), "a scan under a low limit")
        db.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, old)
    look = lambda: db.execute("SELECT * FROM s WHERE k = 'k150'").fetchall()
    T.eq(look(), [("k150", 150)], "text key lookup")
    sscan = lambda: db.execute("SELECT * FROM s WHERE +k = 'k150'").fetchall()
    T.check(best(sscan, 3) > 20 * best(look), "a text key lookup reads few rows (index seeks)")
    db.close()


def test_columns_read():
    """A statement reading some columns (colUsed) gives what a statement
    reading all of them gives, for every subset of the columns, in every
    plan (paged scan, ordered scan, key lookup, rowid range), and with
    more than 63 columns (colUsed's last bit stands for all the rest);
    many plans at once never fail for want of a cached statement."""
    db = plain_origin()
    db.execute("CREATE VIRTUAL TABLE w USING bec(k TEXT PRIMARY KEY, a INTEGER, b TEXT, c BLOB, d REAL, e)")
    data = []
    for i in range(1500):
        data.append(("k%04d" % i, i if i % 7 else None, "b" * (i % 50) + str(i), bytes([i % 256]) * (i % 5),
                     i / 3.0 if i % 11 else None, [i, "x%d" % i, None, b"\x00"][i % 4]))
    db.execute("BEGIN")
    db.executemany("INSERT INTO w VALUES(?, ?, ?, ?, ?, ?)", data)
    db.execute("COMMIT")
    cols = ["k", "a", "b", "c", "d", "e"]
    full = {r[0]: r for r in db.execute("SELECT * FROM w")}
    T.eq(len(full), 1500, "every row")
    nbad = 0
    for n in range(1, len(cols) + 1):
        for sub in itertools.combinations(range(len(cols)), n):
            sel = ", ".join(cols[i] for i in sub)
            want = [tuple(full[k][i] for i in sub) for k in sorted(full)]
            for where, keys in [("", sorted(full)), (" WHERE k = 'k0777'", ["k0777"])]:
                w = [tuple(full[k][i] for i in sub) for k in keys]
                got = db.execute("SELECT %s FROM w%s ORDER BY k" % (sel, where)).fetchall()
                nbad += not T.eq(got, w, "SELECT %s ... %s ORDER BY k" % (sel, where))
                got = sorted(db.execute("SELECT %s FROM w%s" % (sel, where)).fetchall(), key=repr)
                nbad += not T.eq(got, sorted(w, key=repr), "SELECT %s ...%s (paged)" % (sel, where))
            if nbad > 10:
                return
            T.eq(len(want), 1500, "rows of %s" % sel)
    # Text with a NUL byte keeps its length through a page (a text cell
    # without one is handed to SQLite as terminated text).
    db.execute("INSERT INTO w(k, b) VALUES('nul', 'x' || char(0) || 'y')")
    T.eq(db.execute("SELECT length(CAST(b AS BLOB)), hex(b) FROM w WHERE +k = 'nul'").fetchall(),
         [(3, "780079")], "a NUL inside a text survives a paged scan")
    T.eq(one(db, "SELECT sum(length(b)) FROM w WHERE +k <> 'nul'"), sum(len(r[2]) for r in full.values()),
         "length() of every text")
    db.execute("DELETE FROM w WHERE k = 'nul'")
    # One column in a filter only, another in the result.
    T.eq(db.execute("SELECT b FROM w WHERE a = 15").fetchall(), [(full["k0015"][2],)], "filter column")
    T.eq(one(db, "SELECT sum(a) FROM w"), sum(r[1] for r in full.values() if r[1] is not None), "sum(a)")
    T.eq(one(db, "SELECT max(b) FROM w"), max(r[2] for r in full.values()), "max(b) across pages")
    # An UPDATE after narrow reads still writes only what it sets.
    db.execute("UPDATE w SET a = -1 WHERE k = 'k0003'")
    T.eq(db.execute("SELECT * FROM w WHERE k = 'k0003'").fetchall(),
         [("k0003", -1) + full["k0003"][2:]], "UPDATE keeps the other columns")
    full["k0003"] = ("k0003", -1) + full["k0003"][2:]
    # Many cursors with different column sets open at once (more than the
    # statement cache holds).
    curs = []
    for sub in itertools.islice(itertools.combinations(range(len(cols)), 3), 14):
        cur = db.execute("SELECT %s FROM w" % ", ".join(cols[i] for i in sub))
        curs.append((sub, cur, cur.fetchone()))
    for sub, cur, first in curs:
        rest = [first] + cur.fetchall()
        T.check(sorted(rest, key=repr) == sorted([tuple(full[k][i] for i in sub) for k in full], key=repr),
                "cursor over %r, interleaved" % (sub,))
    # More than 63 columns: bit 63 of colUsed stands for columns 63 and up.
    names = ["c%d" % i for i in range(70)]
    db.execute("CREATE VIRTUAL TABLE wide USING bec(id INTEGER PRIMARY KEY, %s)" % ", ".join(names))
    db.execute("INSERT INTO wide VALUES(%s)" % ", ".join(["1"] + [str(100 + i) for i in range(70)]))
    db.execute("INSERT INTO wide VALUES(%s)" % ", ".join(["2"] + ["'v%d'" % i for i in range(70)]))
    for pick in ([0], [61], [62], [63], [69], [10, 65], [62, 63, 64, 69]):
        sel = ", ".join(names[i] for i in pick)
        T.eq(db.execute("SELECT %s FROM wide ORDER BY id" % sel).fetchall(),
             [tuple(100 + i for i in pick), tuple("v%d" % i for i in pick)], "wide: %s" % sel)
        T.eq(db.execute("SELECT %s FROM wide WHERE id = 2" % sel).fetchall(),
             [tuple("v%d" % i for i in pick)], "wide lookup: %s" % sel)
    # More columns than a function takes arguments (127): rows one at a
    # time instead of pages, every plan still answers.
    n = 200
    names = ["c%d" % i for i in range(n)]
    db.execute("CREATE VIRTUAL TABLE wider USING bec(id INTEGER PRIMARY KEY, %s)" % ", ".join(names))
    db.execute("BEGIN")
    for r in range(1, 6):
        db.execute("INSERT INTO wider VALUES(%s)" % ", ".join([str(r)] + [str(r * 1000 + i) for i in range(n)]))
    db.execute("COMMIT")
    T.eq(db.execute("SELECT * FROM wider ORDER BY id DESC LIMIT 1").fetchall(),
         [tuple([5] + [5000 + i for i in range(n)])], "200 columns: SELECT *")
    T.eq(db.execute("SELECT c150, c3 FROM wider WHERE id BETWEEN 2 AND 3").fetchall(),
         [(2150, 2003), (3150, 3003)], "200 columns: a range")
    T.eq(one(db, "SELECT sum(c199) FROM wider"), sum(r * 1000 + 199 for r in range(1, 6)), "200 columns: sum")
    T.eq(db.execute("SELECT c0 FROM wider").fetchall(), [(r * 1000,) for r in range(1, 6)],
         "200 columns: one column, paged")
    T.check(plan(db, "SELECT c0 FROM wider").endswith(":scan cols=2"), "200 columns: colUsed of c0")
    db.close()


T.run([test_constraints_match_a_scan, test_plans_and_range_speed, test_columns_read])
T.done()
