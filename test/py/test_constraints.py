"""test_constraints.py - declared constraints of bec tables (issue 13,
../shared/INVARIANTS.md; docs/tables.md "Constraints"): what CREATE accepts
and refuses and why, local statements failing with SQLite's own codes and
signing nothing, ops of a hostile member (test/py/becwire.py) that break a
constraint stored and ignored whole with the same reason on every replica in
every delivery order, the DEFAULT as the fill, merge groups, and the
write='admin' policy.

    BEC_EXT=$PWD/build/bec /usr/bin/python3 test/py/test_constraints.py
"""
import hashlib
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bectest import HostileGroup, code, T, bodies, connect, deliver, one  # noqa: E402
from becwire import Key, op_id, schema_create, write_payload  # noqa: E402

EVIL = Key(hashlib.sha256(b"issue 13 / hostile member").digest())
MEMBER = Key(hashlib.sha256(b"issue 13 / plain member").digest())

SQLITE_AUTH = 23
CONSTRAINT_CHECK = 275
CONSTRAINT_NOTNULL = 1299
CONSTRAINT_DATATYPE = 3091

TODOS = ("id TEXT PRIMARY KEY, title TEXT NOT NULL DEFAULT '', "
         "done INTEGER NOT NULL DEFAULT 0 CHECK (done IN (0,1))")
SLOTS = ('id TEXT PRIMARY KEY, start INTEGER NOT NULL DEFAULT 0, '
         '"end" INTEGER NOT NULL DEFAULT 0, CHECK (start <= "end")')


class Group(HostileGroup):
    """A founder `a` (admin), EVIL (a member, hand-made ops), and n-1 more
    replicas that joined and hold a's ops."""

    def __init__(self, n=3, role="member"):
        HostileGroup.__init__(self, state, [(EVIL, role)], n)

    def op(self, kind, preds, payload, key=EVIL):
        return HostileGroup.op(self, kind, preds, payload, key)


def state(db):
    st = {"ops": sorted(db.execute("SELECT hash, valid, reason FROM bec_ops").fetchall())}
    for t in [r[0] for r in db.execute("SELECT name FROM sqlite_schema WHERE sql LIKE "
                                       "'CREATE VIRTUAL TABLE%USING bec%' ORDER BY name")]:
        st[t] = sorted(db.execute('SELECT * FROM "%s"' % t).fetchall(), key=repr)
    return st


def reason(db, body):
    return one(db, "SELECT reason FROM bec_ops WHERE hash=?", op_id(body).hex())


def valid(db, body):
    return one(db, "SELECT valid FROM bec_ops WHERE hash=?", op_id(body).hex())



def writes(db):
    return one(db, "SELECT count(*) FROM bec_ops WHERE kind='write'")


def solo():
    db = connect()
    db.execute("SELECT bec_keygen()")
    db.execute("SELECT bec_create_group()")
    return db


