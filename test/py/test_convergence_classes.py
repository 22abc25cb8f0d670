"""test_convergence_classes.py - one named regression test per class of
convergence bug in bec tables (issue 11, classes 1-4), each with hand-made
ops of a hostile admin (test/py/becwire.py) delivered to three replicas in
different orders.  Every test ends with the replicas holding identical op
sets, valid flags, reasons, rows (storage classes included) and conflicts,
and bec_check() = 'ok' on each.

    BEC_EXT=$PWD/build/bec /usr/bin/python3 test/py/test_convergence_classes.py
"""
import hashlib
import os
import random
import re
import sqlite3
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bectest import T, bodies, connect, deliver, one  # noqa: E402
from becwire import (Key, Text, make_op, op_id, schema_create, schema_drop,  # noqa: E402
                     write_payload)

EVIL = Key(hashlib.sha256(b"issue 11 / hostile admin").digest())


class Group:
    """A founder `a` (honest, with an identity), the hostile admin EVIL, and
    n-1 more replicas that joined and hold a's ops."""

    def __init__(self, n=3):
        self.a = connect()
        self.a.execute("SELECT bec_keygen()")
        self.a.execute("SELECT bec_create_group()")
        self.a.execute("SELECT bec_add_member(?, 'admin')", (EVIL.hex,))
        self.gid = bytes.fromhex(one(self.a, "SELECT bec_group_id()"))
        self.reps = [self.a]
        for _ in range(n - 1):
            db = connect()
            db.execute("SELECT bec_join(?)", (self.gid.hex(),))
            self.reps.append(db)
        self.catch_up()

    def catch_up(self):
        """Every replica gets a's ops (in a's order)."""
        for db in self.reps[1:]:
            deliver(db, bodies(self.a))

    def op(self, kind, preds, payload):
        """An op signed by EVIL on top of preds (op bodies or hashes)."""
        hs = [p if len(p) == 32 else h(p) for p in preds]
        return make_op(EVIL, kind, hs, payload, self.gid)

    def heads(self, db=None):
        return [bytes.fromhex(r[0]) for r in (db or self.a).execute("SELECT hash FROM bec_heads")]

    def spread(self, ops):
        """Delivers ops to every replica, each in another order: a in theirs,
        the next one reversed, the others shuffled (out-of-order ops wait in
        the pending area until their predecessors arrive)."""
        rng = random.Random(len(ops))
        deliver(self.a, ops)
        for i, db in enumerate(self.reps[1:]):
            order = list(ops)
            if i == 0:
                order.reverse()
            else:
                rng.shuffle(order)
            deliver(db, order)

    def converged(self, what):
        """The replicas agree on everything, and each checks ok."""
        states = [state(db) for db in self.reps]
        for i, s in enumerate(states[1:], 1):
            for part in s:
                T.eq(s[part], states[0][part], "%s: replica %d's %s" % (what, i, part))
        for i, db in enumerate(self.reps):
            T.eq(one(db, "SELECT bec_check()"), "ok", "%s: bec_check() on replica %d" % (what, i))
        return states[0]


def h(body):
    """An op's id (docs/wire-format.md: the hash of its header)."""
    return op_id(body)


def cell(expr):
    """A value with its storage class, exactly (text and blobs as hex)."""
    return ("typeof(%s), CASE WHEN typeof(%s) IN ('text','blob') THEN hex(%s) ELSE %s END"
            % (expr, expr, expr, expr))


def state(db):
    st = {}
    st["ops"] = sorted(db.execute("SELECT hash, valid, %s FROM bec_ops" % reason_col(db)).fetchall())
    st["pending"] = one(db, "SELECT count(*) FROM bec_pending")
    tables = [r[0] for r in db.execute(
        "SELECT name FROM sqlite_schema WHERE sql LIKE 'CREATE VIRTUAL TABLE%USING bec%' ORDER BY name")]
    st["tables"] = tables
    for t in tables:
        cols = [r[1] for r in db.execute("PRAGMA table_info(\"%s\")" % t.replace('"', '""'))]
        st["decl " + t] = [(r[1], r[2]) for r in db.execute("PRAGMA table_info(\"%s\")" % t.replace('"', '""'))]
        sel = ", ".join(cell('"%s"' % c.replace('"', '""')) for c in cols)
        st["rows " + t] = sorted(db.execute("SELECT %s FROM \"%s\"" % (sel, t.replace('"', '""'))).fetchall(),
                                 key=repr)
    st["conflicts"] = sorted(db.execute(
        "SELECT \"table\", %s, \"column\", %s, op FROM bec_conflicts" % (cell("pk"), cell("value"))
    ).fetchall(), key=repr)
    return st


