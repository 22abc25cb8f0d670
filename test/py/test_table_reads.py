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


for fn in [test_constraints_match_a_scan]:
    try:
        fn()
    except Exception as e:           # a crash in one test is one failure
        import traceback
        traceback.print_exc()
        T.check(False, "%s raised %r" % (fn.__name__, e))
T.done()