def test_refused_declarations():
    db = solo()
    cases = [
        ("k TEXT PRIMARY KEY, e TEXT UNIQUE", "UNIQUE is not supported: two members can write the same value"),
        ("k TEXT PRIMARY KEY, e TEXT, UNIQUE(e)", "make the column the PRIMARY KEY"),
        ("k TEXT PRIMARY KEY, p TEXT REFERENCES x(k)", "FOREIGN KEY is not supported"),
        ("k TEXT PRIMARY KEY, p TEXT, FOREIGN KEY(p) REFERENCES x(k)", "FOREIGN KEY is not supported"),
        ("k TEXT PRIMARY KEY, n INTEGER NOT NULL", "NOT NULL needs a constant DEFAULT"),
        ("k TEXT PRIMARY KEY, n INTEGER NOT NULL DEFAULT NULL", "NOT NULL needs a constant DEFAULT"),
        ("k TEXT PRIMARY KEY, n INTEGER DEFAULT CURRENT_TIMESTAMP", "is not a constant"),
        ("k TEXT PRIMARY KEY, n INTEGER DEFAULT (random())", "is not a constant"),
        ("k TEXT PRIMARY KEY, n INTEGER DEFAULT (k)", "is not a constant"),
        ("k TEXT PRIMARY KEY, n INTEGER CHECK ((SELECT 1) = n)", "subqueries prohibited"),
        ("k TEXT PRIMARY KEY, n INTEGER CHECK (n > ?)", "parameters prohibited"),
        ("k TEXT PRIMARY KEY, n INTEGER CHECK (random() > n)", "function random() is not allowed"),
        ("k TEXT PRIMARY KEY, n TEXT CHECK (lower(n) = n)", "function lower() is not allowed"),
        ("k TEXT PRIMARY KEY, n TEXT CHECK (n LIKE 'a%')", "function like() is not allowed"),
        ("k TEXT PRIMARY KEY, n TEXT CHECK (json_valid(n))", "function json_valid() is not allowed"),
        ("k TEXT PRIMARY KEY, n INTEGER CHECK (max(n) > 0)", "misuse of aggregate"),
        ("k TEXT PRIMARY KEY, n INTEGER CHECK (nope > 0)", "no such column"),
        ("k TEXT PRIMARY KEY, n INTEGER DEFAULT 5 CHECK (n < 3)", "the DEFAULTs fail CHECK"),
        ("k TEXT PRIMARY KEY, n INTEGER CHECK (length(k) > n)", "reads key and non-key columns"),
        ("k TEXT PRIMARY KEY, n TEXT COLLATE foo", "COLLATE foo is not supported"),
        ("k TEXT PRIMARY KEY COLLATE NOCASE, n TEXT", "COLLATE on a key column is not supported"),
        ("k TEXT PRIMARY KEY, n TEXT GENERATED ALWAYS AS (1)", "unsupported"),
        ("k TEXT PRIMARY KEY, n TEXT NOT NULL ON CONFLICT IGNORE DEFAULT ''", "unsupported constraint"),
        ("k TEXT PRIMARY KEY, n FLOAT, strict=1", "a strict table's columns have one of the types"),
        ("k TEXT PRIMARY KEY, n INTEGER DEFAULT 'x', strict=1", "not of the column's strict type"),
        ("k TEXT PRIMARY KEY, n INTEGER, write='owner'", "unknown option"),
    ]
    n0 = one(db, "SELECT count(*) FROM bec_ops")
    for decl, want in cases:
        T.raises(lambda: db.execute("CREATE VIRTUAL TABLE z USING bec(%s)" % decl), want, decl)
    T.eq(one(db, "SELECT count(*) FROM bec_ops"), n0, "a refused declaration signs nothing")
    # Accepted: every supported form; the op records the CHECK's text normalised.
    db.execute("CREATE VIRTUAL TABLE ok USING bec(k TEXT PRIMARY KEY, a INT NOT NULL DEFAULT -1"
               " CONSTRAINT pos CHECK (a   >=\n -1), b REAL DEFAULT 1.5, c TEXT DEFAULT 'it''s',"
               " d BLOB DEFAULT x'00ff', e ANY, CHECK (length(k) < 10), strict=1)")
    T.eq(db.execute("SELECT * FROM ok").fetchall(), [], "accepted")
    db.execute("INSERT INTO ok(k) VALUES('r')")
    T.eq(db.execute("SELECT k, a, b, c, hex(d), e FROM ok").fetchall(),
         [("r", -1, 1.5, "it's", "00FF", None)], "omitted columns get their DEFAULTs")
    payload = one(db, "SELECT payload FROM bec_ops WHERE kind='schema'")
    T.check(b"a >= -1" in payload and b"pos" in payload, "the CHECK's text, white space normalised, and its name")
    T.eq(payload[0], 3, "schema payload version 3")