def reason_col(db):
    """bec_ops.reason (NULL before it existed: lets this file show the bugs
    on a build from before the fix)."""
    return "reason" if any(r[1] == "reason" for r in db.execute("PRAGMA table_info(bec_ops)")) else "NULL"


def reason(db, body):
    return one(db, "SELECT %s FROM bec_ops WHERE hash=?" % reason_col(db), h(body).hex())


def valid(db, body):
    return one(db, "SELECT valid FROM bec_ops WHERE hash=?", h(body).hex())


def create_hash(db):
    """The hash of db's last schema op."""
    return bytes.fromhex(one(db, "SELECT hash FROM bec_ops WHERE kind='schema' ORDER BY rowid DESC LIMIT 1"))


# ---------------------------------------------------------------------------
def test_class1_declared_types_never_reach_sql():
    """Class 1: a schema op's declared types are parsed into a closed form;
    one that is not a type name is stored and ignored with a reason, never
    applied, never pasted into SQL."""
    g = Group()
    base = g.heads()
    bad = [
        ("nocase", [("k", "TEXT COLLATE NOCASE", 1), ("v", "", 0)]),
        ("uniq", [("k", "TEXT", 1), ("v", "TEXT UNIQUE", 0)]),
        ("extra", [("k", "INT, x TEXT, y", 1), ("v", "", 0)]),
        ("inject", [("k", "TEXT", 1), ("v", "INT) --", 0)]),
        ("bad\x01name", [("k", "TEXT", 1)]),
        ("dup", [("k", "TEXT", 1), ("K", "TEXT", 0)]),
        (b"bec_\xff", [("k", "TEXT", 1)]),
        ("utf", [("k", b"TEXT \xc3\x28\x01", 1)]),
    ]
    ops = [g.op("schema", base, schema_create(n, c)) for n, c in bad]
    # Writes to those tables, one of them hostile to a NOCASE key (two keys
    # that differ by case) and one to a UNIQUE column (two rows, one value).
    w = [g.op("write", [ops[0]], write_payload([h(ops[0])], [
            (0, ["A"], {1: "upper"}, 2), (0, ["a"], {1: "lower"}, 2)])),
         g.op("write", [ops[1]], write_payload([h(ops[1])], [(0, ["x"], {1: "same"}, 2)])),
         g.op("write", [ops[1]], write_payload([h(ops[1])], [(0, ["y"], {1: "same"}, 2)])),
         g.op("write", [ops[2]], write_payload([h(ops[2])], [(0, [1], {1: "one"}, 2)]))]
    # A good schema op in a closed form: VARCHAR(10) is TEXT, and is shown so.
    good = g.op("schema", base, schema_create("fine", [("k", "VARCHAR(10)", 1), ("n", "BIGINT", 0),
                                                       ("r", "DOUBLE PRECISION", 0)]))
    wg = g.op("write", [good], write_payload([h(good)], [(0, ["k1"], {1: 5, 2: 2.5}, 3)]))
    g.spread(ops + w + [good, wg])
    st = g.converged("class 1")
    for o in ops:
        r = reason(g.a, o) or ""
        T.check(r.startswith("ignored: schema:"), "unparseable schema op ignored with a reason: %r" % r)
        T.eq(valid(g.a, o), 0, "an ignored schema op is not valid")
    T.check("unsupported type" in (reason(g.a, ops[0]) or ""), "the reason names the type")
    # Reasons quote the peer's names as readable text: bytes that are not
    # UTF-8, or control characters, become '?'.
    T.check('"bec_?": names beginning' in (reason(g.a, ops[6]) or ""), "reason %r" % reason(g.a, ops[6]))
    T.check('"TEXT ?(?"' in (reason(g.a, ops[7]) or ""), "reason %r" % reason(g.a, ops[7]))
    for o in w:
        T.check("whose create op is ignored" in (reason(g.a, o) or ""),
                "writes to an ignored table are ignored: %r" % reason(g.a, o))
    T.eq(st["tables"], ["fine"], "only the closed-form table exists")
    T.eq(st["decl fine"], [("k", "TEXT"), ("n", "INTEGER"), ("r", "REAL")], "declared as the closed form")
    T.eq(reason(g.a, wg), None, "the write to the good table applies")
    T.eq(st["rows fine"], [("text", "6B31", "integer", 5, "real", 2.5)], "its row")
    # No trace of the pasted words anywhere in the SQL the replicas made.
    for db in g.reps:
        sql = " ".join(r[0] or "" for r in db.execute(
            "SELECT sql FROM sqlite_schema WHERE name NOT LIKE 'bec\\_%' ESCAPE '\\'"))
        T.check("NOCASE" not in sql and "UNIQUE" not in sql and "--" not in sql
                and "VARCHAR" not in sql.split("fine_rows")[-1], "nothing pasted: %s" % sql)
        T.eq(one(db, "SELECT count(*) FROM sqlite_schema WHERE name IN ('nocase','uniq','extra','inject')"),
             0, "no ignored table is created")
    # Local declarations are held to the same closed form.
    T.raises(lambda: g.a.execute("CREATE VIRTUAL TABLE l USING bec(k TEXT PRIMARY KEY, v \"INT\")"),
             "unsupported type", "a quoted word is no type name")
    T.raises(lambda: g.a.execute("CREATE VIRTUAL TABLE l USING bec(k TEXT PRIMARY KEY, v INT(1,2,3))"),
             "unsupported type", "three numbers")
    g.a.execute("CREATE VIRTUAL TABLE l USING bec(\"we\"\"ird\" NUMERIC(10,2) PRIMARY KEY, v)")
    T.eq([(r[1], r[2]) for r in g.a.execute("PRAGMA table_info(l)")], [('we"ird', "NUMERIC"), ("v", "")],
         "a quoted name and a closed-form type")
    g.a.execute("INSERT INTO l VALUES('12', 'x')")
    g.catch_up()
    g.converged("class 1, local table")