def test_local_statements():
    db = solo()
    db.execute("CREATE VIRTUAL TABLE todos USING bec(%s)" % TODOS)
    db.execute("INSERT INTO todos VALUES('1', 'milk', 0)")
    n = writes(db)
    # X2: a CHECK violation fails at the statement; nothing is signed.
    c, msg = code(lambda: db.execute("INSERT INTO todos VALUES('x', 'bad', 2)"))
    T.eq(c, CONSTRAINT_CHECK, "SQLITE_CONSTRAINT_CHECK")
    T.check("CHECK constraint failed: done IN (0,1)" in msg, "SQLite's wording: " + msg)
    c, msg = code(lambda: db.execute("UPDATE todos SET title=NULL WHERE id='1'"))
    T.eq(c, CONSTRAINT_NOTNULL, "SQLITE_CONSTRAINT_NOTNULL")
    T.check("NOT NULL constraint failed: todos.title" in msg, msg)
    c, _ = code(lambda: db.execute("UPDATE todos SET done=5 WHERE id='1'"))
    T.eq(c, CONSTRAINT_CHECK, "an UPDATE breaking the CHECK")
    T.eq(writes(db), n, "no op signed by a failing statement")
    T.eq(db.execute("SELECT * FROM todos").fetchall(), [("1", "milk", 0)], "rows unchanged")
    # Conflict clauses.
    db.execute("INSERT OR IGNORE INTO todos VALUES('i', 'x', 7)")
    T.eq(one(db, "SELECT count(*) FROM todos WHERE id='i'"), 0, "OR IGNORE skips the row")
    db.execute("INSERT OR REPLACE INTO todos VALUES('r', NULL, 1)")
    T.eq(db.execute("SELECT * FROM todos WHERE id='r'").fetchall(), [("r", "", 1)],
         "OR REPLACE puts the DEFAULT in place of a NULL for NOT NULL")
    T.eq(code(lambda: db.execute("INSERT OR REPLACE INTO todos VALUES('r2', 'x', 3)"))[0], CONSTRAINT_CHECK,
         "OR REPLACE aborts for a CHECK")
    # A multi-row INSERT: ABORT undoes the statement, OR FAIL keeps the rows before.
    n = writes(db)
    T.eq(code(lambda: db.execute("INSERT INTO todos VALUES('m1', 'a', 1), ('m2', 'b', 9)"))[0],
         CONSTRAINT_CHECK, "multi-row ABORT")
    T.eq(one(db, "SELECT count(*) FROM todos WHERE id LIKE 'm%'"), 0, "ABORT keeps none")
    T.eq(writes(db), n, "ABORT signs nothing")
    T.eq(code(lambda: db.execute("INSERT OR FAIL INTO todos VALUES('f1', 'a', 1), ('f2', 'b', 9),"
                                 " ('f3', 'c', 0)"))[0], CONSTRAINT_CHECK, "OR FAIL")
    T.eq([r[0] for r in db.execute("SELECT id FROM todos WHERE id LIKE 'f%'")], ["f1"], "OR FAIL keeps f1")
    T.eq(writes(db), n + 1, "OR FAIL signs what it kept")
    # Inside a transaction the statement is undone and the transaction goes on.
    n = writes(db)
    db.execute("BEGIN")
    db.execute("INSERT INTO todos VALUES('t1', 'a', 1)")
    T.eq(code(lambda: db.execute("INSERT INTO todos VALUES('t2', 'b', 9)"))[0], CONSTRAINT_CHECK, "in a txn")
    db.execute("INSERT INTO todos VALUES('t3', 'c', 0)")
    db.execute("COMMIT")
    T.eq(writes(db), n + 1, "one op at COMMIT")
    T.eq([r[0] for r in db.execute("SELECT id FROM todos WHERE id LIKE 't%' ORDER BY id")], ["t1", "t3"],
         "the op holds only what succeeded")
    T.eq(one(db, "SELECT count(*) FROM bec_ops WHERE valid=0"), 0, "every local op valid")
    # Strict types.
    db.execute("CREATE VIRTUAL TABLE s USING bec(k INTEGER PRIMARY KEY, i INTEGER, r REAL, t TEXT, b BLOB,"
               " a ANY, strict=1)")
    db.execute("INSERT INTO s VALUES(1, '5', 2, 3, x'01', '7')")
    T.eq(db.execute("SELECT typeof(i), typeof(r), typeof(t), typeof(b), typeof(a) FROM s").fetchall(),
         [("integer", "real", "text", "blob", "text")], "converted as SQLite STRICT tables do; ANY keeps")
    c, msg = code(lambda: db.execute("INSERT INTO s(k, i) VALUES(2, 'abc')"))
    T.eq(c, CONSTRAINT_DATATYPE, "SQLITE_CONSTRAINT_DATATYPE")
    T.check("cannot store TEXT value in INTEGER column s.i" in msg, msg)
    T.eq(code(lambda: db.execute("INSERT INTO s(k, b) VALUES(3, 5)"))[0], CONSTRAINT_DATATYPE, "integer in BLOB")
    # COLLATE NOCASE on a non-key column: queries and CHECKs compare with it.
    db.execute("CREATE VIRTUAL TABLE c USING bec(k TEXT PRIMARY KEY, v TEXT COLLATE NOCASE CHECK (v <> 'abc'))")
    db.execute("INSERT INTO c VALUES('1', 'X')")
    T.eq(db.execute("SELECT k FROM c WHERE v = 'x'").fetchall(), [("1",)], "NOCASE in a query")
    T.eq(code(lambda: db.execute("INSERT INTO c VALUES('2', 'ABC')"))[0], CONSTRAINT_CHECK, "NOCASE in a CHECK")
    # Merge groups: an UPDATE of one column writes the group's others.
    db.execute("CREATE VIRTUAL TABLE slots USING bec(%s)" % SLOTS)
    db.execute("INSERT INTO slots VALUES('s', 0, 10)")
    T.eq(code(lambda: db.execute("UPDATE slots SET start=11"))[0], CONSTRAINT_CHECK, "group CHECK")
    db.execute("UPDATE slots SET start=5")
    payload = one(db, "SELECT payload FROM bec_ops WHERE kind='write' ORDER BY rowid DESC LIMIT 1")
    T.check(payload.endswith(b"\x06\x01\x0a\x01\x14"), "the UPDATE wrote start=5 and end=10 (mask 6)")