def test_class2_acceptance_is_op_and_past_only():
    """Class 2: a write the merge cannot apply (NaN key, NULL key, a
    non-integer INTEGER PRIMARY KEY, a NaN value, a table outside its past,
    a drop or an add named as its table) is stored and ignored with a reason
    whether its table is live or dropped, and ops built on it flow."""
    g = Group()
    g.a.execute("CREATE VIRTUAL TABLE t USING bec(k PRIMARY KEY, v)")
    g.a.execute("CREATE VIRTUAL TABLE ti USING bec(id INTEGER PRIMARY KEY, v)")
    t = create_hash(g.a)
    tt = bytes.fromhex(one(g.a, "SELECT hash FROM bec_ops WHERE kind='schema' ORDER BY rowid LIMIT 1"))
    g.catch_up()
    base = g.heads()
    nan = float("nan")
    w_nan = g.op("write", base, write_payload([tt], [(0, [nan], {1: "nan key"}, 2)]))
    w_null = g.op("write", base, write_payload([tt], [(0, [None], {1: "null key"}, 2)]))
    w_txt = g.op("write", base, write_payload([t], [(0, ["7"], {1: "text int key"}, 2)]))
    w_val = g.op("write", base, write_payload([tt], [(0, ["ok"], {1: nan}, 2),
                                                    (0, ["ok2"], {1: "fine"}, 2)]))
    # Built on the ignored NaN write: applies.
    w_child = g.op("write", [w_nan], write_payload([tt], [(0, ["child"], {1: "built on nan"}, 2)]))
    # A write naming a create op that is not in its causal past.
    other = g.op("schema", base, schema_create("other", [("k", "", 1)]))
    w_past = g.op("write", base, write_payload([h(other)], [(0, ["z"], {}, 1)]))
    # A write naming an add op as its table.
    add = bytes.fromhex(one(g.a, "SELECT hash FROM bec_ops WHERE kind='add'"))
    w_add = g.op("write", base, write_payload([add], [(0, ["z"], {}, 1)]))
    # Drops concurrent with the writes: one replica sees the writes while the
    # table is live, another after it is dropped.
    g.a.execute("DROP TABLE t")
    drop = bodies(g.a)[-1]
    w_drop = g.op("write", [drop], write_payload([h(drop)], [(0, ["z"], {}, 1)]))
    ops = [w_nan, w_null, w_txt, w_val, w_child, other, w_past, w_add, drop, w_drop]
    b, c = g.reps[1], g.reps[2]
    deliver(b, ops)                       # writes while t is live, then the drop
    deliver(c, [drop] + ops[::-1])        # the drop first
    deliver(g.a, ops)
    g.converged("class 2")
    want = {w_nan: "key of table t is a NaN", w_null: "key of table t is NULL",
            w_txt: "INTEGER PRIMARY KEY of table ti is not an integer",
            w_val: "column v of table t is a NaN", w_past: "not in the op's causal past",
            w_add: "not a create op", w_drop: "names a drop of table t"}
    for db in g.reps:
        for o, part in want.items():
            r = reason(db, o) or ""
            T.check(part in r and r.startswith("ignored:"), "reason %r lacks %r" % (r, part))
            T.eq(valid(db, o), 0, "ignored op not valid (%s)" % part)
        T.eq(reason(db, w_child), None, "the op built on an ignored one applies")
        T.eq(valid(db, w_child), 1, "and is valid")
        T.eq(one(db, "SELECT count(*) FROM bec_pending"), 0, "nothing waits")
        T.eq(one(db, "SELECT count(*) FROM bec_rejected"), 0, "nothing refused")
    # Malformed bytes are still refused at acceptance, the same everywhere.
    bad = g.op("write", g.heads(), write_payload([tt], [(0, ["q"], {}, 2)]) + b"\x00")
    T.raises(lambda: g.a.execute("SELECT bec_ingest(?)", (bad,)), "malformed", "trailing bytes")
    # bec_check() notices a verdict that disagrees with the ops.
    g.a.execute("DELETE FROM bec_store_ignored WHERE seq=(SELECT max(seq) FROM bec_store_ignored)")
    T.check("the merge ignores it" in one(g.a, "SELECT bec_check()"), "check sees a lost verdict")


def test_class3_key_identity():
    """Class 3: keys 1 and 1.0 (and 0 and -0.0) in a column without a type
    are one row whose shown key is a function of the ops: the integer.  Key
    identity is the normalised value with its storage class, the same for
    local and remote writes, and the same as the shadow index's equality."""
    g = Group()
    g.a.execute("CREATE VIRTUAL TABLE t USING bec(k PRIMARY KEY, v)")
    g.a.execute("CREATE VIRTUAL TABLE s USING bec(k TEXT PRIMARY KEY, v INTEGER)")
    tt = bytes.fromhex(one(g.a, "SELECT hash FROM bec_ops WHERE kind='schema' ORDER BY rowid LIMIT 1"))
    ts = create_hash(g.a)
    g.catch_up()
    base = g.heads()
    inf = float("inf")
    keys = [1, 1.0, 0, -0.0, 0.0, 2.5, inf, -inf, 2 ** 63 - 1, -2 ** 63, 9223372036854775808.0,
            -9223372036854775808.0, 1e300, Text(b"a\x00b"), Text(b"a"), Text(b"\xff\xfe"), b"a\x00b", b"",
            "x" * 100000, Text(b"")]
    ops = []
    for i, k in enumerate(keys):
        vals = [k, -0.0, Text(b"v\x00w"), b"\x00\x01", 2 ** 63 - 1, -inf, Text(b"\xc3"), "y" * 70000]
        ops.append(g.op("write", base, write_payload([tt], [(0, [k], {1: vals[i % len(vals)]}, 2)])))
    # Text and integer keys stay apart in a TEXT column (storage class is
    # part of the identity); a hostile value is stored as the op carries it.
    ops.append(g.op("write", base, write_payload([ts], [(0, [5], {1: "7"}, 2)])))
    ops.append(g.op("write", base, write_payload([ts], [(0, ["5"], {1: 7}, 2)])))
    g.spread(ops)
    st = g.converged("class 3")
    got = dict((r[1], r) for r in st["rows t"])
    T.eq(len(st["rows t"]), 16, "1/1.0 one row, 0/-0.0/0.0 one row, 2^63 and 2^63-1 apart, -2^63 one row")
    T.eq(got.get(1, ("?",))[0], "integer", "key 1 shown as an integer, whatever arrived first")
    T.eq(got.get(0, ("?",))[0], "integer", "key 0 for -0.0 and 0.0")
    T.check(9223372036854775807 in got and 9.223372036854776e18 in got, "2^63-1 and 2^63 are two rows")
    T.eq(got.get(-9223372036854775808, ("?",))[0], "integer", "-2^63.0 is the integer -2^63")
    T.eq(sorted((r[0], r[1]) for r in st["rows s"]), [("integer", 5), ("text", "35")],
         "5 and '5' are two keys of a TEXT column")
    T.check(len([c for c in st["conflicts"] if c[0] == "t"]) > 0, "1 and 1.0 conflict as one row")
    for db in g.reps:
        T.eq(one(db, "SELECT count(*) FROM bec_ops WHERE valid=0"), 0, "every key applies")
        T.eq(db.execute("SELECT typeof(k) FROM t WHERE k=1.0").fetchall(), [("integer",)], "lookup by 1.0")
    # Local writes take the same road: 3.0 is the key 3, -0.0 finds key 0.
    g.a.execute("INSERT INTO t VALUES(3.0, 'local')")
    T.eq(g.a.execute("SELECT typeof(k), k FROM t WHERE k=3").fetchall(), [("integer", 3)], "local 3.0 is 3")
    g.a.execute("UPDATE t SET v='via -0.0' WHERE k=-0.0")
    T.eq(one(g.a, "SELECT v FROM t WHERE k=0"), "via -0.0", "update by -0.0 finds key 0")
    T.eq(one(g.a, "SELECT count(*) FROM t"), 17, "no new row for 3.0 or -0.0")
    g.a.execute("INSERT INTO s VALUES(6, '8')")     # affinity applied by the writer
    T.eq(g.a.execute("SELECT typeof(k), typeof(v) FROM s WHERE k='6'").fetchall(),
         [("text", "integer")], "writer-side affinity")
    T.eq(one(g.a, "SELECT v FROM s WHERE k=6"), 8, "a TEXT key looked up with an integer")
    g.catch_up()
    g.converged("class 3, local writes")