def test_local_policy():
    g = Group(n=2, role="member")
    a, b = g.reps
    a.execute("CREATE VIRTUAL TABLE settings USING bec(k TEXT PRIMARY KEY, v TEXT, write='admin')")
    a.execute("INSERT INTO settings VALUES('theme', 'dark')")
    b.execute("SELECT bec_keygen()")
    a.execute("SELECT bec_add_member(?, 'member')", (one(b, "SELECT bec_pubkey()"),))
    deliver(b, bodies(a))
    n = writes(b)
    c, msg = code(lambda: b.execute("INSERT INTO settings VALUES('x', 'y')"))
    T.eq(c, SQLITE_AUTH, "a member's write to a write='admin' table: SQLITE_AUTH")
    T.check("unauthorized: settings is writable by admins only (write='admin')" in msg, msg)
    T.eq(writes(b), n, "nothing signed")
    # A hand-made write by a member (EVIL) is refused at acceptance.
    h = bytes.fromhex(one(a, "SELECT hash FROM bec_ops WHERE kind='schema'"))
    w = g.op("write", g.heads(), write_payload([h], [(0, ["x"], {1: "evil"})]))
    T.raises(lambda: a.execute("SELECT bec_ingest(?)", (w,)), "unauthorized: settings is writable by admins only",
             "refused at acceptance")
    T.eq(one(a, "SELECT count(*) FROM bec_ops WHERE hash=?", op_id(w).hex()), 0, "never stored")
    T.check(one(a, "SELECT count(*) FROM bec_rejected WHERE reason LIKE 'unauthorized: settings%'") >= 1,
            "logged in bec_rejected")