def test_class4_text_with_nul_on_the_conflict_path():
    """Class 4: a text with NUL bytes that loses a merge keeps all its bytes
    in bec_store_conflict, so a later delete of the winner shows the same
    value on every replica."""
    g = Group()
    g.a.execute("CREATE VIRTUAL TABLE n USING bec(k TEXT PRIMARY KEY, v TEXT, b BLOB)")
    tn = create_hash(g.a)
    g.catch_up()
    base = g.heads()
    u1 = g.op("write", base, write_payload([tn], [(0, [Text(b"k\x00")], {1: Text(b"a\x00b"),
                                                                                   2: b"\x00z"}, 3)]))
    u2 = g.op("write", base, write_payload([tn], [(0, [Text(b"k\x00")], {1: Text(b"c\x00d"),
                                                                                   2: b"\x00y"}, 3)]))
    win, lose = (u1, u2) if h(u1) > h(u2) else (u2, u1)
    d = g.op("write", [win], write_payload([tn], [(0, [Text(b"k\x00")], None)]))
    b, c = g.reps[1], g.reps[2]
    deliver(b, [u1, u2, d])          # the loser is a conflict, then comes back
    deliver(c, [win, d, lose])       # the loser arrives after the delete
    deliver(g.a, [lose, win, d])
    st = g.converged("class 4")
    want = (b"c\x00d" if lose is u2 else b"a\x00b").hex().upper()
    T.eq([r[3] for r in st["rows n"]], [want], "the resurrected value keeps its NUL byte")
    T.eq([r[1] for r in st["rows n"]], ["6B00"], "the key keeps its NUL byte")
    # Before the delete, the conflict itself holds every byte.
    e = connect()
    e.execute("SELECT bec_join(?)", (g.gid.hex(),))
    deliver(e, bodies(g.a)[:-3] + [u1, u2])
    T.eq([(r[4], r[5]) for r in state(e)["conflicts"] if r[3] == "v"],
         [("text", (b"c\x00d" if lose is u2 else b"a\x00b").hex().upper())], "conflict value intact")
    T.eq(one(e, "SELECT bec_check()"), "ok", "bec_check on the fourth replica")


def test_reason_of_an_op_invalid_by_membership():
    """bec_ops.reason says why an op has no effect: the merge's reason, or
    'membership: ...' for a write of a removed member that the removal
    did not see."""
    g = Group()
    g.a.execute("CREATE VIRTUAL TABLE t USING bec(k PRIMARY KEY, v)")
    tt = create_hash(g.a)
    g.catch_up()
    base = g.heads()
    w = g.op("write", base, write_payload([tt], [(0, ["evil"], {1: "x"}, 2)]))
    g.a.execute("SELECT bec_remove_member(?)", (EVIL.hex,))
    rm = bodies(g.a)[-1]
    g.spread([w, rm])
    g.converged("membership")
    for db in g.reps:
        T.eq((valid(db, w), reason(db, w)), (0, "membership: invalid under the membership rules (docs/membership.md, rules 4 and 7)"),
             "removed member's write")
        T.eq(one(db, "SELECT count(*) FROM t"), 0, "and its row is not shown")
        T.eq(reason(db, rm), None, "an op that applies has no reason")


def test_reasons_name_ops_by_hash():
    """A verdict's reason names the op a write wrongly names by its hash
    (12 hex digits), never by its seq: two replicas that stored that op
    under different seqs show the same reason."""
    g = Group()
    g.a.execute("CREATE VIRTUAL TABLE t USING bec(k PRIMARY KEY, v)")
    tt = create_hash(g.a)
    g.catch_up()
    base = g.heads()
    x1 = g.op("write", base, write_payload([tt], [(0, ["x1"], {1: "a"}, 2)]))
    x2 = g.op("write", base, write_payload([tt], [(0, ["x2"], {1: "b"}, 2)]))
    w = g.op("write", [x1, x2], write_payload([h(x2)], [(0, ["z"], {}, 1)]))
    b, c = g.reps[1], g.reps[2]
    deliver(g.a, [x1, x2, w])
    deliver(b, [x2, x1, w])              # x2 gets another seq here
    deliver(c, [w, x1, x2])              # w waits, then is judged on release
    seqs = set(one(db, "SELECT seq FROM bec_store_op WHERE hash=?", h(x2)) for db in g.reps)
    T.eq(len(seqs), 2, "x2 is stored under two different seqs")
    g.converged("reasons by hash")
    want = "ignored: write names op %s, not a create op" % h(x2).hex()[:12]
    for db in g.reps:
        T.eq(reason(db, w), want, "the reason names the op by its hash")
        for (r,) in db.execute("SELECT reason FROM bec_store_ignored"):
            for m in re.finditer(r"\bop (\S+)", r):
                T.check(re.fullmatch(r"[0-9a-f]{12},?", m.group(1)), "an op named by 12 hex digits: %r" % r)