def test_x10_demoted_admin_write():
    """X10: settings(..., write='admin'): A demotes B while B writes
    settings concurrently: B's write is an admin op cancelled by the
    concurrent demotion, valid = 0 with the membership reason, on every
    replica and in every delivery order; A's rows only."""
    for seed in (1, 2, 3):
        g = Group(n=5)
        a, b = g.reps[0], g.reps[1]
        a.execute("CREATE VIRTUAL TABLE settings USING bec(k TEXT PRIMARY KEY, v TEXT, write='admin')")
        a.execute("INSERT INTO settings VALUES('theme', 'dark')")
        b.execute("SELECT bec_keygen()")
        a.execute("SELECT bec_add_member(?, 'admin')", (one(b, "SELECT bec_pubkey()"),))
        g.catch_up()
        b.execute("INSERT INTO settings VALUES('early', 'yes')")     # seen by A before the demotion
        deliver(a, bodies(b))
        b.execute("INSERT INTO settings VALUES('lang', 'fr')")       # as an admin, locally accepted
        b.execute("UPDATE settings SET v = 'light' WHERE k = 'theme'")
        a.execute("SELECT bec_add_member(?, 'member')", (one(b, "SELECT bec_pubkey()"),))   # concurrent demotion
        a.execute("INSERT INTO settings VALUES('tz', 'UTC')")
        mine = [r[0] for r in b.execute("SELECT body FROM bec_ops WHERE kind='write' AND author=?",
                                        (one(b, "SELECT bec_pubkey()"),))][1:]
        T.eq(len(mine), 2, "X10: B signed two writes concurrent with the demotion")
        g.spread(bodies(a) + bodies(b), seed=seed)
        st = g.converged("X10 (seed %d)" % seed)
        T.eq(st["settings"], [("early", "yes"), ("theme", "dark"), ("tz", "UTC")],
             "X10: A's rows and B's write made before the demotion, seed %d" % seed)
        for w in mine:
            for i, db in enumerate(g.reps):
                T.eq(valid(db, w), 0, "X10: B's write valid = 0 on replica %d" % i)
                r = reason(db, w) or ""
                T.check(r.startswith("membership: "), "X10: the membership reason on replica %d: %r" % (i, r))
            T.eq(one(db, "SELECT role FROM bec_ops WHERE body=?", w), "admin",
                 "X10: stored as an admin op (bec_ops.role)")


def test_fill_is_the_default():
    """X1: A deletes a row while B updates one column: the row stays, and the
    column nobody wrote shows its DEFAULT."""
    g = Group(n=2)
    a, b = g.reps
    a.execute("CREATE VIRTUAL TABLE todos USING bec(%s)" % TODOS)
    a.execute("INSERT INTO todos VALUES('1', 'milk', 0)")
    b.execute("SELECT bec_keygen()")
    a.execute("SELECT bec_add_member(?, 'member')", (one(b, "SELECT bec_pubkey()"),))
    deliver(b, bodies(a))
    a.execute("DELETE FROM todos WHERE id='1'")
    b.execute("UPDATE todos SET done=1 WHERE id='1'")
    deliver(a, bodies(b))
    deliver(b, bodies(a))
    for db in (a, b):
        T.eq(db.execute("SELECT * FROM todos").fetchall(), [("1", "", 1)], "X1: title falls back to ''")
        T.eq(one(db, "SELECT bec_check()"), "ok", "X1 checks")