def test_table_spelling_follows_the_winner_after_validity():
    """a creates "t"; EVIL creates "T" on top of it; a, not having seen
    that, removes EVIL, so EVIL's create is invalid and a's "t" is the table
    everywhere.  A replica that took "T" before the removal arrived shows
    exactly what one that got the removal first shows: the name "t" (in
    sqlite_schema, bec_conflicts, the catalog) and t's columns.  bec_check()
    sees a catalog that spells the name otherwise."""
    g = Group()
    g.a.execute("CREATE VIRTUAL TABLE t USING bec(k TEXT PRIMARY KEY, v)")
    tt = create_hash(g.a)
    g.catch_up()
    base = g.heads()
    w1 = g.op("write", base, write_payload([tt], [(0, ["x"], {1: "evil"}, 2)]))
    big = g.op("schema", base, schema_create("T", [("k", "TEXT", 1), ("w", "INTEGER", 0), ("z", "", 0)]))
    g.a.execute("INSERT INTO t VALUES('x', 'a')")       # concurrent with w1: a conflict
    deliver(g.a, [w1])
    g.a.execute("SELECT bec_remove_member(?)", (EVIL.hex,))
    ops = bodies(g.a)
    b, c = g.reps[1], g.reps[2]
    deliver(b, ops[:-1] + [big])           # "T" wins here until the removal arrives
    T.eq([r[0] for r in b.execute("SELECT name FROM sqlite_schema WHERE name IN ('t', 'T')")], ["T"],
         "before the removal, b shows T")
    deliver(b, ops[-1:])
    deliver(c, ops + [big])                # the removal first: "T" never wins
    deliver(g.a, [big])
    st = g.converged("spelling after a validity change")
    T.eq(st["tables"], ["t"], "the table is shown as t")
    T.eq(st["decl t"], [("k", "TEXT"), ("v", "")], "with t's columns")
    T.eq(sorted(set(r[0] for r in st["conflicts"])), ["t"], "bec_conflicts says t")
    for db in g.reps:
        T.eq(one(db, "SELECT name FROM bec_store_table"), "t", "the catalog spells it t")
        T.eq(one(db, "SELECT count(*) FROM sqlite_schema WHERE name='t_rows'"), 1, "shadow table t_rows")
    b.execute("UPDATE bec_store_table SET name='T'")
    T.check("the catalog spells it T" in one(b, "SELECT bec_check()"), "bec_check sees the spelling")


def test_validity_change_of_a_write_naming_a_drop():
    """A write ignored because it names a drop (which wins its name) whose
    validity then changes (its author is removed concurrently) must not
    make the merge look for the dropped table: the removal is stored, in
    any order (it used to fail with 'cannot open table', or 'SQL logic
    error' from the pending area)."""
    g = Group()
    g.a.execute("CREATE VIRTUAL TABLE t0 USING bec(k PRIMARY KEY, v)")
    g.a.execute("DROP TABLE t0")
    drop = create_hash(g.a)
    g.catch_up()
    w = g.op("write", g.heads(), write_payload([drop], [(0, ["x"], {}, 1)]))
    g.a.execute("SELECT bec_remove_member(?)", (EVIL.hex,))
    rm = bodies(g.a)[-1]
    deliver(g.reps[1], [w, rm])           # w valid until the removal arrives
    deliver(g.reps[2], [rm, w])
    deliver(g.a, [w])
    e = connect()                         # everything waits, then is released
    e.execute("SELECT bec_join(?)", (g.gid.hex(),))
    deliver(e, (bodies(g.a)[:-2] + [w, rm])[::-1])
    g.reps.append(e)
    g.converged("write naming a drop, then a removal")
    for db in g.reps:
        T.eq(one(db, "SELECT count(*) FROM bec_ops WHERE hash=?", h(rm).hex()), 1, "the removal is stored")
        T.check((reason(db, w) or "").startswith("ignored: write names a drop"), "the write is ignored")