def test_group_is_one_register():
    """X11: A SET start=5 and B SET "end"=3 concurrently: one of the two
    tuples, never (5, 3)."""
    g = Group(n=2)
    a, b = g.reps
    a.execute("CREATE VIRTUAL TABLE slots USING bec(%s)" % SLOTS)
    a.execute("INSERT INTO slots VALUES('s', 0, 10)")
    b.execute("SELECT bec_keygen()")
    a.execute("SELECT bec_add_member(?, 'member')", (one(b, "SELECT bec_pubkey()"),))
    deliver(b, bodies(a))
    a.execute("UPDATE slots SET start=5")
    b.execute('UPDATE slots SET "end"=3')
    deliver(a, bodies(b))
    deliver(b, bodies(a))
    rows = [db.execute('SELECT start, "end" FROM slots').fetchall() for db in (a, b)]
    T.eq(rows[0], rows[1], "X11: the same tuple on both")
    T.check(rows[0] in ([(5, 10)], [(0, 3)]), "X11: a whole write's tuple: %r" % rows[0])
    T.eq(one(a, "SELECT count(DISTINCT op) FROM bec_conflicts WHERE \"table\"='slots'"), 1,
         "the losing group write is one op")
    T.eq(one(a, "SELECT count(*) FROM bec_conflicts WHERE \"table\"='slots'"), 2, "listed once per column")


def test_peer_violations():
    """X3, X12 and each rule, from a hostile member's hand-made ops, in three
    delivery orders: stored, ignored whole, same reason everywhere, and the
    ops built on them take effect."""
    g = Group(n=3)
    a = g.a
    a.execute("CREATE VIRTUAL TABLE todos USING bec(%s)" % TODOS)
    a.execute("CREATE VIRTUAL TABLE slots USING bec(%s)" % SLOTS)
    a.execute("CREATE VIRTUAL TABLE s USING bec(k TEXT PRIMARY KEY, i INTEGER, strict=1)")
    g.catch_up()
    th, sh, xh = [bytes.fromhex(r[0]) for r in a.execute("SELECT hash FROM bec_ops WHERE kind='schema'")]
    ops, want = [], {}
    prev = g.heads()

    def add(payload, why):
        op = g.op("write", prev, payload)
        ops.append(op)
        want[op] = why
        return op

    x3 = add(write_payload([th], [(0, ["p"], {1: "ok", 2: 1}), (0, ["q"], {1: "bad", 2: 5})]),
             "constraint: CHECK todos.done")
    prev = [op_id(x3)]
    r = add(write_payload([th], [(0, ["r"], {1: "fine", 2: 0})]), None)
    prev = [op_id(r)]
    add(write_payload([th], [(0, ["n"], {1: None, 2: 0})]), "constraint: NOT NULL todos.title")
    add(write_payload([th], [(0, ["f"], {2: "1"})]), "constraint: type todos.done")
    add(write_payload([sh], [(0, ["s"], {1: 5})]), "constraint: merge group slots(start, end)")
    add(write_payload([sh], [(0, ["s"], {1: 5, 2: 3})]), "constraint: CHECK slots(start, end)")
    add(write_payload([xh], [(0, ["k"], {1: "x"})]), "constraint: type s.i")
    add(write_payload([xh], [(0, ["k"], {1: 2.5})]), "constraint: type s.i")
    # A write of several tables: one bad change ignores the valid ones too.
    add(write_payload([xh, th], [(0, ["ok"], {1: 1}), (1, ["z"], {2: 3})]), "constraint: CHECK todos.done")
    add(write_payload([sh], [(0, ["t"], {1: 1, 2: 2})]), None)
    g.spread(ops, seed=13)
    st = g.converged("peer violations")
    for op, why in want.items():
        T.eq((valid(a, op), reason(a, op)), (0 if why else 1, why), "reason %s" % why)
    T.eq(st["todos"], [("r", "fine", 0)], "X3: only 'r'; neither 'p' nor 'q'")
    T.eq(a.execute('SELECT * FROM slots').fetchall(), [("t", 1, 2)], "slots")
    T.eq(a.execute('SELECT * FROM s').fetchall(), [], "s: the multi-table op is ignored whole")
    # X4: the author removed concurrently with the descendant: nothing of it.
    a.execute("SELECT bec_remove_member(?)", (EVIL.hex,))
    for db in g.reps[1:]:
        deliver(db, bodies(a))
    g.converged("after the removal")