def test_local_name_collision_hides_never_refuses():
    """The app's own objects named like the group's bec table t (a plain
    table t, a view t_rows, an index t) never keep an op out: every op is
    stored, in any order, with the same valid flags and reasons as on the
    others, nothing waits, the app's objects are untouched, and bec_check()
    says why t is not shown.  A trigger named t takes no name of bec's.
    Once the local object is gone, t appears with every row and conflict
    (at the next op from a peer, or at bec_check()), equal to the others'.
    A drop and re-create of t by the group leave the app's table alone."""
    g = Group()
    d, e, f, k = (connect() for _ in range(4))
    for db in (d, e, f, k):
        db.execute("SELECT bec_join(?)", (g.gid.hex(),))
    d.execute("CREATE TABLE t(x)")
    d.execute("INSERT INTO t VALUES('mine')")
    e.execute("CREATE TABLE other(y)")
    e.execute("CREATE VIEW t_rows AS SELECT y FROM other")
    f.execute("CREATE TABLE other(y)")
    f.execute("CREATE INDEX T ON other(y)")
    k.execute("CREATE TABLE other(y)")
    k.execute("CREATE TRIGGER t AFTER INSERT ON other BEGIN SELECT 1; END")
    k.execute("CREATE TRIGGER t_rows AFTER INSERT ON other BEGIN SELECT 1; END")
    g.a.execute("CREATE VIRTUAL TABLE t USING bec(k TEXT PRIMARY KEY, v)")
    tt = create_hash(g.a)
    g.catch_up()
    w1 = g.op("write", g.heads(), write_payload([tt], [(0, ["x"], {1: "evil"}, 2)]))
    g.a.execute("INSERT INTO t VALUES('x', 'a'), ('y', 'b')")   # concurrent with w1: a conflict
    deliver(g.a, [w1])
    g.catch_up()
    ops = bodies(g.a)
    rng = random.Random(11)
    for i, db in enumerate((d, e, f, k)):
        order = list(ops)
        if i == 0:
            order.reverse()
        elif i > 1:
            rng.shuffle(order)
        deliver(db, order)
    ref = g.converged("the group without local objects")
    notes = {d: "table t cannot be shown: the name t is taken by a local table (rename or drop it)",
             e: "table t cannot be shown: the name t_rows is taken by a local view (rename or drop it)",
             f: "table t cannot be shown: the name T is taken by a local index (rename or drop it)"}
    for db, note in notes.items():
        st = state(db)
        T.eq(st["ops"], ref["ops"], "hidden t: ops, valid flags and reasons as elsewhere")
        T.eq(st["pending"], 0, "hidden t: nothing waits")
        T.eq(st["tables"], [], "hidden t: no bec table shown")
        T.eq(one(db, "SELECT bec_check()"), note, "hidden t: bec_check() says why")
    T.eq(d.execute("SELECT * FROM t").fetchall(), [("mine",)], "the app's table t is untouched")
    T.eq(state(k), ref, "triggers named t and t_rows take no name: k shows t")
    T.eq(one(k, "SELECT bec_check()"), "ok", "k checks ok")
    # A write to the hidden table is stored and judged as elsewhere.
    g.a.execute("UPDATE t SET v='c' WHERE k='y'")
    more = bodies(g.a)[-1:]
    for db in (d, e, f, k):
        deliver(db, more)
    g.spread(more)
    ref = g.converged("after a write")
    T.eq(state(d)["ops"], ref["ops"], "a write to the hidden t is stored")
    # The local objects go: bec_check() shows t on d, the next peer op on e.
    d.execute("DROP TABLE t")
    T.eq(one(d, "SELECT bec_check()"), "ok", "t shown by bec_check() once the name is free")
    T.eq(state(d), ref, "d: every row and conflict of t, as elsewhere")
    e.execute("DROP VIEW t_rows")
    f.execute("DROP INDEX T")
    g.a.execute("INSERT INTO t VALUES('z', 'd')")
    more = bodies(g.a)[-1:]
    g.spread(more)
    for db in (d, e, f, k):
        deliver(db, more)
    T.eq(e.execute("SELECT k, v FROM t ORDER BY k").fetchall(),
         [("x", g.a.execute("SELECT v FROM t WHERE k='x'").fetchone()[0]), ("y", "c"), ("z", "d")],
         "e: t shown by the next op from a peer, with every row")
    g.reps += [d, e, f, k]
    g.converged("after the local objects went")
    # Shown, the name is the group's: SQLite refuses the app's objects.
    for sql in ("CREATE TABLE t(x)", "CREATE VIEW t_rows AS SELECT 1", "CREATE INDEX t ON other(y)"):
        try:
            d.execute(sql) if "other" not in sql else e.execute(sql)
            T.check(False, "refused: " + sql)
        except sqlite3.OperationalError as ex:
            T.check("already" in str(ex), "refused: %s (%s)" % (sql, ex))
    # The group drops t and re-creates it while m's app has taken t.
    m = connect()
    m.execute("SELECT bec_join(?)", (g.gid.hex(),))
    m.execute("CREATE TABLE t(x)")
    m.execute("INSERT INTO t VALUES('mine again')")
    deliver(m, bodies(g.a)[::-1])
    d = m
    n = len(bodies(g.a))
    g.a.execute("DROP TABLE t")
    g.a.execute("CREATE VIRTUAL TABLE t USING bec(k INTEGER PRIMARY KEY, w)")
    g.a.execute("INSERT INTO t VALUES(1, 'new')")
    more = bodies(g.a)[n:]
    g.spread(more)
    deliver(d, more[::-1])
    ref = g.converged("drop and re-create")
    T.eq(d.execute("SELECT * FROM t").fetchall(), [("mine again",)], "the group's drop leaves the app's t")
    T.eq(state(d)["ops"], ref["ops"], "d: the same ops")
    d.execute("DROP TABLE t")
    T.eq(one(d, "SELECT bec_check()"), "ok", "d checks ok")
    T.eq(state(d), ref, "d: the new incarnation's rows")