def test_app_overrides_change_nothing():
    """A CHECK calling length() gives the same verdict where the app
    overrode length() on its own connection.  (Overriding lower() or NOCASE
    breaks bec's own queries on that connection, hex() of bec_ops and its
    catalog lookups: not covered here.)"""
    g = Group(n=2)
    a, b = g.reps
    b.create_function("length", 1, lambda x: 0)
    a.execute("CREATE VIRTUAL TABLE t USING bec(k TEXT PRIMARY KEY, v TEXT CHECK (length(v) <= 3))")
    g.catch_up()
    h = bytes.fromhex(one(a, "SELECT hash FROM bec_ops WHERE kind='schema'"))
    bad = g.op("write", g.heads(), write_payload([h], [(0, ["x"], {1: "toolong"})]))
    g.spread([bad])
    T.eq([reason(db, bad) for db in (a, b)], ["constraint: CHECK t.v"] * 2, "same verdict with overrides")
    g.converged("overrides")


def test_peer_schemas():
    """Schema ops from a peer: version 1 refused at acceptance with a clear
    message; a CHECK whose recorded columns do not match its text, or a
    function outside the list, makes the op ignored, identically."""
    g = Group(n=2, role="admin")
    a = g.a
    old = g.op("schema", g.heads(), bytes([1, 1]) + b"\x01t\x01\x01k\x04TEXT\x01")
    T.raises(lambda: a.execute("SELECT bec_ingest(?)", (old,)), "schema payload version 1", "v1 refused")
    cols = [("k", "TEXT", 1), ("v", "INTEGER", 0)]
    lie = g.op("schema", g.heads(), schema_create("lie", cols, checks=[("", "v > 0", [0])]))
    rnd = g.op("schema", [op_id(lie)], schema_create("rnd", cols, checks=[("", "random() > v", [1])]))
    ok = g.op("schema", [op_id(rnd)], schema_create("fine", cols + [("w", "INTEGER", 0, 3, 0)],
                                                   checks=[("", "v < w", [1, 2])]))
    g.spread([lie, rnd, ok])
    T.check(reason(a, lie).startswith("ignored: schema: CHECK (v > 0) reads other columns"), reason(a, lie))
    T.check("function random() is not allowed" in reason(a, rnd), reason(a, rnd))
    T.eq(reason(a, ok), None, "a valid peer schema with a group")
    T.eq(a.execute("SELECT * FROM fine").fetchall(), [], "shown")
    g.converged("peer schemas")


def test_bec_columns():
    db = solo()
    db.execute('CREATE VIRTUAL TABLE slots USING bec(id TEXT PRIMARY KEY, start INTEGER NOT NULL DEFAULT 0,'
               ' "end" INTEGER NOT NULL DEFAULT 0 CHECK ("end" < 100), note TEXT DEFAULT \'it\'\'s\','
               ' CHECK (start <= "end"))')
    db.execute("CREATE VIRTUAL TABLE other USING bec(k INTEGER PRIMARY KEY)")
    T.eq(db.execute("SELECT * FROM bec_columns WHERE tbl='slots'").fetchall(), [
        ("slots", 0, "id", "TEXT", 1, None, None, "key"),
        ("slots", 1, "start", "INTEGER", 1, "0", 'start <= "end"', "group:1"),
        ("slots", 2, "end", "INTEGER", 1, "0", '("end" < 100) AND (start <= "end")', "group:1"),
        ("slots", 3, "note", "TEXT", 0, "'it''s'", None, "lww")], "bec_columns of slots")
    T.eq(one(db, "SELECT count(*) FROM bec_columns"), 5, "every live table's columns")


T.run([test_bec_columns, test_refused_declarations, test_local_statements, test_local_policy,
       test_x10_demoted_admin_write, test_fill_is_the_default,
       test_group_is_one_register, test_peer_violations, test_app_overrides_change_nothing,
       test_peer_schemas])
T.done()