def test_local_create_whose_shadow_name_is_taken():
    """A local CREATE VIRTUAL TABLE u USING bec(...) while the app has a
    table u_rows is refused before anything is signed, and u_rows keeps its
    rows."""
    g = Group(1)
    g.a.execute("CREATE TABLE u_rows(x)")
    g.a.execute("INSERT INTO u_rows VALUES(1)")
    n = one(g.a, "SELECT count(*) FROM bec_ops")
    try:
        g.a.execute("CREATE VIRTUAL TABLE u USING bec(k PRIMARY KEY, v)")
        T.check(False, "the create is refused")
    except sqlite3.OperationalError as ex:
        T.eq(str(ex), "bec: table u cannot be created: the name u_rows is taken by a local table",
             "the create says why")
    T.eq(one(g.a, "SELECT count(*) FROM bec_ops"), n, "no schema op signed")
    T.eq(g.a.execute("SELECT * FROM u_rows").fetchall(), [(1,)], "u_rows untouched")
    T.eq(one(g.a, "SELECT bec_check()"), "ok", "bec_check() ok")


def test_hidden_table_across_a_validity_change():
    """On a replica whose app owns a table t, the winner of the name t
    changes by validity (EVIL's concurrent create "T" wins until EVIL's
    removal arrives): the app's table is never dropped, the ops agree with
    the others', and after the app's t goes the table shows a's rows."""
    g = Group()
    g.a.execute("CREATE VIRTUAL TABLE t USING bec(k TEXT PRIMARY KEY, v)")
    g.catch_up()
    base = g.heads()
    big = g.op("schema", base, schema_create("T", [("k", "TEXT", 1), ("w", "INTEGER", 0)]))
    g.a.execute("INSERT INTO t VALUES('x', 'a')")
    g.a.execute("SELECT bec_remove_member(?)", (EVIL.hex,))
    ops = bodies(g.a)
    deliver(g.reps[1], ops + [big])
    deliver(g.reps[2], [big] + ops[::-1])
    deliver(g.a, [big])
    ref = g.converged("validity change")
    m = connect()
    m.execute("SELECT bec_join(?)", (g.gid.hex(),))
    m.execute("CREATE TABLE t(x)")
    m.execute("INSERT INTO t VALUES('mine')")
    deliver(m, ops[:-1] + [big])           # "T" wins here until the removal arrives
    T.eq(one(m, "SELECT count(*) FROM bec_ops"), len(ops), "every op stored, T's included")
    deliver(m, ops[-1:])
    T.eq(state(m)["ops"], ref["ops"], "the same ops, valid flags and reasons")
    T.eq(m.execute("SELECT * FROM t").fetchall(), [("mine",)], "the app's t is never dropped")
    T.eq(one(m, "SELECT name FROM bec_store_table"), "t", "the catalog names a's t")
    m.execute("DROP TABLE t")
    T.eq(one(m, "SELECT bec_check()"), "ok", "bec_check() shows t")
    T.eq(state(m), ref, "m: a's rows")


T.run([test_class1_declared_types_never_reach_sql, test_class2_acceptance_is_op_and_past_only,
       test_class3_key_identity, test_class4_text_with_nul_on_the_conflict_path,
       test_reason_of_an_op_invalid_by_membership, test_reasons_name_ops_by_hash,
       test_table_spelling_follows_the_winner_after_validity,
       test_validity_change_of_a_write_naming_a_drop,
       test_local_name_collision_hides_never_refuses,
       test_local_create_whose_shadow_name_is_taken,
       test_hidden_table_across_a_validity_change])
T.done()
