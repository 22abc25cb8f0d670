"""test_counter.py - COUNTER columns (issue 13, ../shared/INVARIANTS.md
section 7; docs/tables.md "Counters"): the declaration and its refusals,
worked examples X8 and X9, concurrent steps, a reset against a concurrent
step, an assignment that wins without having seen a step, a delete covering
what it saw, the exact sum clamped once (steps of +2^62 and -2^62 in every
order), hostile steps (REAL, TEXT, NULL, -2^63, a step to a column that is
not a counter) stored and ignored whole with the same reason everywhere,
local statements (SQLITE_CONSTRAINT_DATATYPE, nothing signed, an unchanged
counter writes nothing), random delivery orders, and a pruned replica that
converges with an unpruned one, an ADD COLUMN ... COUNTER arriving after
the prune.

    BEC_EXT=$PWD/build/bec /usr/bin/python3 test/py/test_counter.py
"""
import hashlib
import random
import sqlite3

from bectest import HostileGroup, code, Replicas, T, bodies, connect, deliver, one, ship, pub
from becwire import Key, Step, op_id, write_payload

R = Replicas("bec-counter-")
EVIL = Key(hashlib.sha256(b"issue 13 / counter steps").digest())
CONSTRAINT_DATATYPE = 3091
LIKES = "id TEXT PRIMARY KEY, n INTEGER COUNTER, note TEXT"
BIG = 2 ** 62
I64_MAX = 2 ** 63 - 1
I64_MIN = -2 ** 63


def solo():
    db = connect()
    db.execute("SELECT bec_keygen()")
    db.execute("SELECT bec_create_group()")
    return db


def group(n, decl=LIKES, prefix="g"):
    """n replicas (the first the admin), every one a member holding every op."""
    a = R.origin("%s0.db" % prefix, decl, "likes")
    reps = [a]
    for i in range(1, n):
        db = R.joined(a, "%s%d.db" % (prefix, i))
        a.execute("SELECT bec_add_member(?, 'member')", (pub(db),))
        reps.append(db)
    for db in reps[1:]:
        ship(a, db)
    return reps


def everyone(reps, rng=None):
    """Every replica gets every op (in rng's order if rng)."""
    allops = {}
    for db in reps:
        allops.update({h: b for h, b in db.execute("SELECT hash, body FROM bec_ops")})
    for db in reps:
        order = list(allops.values())
        if rng:
            rng.shuffle(order)
        for _ in range(2):              # an order that is not causal waits, then applies
            deliver(db, order)


def rows(db):
    return db.execute("SELECT * FROM likes ORDER BY id").fetchall()


def n_of(db, k="p"):
    return one(db, "SELECT n FROM likes WHERE id=?", k)



def test_declaration():
    db = solo()
    db.execute("CREATE VIRTUAL TABLE c USING bec(id TEXT PRIMARY KEY, a COUNTER, "
               "b INT COUNTER DEFAULT 5, d INTEGER NOT NULL DEFAULT 2 COUNTER, t TEXT)")
    cols = db.execute("SELECT name, type, dflt, merge FROM bec_columns WHERE tbl='c' "
                      "ORDER BY cid").fetchall()
    T.eq(cols, [("id", "TEXT", None, "key"), ("a", "INTEGER", None, "counter"),
                ("b", "INTEGER", "5", "counter"), ("d", "INTEGER", "2", "counter"),
                ("t", "TEXT", None, "lww")], "bec_columns: merge = counter; `a COUNTER` is INTEGER")
    db.execute("INSERT INTO c(id) VALUES('x')")
    T.eq(db.execute("SELECT * FROM c").fetchall(), [("x", 0, 5, 2, None)],
         "an INSERT without the counters writes their fills (DEFAULT, else 0)")
    n0 = one(db, "SELECT count(*) FROM bec_ops")
    for decl, want in [
            ("id INTEGER PRIMARY KEY COUNTER, t TEXT", "a COUNTER is a non-key column"),
            ("id TEXT PRIMARY KEY, n TEXT COUNTER", "INTEGER affinity"),
            ("id TEXT PRIMARY KEY, n REAL COUNTER", "INTEGER affinity"),
            ("id TEXT PRIMARY KEY, n COUNTER DEFAULT 'x'", "integer DEFAULT"),
            ("id TEXT PRIMARY KEY, n COUNTER DEFAULT 1.5", "integer DEFAULT"),
            ("id TEXT PRIMARY KEY, n COUNTER CHECK (n >= 0)", "no CHECK can bound"),
            ("id TEXT PRIMARY KEY, n COUNTER, m INTEGER, CHECK (n <= m)", "merge group"),
            ("id TEXT PRIMARY KEY, n COUNTER COUNTER2", "unsupported")]:
        T.raises(lambda: db.execute("CREATE VIRTUAL TABLE z USING bec(%s)" % decl), want, decl)
    T.eq(one(db, "SELECT count(*) FROM bec_ops"), n0, "a refused declaration signs nothing")
    # ADD COLUMN ... COUNTER: old rows show the fill; refused forms.
    db.execute("SELECT bec_alter('c', 'ADD COLUMN e COUNTER DEFAULT 9')")
    T.eq(one(db, "SELECT merge FROM bec_columns WHERE tbl='c' AND name='e'"), "counter",
         "an added counter")
    T.eq(db.execute("SELECT e FROM c").fetchall(), [(9,)], "an old row shows the added counter's fill")
    db.execute("UPDATE c SET e = e + 1")
    T.eq(one(db, "SELECT e FROM c"), 10, "an added counter steps")
    T.raises(lambda: db.execute("SELECT bec_alter('c', 'ADD COLUMN f COUNTER CHECK (f > 0)')"),
             "no CHECK can bound", "ADD COLUMN counter with a CHECK")
    T.raises(lambda: db.execute("SELECT bec_alter('c', 'ADD COLUMN f TEXT COUNTER')"),
             "INTEGER affinity", "ADD COLUMN counter of TEXT")
    T.eq(one(db, "SELECT bec_check()"), "ok", "bec_check")


def test_local():
    db = solo()
    db.execute("CREATE VIRTUAL TABLE likes USING bec(%s)" % LIKES)
    db.execute("INSERT INTO likes VALUES('p', 5, 'a')")
    w0 = one(db, "SELECT count(*) FROM bec_ops")
    db.execute("UPDATE likes SET note='b'")
    db.execute("UPDATE likes SET n = n WHERE id='p'")
    T.eq(one(db, "SELECT count(*) FROM bec_ops"), w0 + 1, "an UPDATE leaving the counter unchanged "
         "writes nothing for it (and an UPDATE changing nothing signs nothing)")
    db.execute("UPDATE likes SET n = n + 3")
    db.execute("UPDATE likes SET n = n - 10")
    T.eq(n_of(db), -2, "steps add")
    c, msg = code(lambda: db.execute("UPDATE likes SET n = %d" % I64_MAX))
    T.eq(c, CONSTRAINT_DATATYPE, "a step of 2^63+1 fails (%s)" % msg)
    db.execute("UPDATE likes SET n = 0")
    db.execute("UPDATE likes SET n = %d" % I64_MAX)
    w1 = one(db, "SELECT count(*) FROM bec_ops")
    c, msg = code(lambda: db.execute("UPDATE likes SET n = n + 1"))
    T.eq(c, CONSTRAINT_DATATYPE, "n + 1 past 2^63-1 is a REAL: SQLITE_CONSTRAINT_DATATYPE (%s)" % msg)
    T.check("COUNTER column likes.n" in msg, "the message names the column: %s" % msg)
    c, msg = code(lambda: db.execute("UPDATE likes SET n = %d" % -I64_MAX))
    T.eq(c, CONSTRAINT_DATATYPE, "a step below -(2^63-1) fails (%s)" % msg)
    T.check("out of range" in msg, msg)
    for v in ("'text'", "1.5", "NULL", "x'00'"):
        c, msg = code(lambda: db.execute("UPDATE likes SET n = %s" % v))
        T.eq(c, CONSTRAINT_DATATYPE, "a counter set to %s fails (%s)" % (v, msg))
    c, msg = code(lambda: db.execute("INSERT INTO likes VALUES('q', 2.5, 'x')"))
    T.eq(c, CONSTRAINT_DATATYPE, "an INSERT of a REAL into a counter fails")
    T.eq(one(db, "SELECT count(*) FROM bec_ops"), w1, "no failing statement signed an op")
    T.eq(n_of(db), I64_MAX, "the value is unchanged")
    # Inside a transaction: the failing statement is undone, the rest stays.
    db.execute("BEGIN")
    db.execute("INSERT INTO likes VALUES('t', 1, 'x')")
    db.execute("UPDATE likes SET n = n + 1 WHERE id='t'")
    db.execute("UPDATE likes SET n = n + 1 WHERE id='t'")
    T.eq(code(lambda: db.execute("UPDATE likes SET n = n + 1 WHERE id='p'"))[0], CONSTRAINT_DATATYPE,
         "a failing statement in a transaction")
    db.execute("COMMIT")
    T.eq(n_of(db, "t"), 3, "an INSERT and two steps of one transaction: 1 + 1 + 1")
    T.eq(one(db, "SELECT count(*) FROM bec_ops"), w1 + 1, "one op for the transaction")
    db.execute("INSERT OR REPLACE INTO likes VALUES('t', 40, 'y')")
    T.eq(n_of(db, "t"), 40, "INSERT OR REPLACE resets")
    hist = [v for (v,) in db.execute("SELECT \"values\" FROM bec_history('likes', 't')")]
    T.check('{"n":{"step":1}}' in hist and '{"n":40,"note":"y"}' in hist,
            "bec_history shows a step as {\"step\":1} and a reset as its base: %r" % hist)
    other = connect()
    other.execute("SELECT bec_keygen()")
    other.execute("SELECT bec_join(?)", (one(db, "SELECT bec_group_id()"),))
    ship(db, other)
    T.eq(rows(other), rows(db), "a replica ingesting the ops shows the same")
    T.eq(one(db, "SELECT bec_check()"), "ok", "bec_check")
    T.eq(one(other, "SELECT bec_check()"), "ok", "bec_check (other)")


def test_hot_counter():
    """Many local steps on one row (each applied without reading the row's
    earlier steps), steps that reach the 64-bit bound and come back, and a
    replica applying the same ops in other orders: the same value, and
    bec_check() (a rebuild from the ops) agrees."""
    a, b = group(2, prefix="hot")
    a.execute("INSERT INTO likes VALUES('p', 0, '')")
    everyone([a, b])
    for i in range(300):
        a.execute("UPDATE likes SET n = n + ? WHERE id='p'", (i % 7 - 2,))
    want = sum(i % 7 - 2 for i in range(300))
    T.eq(n_of(a), want, "300 steps")
    T.eq(one(a, "SELECT count(*) FROM bec_store_conflict WHERE col = -4"),
         sum(1 for i in range(300) if i % 7 != 2), "one stored step each (a step of 0 writes nothing)")
    a.execute("UPDATE likes SET n = %d WHERE id='p'" % (I64_MAX - 1))
    a.execute("UPDATE likes SET n = n + 1 WHERE id='p'")
    T.eq(n_of(a), I64_MAX, "up to 2^63-1 exactly")
    a.execute("UPDATE likes SET n = n - 5 WHERE id='p'")
    T.eq(n_of(a), I64_MAX - 5, "and down again")
    b.execute("UPDATE likes SET n = n + 10 WHERE id='p'")
    everyone([a, b], random.Random(1))
    T.eq((n_of(a), n_of(b)), (I64_MAX, I64_MAX), "b's concurrent +10: the exact sum 2^63+4, clamped")
    T.eq([one(db, "SELECT bec_check()") for db in (a, b)], ["ok"] * 2, "bec_check")


def test_hot_counter_concurrent():
    """A replica that stepped concurrently ingests a peer's many steps (each
    applied without reading the earlier ones, though none descends from
    every stored op); a third replica ingests everything in random orders:
    the same rows, and bec_check() agrees."""
    a, b, c = group(3, prefix="hc")
    a.execute("INSERT INTO likes VALUES('p', 0, ''), ('q', 0, '')")
    everyone([a, b, c])
    for i in range(150):
        a.execute("UPDATE likes SET n = n + 1 WHERE id=?", ("pq"[i % 2],))
    b.execute("UPDATE likes SET n = n + 1000, note = 'b' WHERE id='p'")
    a.execute("UPDATE likes SET note = 'a' WHERE id='q'")
    ship(a, b)
    T.eq(rows(b), [("p", 1075, "b"), ("q", 75, "a")], "b: its step and a's 150")
    T.eq(one(b, "SELECT bec_check()"), "ok", "bec_check on b")
    for seed in range(3):
        everyone([a, b, c], random.Random(seed))
    T.eq([rows(db) for db in (a, c)], [rows(b)] * 2, "every replica")
    T.eq([one(db, "SELECT bec_check()") for db in (a, c)], ["ok"] * 2, "bec_check")


def test_x8():
    """X8: A, B, C each `UPDATE likes SET n = n + 1` 10 times, concurrently,
    from n = 0: n = 30 everywhere."""
    reps = group(3, prefix="x8")
    reps[0].execute("INSERT INTO likes VALUES('p', 0, '')")
    everyone(reps)
    for db in reps:
        for _ in range(10):
            db.execute("UPDATE likes SET n = n + 1 WHERE id='p'")
        T.eq(n_of(db), 10, "alone, each replica counts its own 10")
    everyone(reps, random.Random(8))
    T.eq([n_of(db) for db in reps], [30, 30, 30], "X8: every step counts: 30 everywhere")
    T.eq([one(db, "SELECT bec_check()") for db in reps], ["ok"] * 3, "X8: bec_check")
    T.eq(one(reps[0], "SELECT count(*) FROM bec_conflicts"), 0, "steps are not conflicts")


def test_x9():
    """X9: from n = 10, A INSERT OR REPLACE ('p', 0) || B `SET n = n + 3`:
    n = 3 (the reset covers what A saw; B's concurrent step counts)."""
    a, b = group(2, prefix="x9")
    a.execute("INSERT INTO likes VALUES('p', 4, '')")
    a.execute("UPDATE likes SET n = n + 6")
    everyone([a, b])
    T.eq(n_of(b), 10, "n = 10 on both")
    a.execute("INSERT OR REPLACE INTO likes VALUES('p', 0, 'reset')")
    b.execute("UPDATE likes SET n = n + 3 WHERE id='p'")
    T.eq((n_of(a), n_of(b)), (0, 13), "before they meet")
    everyone([a, b])
    T.eq((n_of(a), n_of(b)), (3, 3), "X9: n = 3 on both")
    T.eq([one(db, "SELECT bec_check()") for db in (a, b)], ["ok"] * 2, "X9: bec_check")


def test_concurrent_resets_and_sets():
    """Two concurrent `SET n = 7` from 10 are two steps of -3: 4.  Two
    concurrent resets: the greater op's base, the other listed in
    bec_conflicts; a step concurrent with both still counts."""
    a, b, c = group(3, prefix="rs")
    a.execute("INSERT INTO likes VALUES('p', 10, ''), ('q', 10, '')")
    everyone([a, b, c])
    a.execute("UPDATE likes SET n = 7 WHERE id='p'")
    b.execute("UPDATE likes SET n = 7 WHERE id='p'")
    a.execute("INSERT OR REPLACE INTO likes VALUES('q', 100, 'a')")
    b.execute("INSERT OR REPLACE INTO likes VALUES('q', 200, 'b')")
    c.execute("UPDATE likes SET n = n + 5 WHERE id='q'")
    everyone([a, b, c], random.Random(3))
    T.eq([n_of(db) for db in (a, b, c)], [4] * 3, "two concurrent sets to 7 from 10: both steps add")
    nq = [n_of(db, "q") for db in (a, b, c)]
    T.check(nq in ([105] * 3, [205] * 3), "q: the winning reset's base + c's concurrent step: %r" % nq)
    lost = 200 if nq[0] == 105 else 100
    T.eq(a.execute("SELECT pk, \"column\", value FROM bec_conflicts").fetchall(),
         [("q", "n", lost)] + ([("q", "note", "b" if lost == 200 else "a")]),
         "the losing assignment is in bec_conflicts (and the note it wrote)")
    T.eq([one(db, "SELECT bec_check()") for db in (a, b, c)], ["ok"] * 3, "bec_check")


def test_step_not_seen_by_the_winner():
    """A step seen by one assignment but not by a deeper concurrent one that
    wins counts again on top of the winner's base."""
    a, b, c = group(3, prefix="ns")
    a.execute("INSERT INTO likes VALUES('p', 0, '')")
    everyone([a, b, c])
    b.execute("UPDATE likes SET n = n + 7 WHERE id='p'")
    ship(b, a)
    a.execute("INSERT OR REPLACE INTO likes VALUES('p', 100, 'a')")   # saw +7
    T.eq(n_of(a), 100, "a's reset covers the step it saw")
    for i in range(6):                                                # c: deeper
        c.execute("INSERT INTO likes VALUES(?, 1, '')", ("c%d" % i,))
    c.execute("INSERT OR REPLACE INTO likes VALUES('p', 50, 'c')")    # did not see +7
    everyone([a, b, c], random.Random(5))
    T.eq([n_of(db) for db in (a, b, c)], [57] * 3,
         "c's deeper reset wins; b's step, not in its causal past, counts: 50 + 7")
    T.eq([one(db, "SELECT bec_check()") for db in (a, b, c)], ["ok"] * 3, "bec_check")


def test_delete_covers():
    """A DELETE covers the assignments and steps in its causal past; a step
    concurrent with it keeps the row, on top of the fill."""
    a, b = group(2, decl="id TEXT PRIMARY KEY, n COUNTER DEFAULT 100, note TEXT", prefix="dc")
    a.execute("INSERT INTO likes VALUES('p', 5, 'x')")
    a.execute("UPDATE likes SET n = n + 1")
    everyone([a, b])
    b.execute("UPDATE likes SET n = n + 2 WHERE id='p'")
    a.execute("DELETE FROM likes WHERE id='p'")
    everyone([a, b])
    T.eq([rows(db) for db in (a, b)], [[("p", 102, None)]] * 2,
         "update || delete keeps the row: the fill 100 + the concurrent step 2")
    a.execute("DELETE FROM likes WHERE id='p'")
    everyone([a, b])
    T.eq([rows(db) for db in (a, b)], [[]] * 2, "a delete that saw everything removes the row")
    b.execute("INSERT INTO likes VALUES('p', 1, 'again')")
    b.execute("UPDATE likes SET n = n + 1")
    everyone([a, b])
    T.eq([rows(db) for db in (a, b)], [[("p", 2, "again")]] * 2,
         "a re-insert starts again: nothing covered comes back")
    T.eq([one(db, "SELECT bec_check()") for db in (a, b)], ["ok"] * 2, "bec_check")


class Hostile(HostileGroup):
    def __init__(self, n=3):
        HostileGroup.__init__(self, state, [(EVIL, "member")], n)

    def op(self, kind, preds, payload, key=EVIL):
        return HostileGroup.op(self, kind, preds, payload, key)


def state(db):
    return {"ops": sorted(db.execute("SELECT hash, valid, reason FROM bec_ops").fetchall()),
            "rows": rows(db)}


def likes_hash(db):
    return bytes.fromhex(one(db, "SELECT hash FROM bec_ops WHERE kind='schema'"))


def test_overflow_clamped_once():
    """Steps +2^62 x4 and -2^62 x4, concurrent: the exact sum is 0 in every
    order; the four + alone clamp to 2^63-1, the four - alone to -2^63; a
    replica that has clamped comes back to 0 when the rest arrives."""
    g = Hostile(4)
    g.a.execute("CREATE VIRTUAL TABLE likes USING bec(%s)" % LIKES)
    g.a.execute("INSERT INTO likes VALUES('p', 0, '')")
    g.catch_up()
    th = likes_hash(g.a)
    heads = g.heads()
    plus = [g.op("write", heads, write_payload([th], [(0, ["p"], {1: Step(BIG), 2: "+%d" % i})]))
            for i in range(4)]
    minus = [g.op("write", heads, write_payload([th], [(0, ["p"], {1: Step(-BIG), 2: "-%d" % i})]))
             for i in range(4)]
    deliver(g.reps[1], plus)
    T.eq(n_of(g.reps[1]), I64_MAX, "+2^62 x4 = 2^64: clamped to 2^63-1")
    deliver(g.reps[2], minus)
    T.eq(n_of(g.reps[2]), I64_MIN, "-2^62 x4 = -2^64: clamped to -2^63")
    deliver(g.reps[1], minus)
    deliver(g.reps[2], plus)
    T.eq((n_of(g.reps[1]), n_of(g.reps[2])), (0, 0), "the exact sum, clamped once at the end: 0")
    ok = 0
    for seed in range(12):
        db = connect()
        db.execute("SELECT bec_join(?)", (g.gid.hex(),))
        deliver(db, bodies(g.a))
        order = plus + minus
        random.Random(seed).shuffle(order)
        seen = []
        for op in order:
            deliver(db, [op])
            seen.append(n_of(db))
        ok += seen[-1] == 0 and one(db, "SELECT bec_check()") == "ok"
        db.close()
    T.eq(ok, 12, "0 after the last step in 12 orders (clamped in between or not), bec_check ok")
    g.spread(plus + minus, seed=4)
    T.eq(g.converged("overflow")["rows"][0][1], 0, "every replica: 0")


def test_hostile_steps():
    """A step that is REAL, TEXT, NULL or -2^63, or a step to a column that
    is not a counter: the op is stored, relayed and ignored as a whole
    (`constraint: counter step likes.n`), its descendant is not blocked,
    the same on every replica in every order."""
    g = Hostile(3)
    g.a.execute("CREATE VIRTUAL TABLE likes USING bec(%s)" % LIKES)
    g.a.execute("INSERT INTO likes VALUES('p', 1, '')")
    g.catch_up()
    th = likes_hash(g.a)
    heads = g.heads()
    cases = [({1: 2.5}, "constraint: counter step likes.n"),
             ({1: "7"}, "constraint: counter step likes.n"),
             ({1: None}, "constraint: counter step likes.n"),
             ({1: Step(I64_MIN)}, "constraint: counter step likes.n"),
             ({2: Step(1)}, "constraint: counter step likes.note")]
    ops = []
    for cols, why in cases:
        # each op also holds a valid change, which must not take effect
        ops.append((g.op("write", heads, write_payload(
            [th], [(0, ["ok%d" % len(ops)], {1: Step(1), 2: "fine"}), (0, ["p"], cols, 3)])), why))
    tip = g.op("write", [o for o, _ in ops], write_payload([th], [(0, ["p"], {1: Step(-I64_MAX)})]))
    good = g.op("write", [tip], write_payload([th], [(0, ["p"], {1: Step(I64_MAX), 2: "max"})]))
    g.spread([o for o, _ in ops] + [tip, good], seed=7)
    st = g.converged("hostile steps")
    for o, why in ops:
        T.eq(one(g.a, "SELECT reason FROM bec_ops WHERE hash=?", op_id(o).hex()), why, why)
        T.eq(one(g.a, "SELECT valid FROM bec_ops WHERE hash=?", op_id(o).hex()), 0, "valid = 0")
    T.eq(st["rows"], [("p", 1, "max")],
         "only the valid descendants count: 1 - (2^63-1) + (2^63-1); nothing of the bad ops")
    # Malformed (refused, never stored): a step as a key.
    bad = g.op("write", g.heads(), write_payload([th], [(0, [Step(1)], {1: 1})]))
    T.raises(lambda: g.a.execute("SELECT bec_ingest(?)", (bad,)), "malformed", "a step as a key")
    v2 = g.op("write", g.heads(), bytes([2]) + write_payload([th], [(0, ["v"], {2: "x"})])[1:])
    T.raises(lambda: g.a.execute("SELECT bec_ingest(?)", (v2,)),
             "malformed: write payload version 2: this bec reads version 3 only (made by an older bec)",
             "write payload version 2 is refused")


def test_steps_of_one_op_combined():
    """Two steps of one op to one cell combine into one step, which must lie
    in [-(2^63-1), 2^63-1] like any step (INVARIANTS.md section 7), so the
    sum stays exact: a local statement whose step would take its
    transaction's combined step out of range fails
    (SQLITE_CONSTRAINT_DATATYPE, the first step kept); a peer's op whose
    steps to one cell combine out of range is ignored whole (`constraint:
    counter step likes.n`; in payload order, as the merge combines them),
    one that stays in range applies exactly, and an
    assignment between two steps starts a new base (a value, clamped)."""
    a = R.origin("c1.db", LIKES, "likes")
    a.execute("INSERT INTO likes VALUES('p', ?, '')", (-I64_MAX,))
    a.execute("BEGIN")
    a.execute("UPDATE likes SET n = 0")                       # a step of 2^63-1
    c, msg = code(lambda: a.execute("UPDATE likes SET n = ?", (I64_MAX,)))
    T.eq(c, CONSTRAINT_DATATYPE, "a second step that takes the combination out of range fails")
    T.check("sum out of range" in msg, msg)
    a.execute("COMMIT")
    T.eq(n_of(a), 0, "the first step stays")
    b = R.joined(a, "c1b.db")
    ship(a, b)
    T.eq(n_of(b), 0, "a replica agrees")
    T.eq(one(a, "SELECT bec_check()"), "ok", "bec_check")
    # Hand-made ops.
    g = Hostile(3)
    g.a.execute("CREATE VIRTUAL TABLE likes USING bec(%s)" % LIKES)
    g.a.execute("INSERT INTO likes VALUES('p', ?, '')", (-I64_MAX,))
    g.catch_up()
    th = likes_hash(g.a)
    heads = g.heads()
    over = g.op("write", heads, write_payload([th], [
        (0, ["q"], {1: Step(1)}),
        (0, ["p"], {1: Step(I64_MAX)}), (0, ["p"], {1: Step(BIG)})]))
    fits = g.op("write", heads, write_payload([th], [
        (0, ["p"], {1: Step(BIG)}), (0, ["p"], {1: Step(BIG - 1)}), (0, ["p"], {1: Step(-BIG)}),
        (0, ["p"], {1: Step(BIG)})]))        # in range at every step of the combination
    based = g.op("write", heads, write_payload([th], [
        (0, ["r"], {1: Step(I64_MAX)}), (0, ["r"], {1: 0, 2: "reset"}, 3), (0, ["r"], {1: Step(I64_MAX)})]))
    g.spread([over, fits, based], seed=3)
    st = g.converged("steps of one op")
    T.eq(one(g.a, "SELECT reason FROM bec_ops WHERE hash=?", op_id(over).hex()),
         "constraint: counter step likes.n", "out of range combined: ignored whole")
    T.eq(one(g.a, "SELECT reason FROM bec_ops WHERE hash=?", op_id(fits).hex()), None, "in range: applies")
    T.eq(one(g.a, "SELECT reason FROM bec_ops WHERE hash=?", op_id(based).hex()), None,
         "steps either side of an assignment: applies")
    T.eq(st["rows"], [("p", 0, ""), ("r", I64_MAX, "reset")],
         "-(2^63-1) + (2^63-1) exactly; nothing of the ignored op (no row q)")


def test_random_orders():
    """Three replicas step, reset, set and delete concurrently; every
    delivery order gives the same rows and bec_check ok."""
    reps = group(3, prefix="ro")
    a, b, c = reps
    a.execute("INSERT INTO likes VALUES('p', 0, ''), ('q', 5, ''), ('r', 9, '')")
    everyone(reps)
    rng = random.Random(13)
    for step in range(40):
        db = rng.choice(reps)
        k = rng.choice("pqr")
        what = rng.random()
        try:
            if what < 0.6:
                db.execute("UPDATE likes SET n = n + ? WHERE id=?", (rng.randint(-5, 9), k))
            elif what < 0.75:
                db.execute("INSERT OR REPLACE INTO likes VALUES(?, ?, ?)", (k, rng.randint(0, 50), "r%d" % step))
            elif what < 0.85:
                db.execute("UPDATE likes SET n = ? WHERE id=?", (rng.randint(0, 50), k))
            elif what < 0.93:
                db.execute("DELETE FROM likes WHERE id=?", (k,))
            else:
                db.execute("INSERT OR IGNORE INTO likes VALUES(?, 1, 'new')", (k,))
        except sqlite3.Error as e:
            T.check(False, "step %d: %s" % (step, e))
        if rng.random() < 0.3:
            src, dst = rng.sample(reps, 2)
            ship(src, dst)
    allops = {}
    for db in reps:
        allops.update({h: bb for h, bb in db.execute("SELECT hash, body FROM bec_ops")})
    want = None
    ok = 0
    for seed in range(15):
        db = connect()
        db.execute("SELECT bec_keygen()")
        db.execute("SELECT bec_join(?)", (one(a, "SELECT bec_group_id()"),))
        order = list(allops.values())
        random.Random(seed).shuffle(order)
        for _ in range(3):
            deliver(db, order)
        got = (rows(db), sorted(db.execute("SELECT * FROM bec_conflicts").fetchall(), key=repr))
        if want is None:
            want = got
        ok += got == want and one(db, "SELECT bec_check()") == "ok"
        db.close()
    T.eq(ok, 15, "15 delivery orders: identical rows and conflicts, bec_check ok")
    everyone(reps)
    T.eq([rows(db) for db in reps], [want[0]] * 3, "the writers themselves agree")


def test_prune():
    """A pruned replica converges with an unpruned one: counters with steps
    and a losing reset in the base, later steps concurrent with the cut,
    and an ADD COLUMN ... COUNTER arriving after the prune."""
    a, b = group(2, prefix="pr")
    a.execute("SELECT bec_add_member(?, 'admin')", (pub(b),))
    a.execute("INSERT INTO likes VALUES('p', 0, ''), ('q', 10, '')")
    everyone([a, b])
    for _ in range(3):
        a.execute("UPDATE likes SET n = n + 1 WHERE id='p'")
        b.execute("UPDATE likes SET n = n + 10 WHERE id='p'")
    a.execute("INSERT OR REPLACE INTO likes VALUES('q', 1, 'a')")
    b.execute("UPDATE likes SET n = n + 4 WHERE id='q'")
    ship(b, a)
    b.execute("UPDATE likes SET n = n + 100 WHERE id='p'")     # concurrent with the cut
    k = one(a, "SELECT bec_checkpoint()")
    ship(a, b)
    ship(b, a)
    T.eq(one(a, "SELECT sealed FROM bec_checkpoints WHERE checkpoint=?", k), 1, "sealed")
    before = [bb for (bb,) in a.execute("SELECT body FROM bec_ops")]
    full = R.clone(a, "pr_full.db")
    T.check(one(a, "SELECT bec_prune()") > 0, "pruned")
    T.eq(one(a, "SELECT bec_check()"), "ok", "bec_check after the prune")
    full.execute("SELECT bec_alter('likes', 'ADD COLUMN m COUNTER DEFAULT 3')")
    full.execute("UPDATE likes SET n = n + 1000, m = m + 1 WHERE id='p'")
    full.execute("UPDATE likes SET m = m - 5 WHERE id='q'")
    b.execute("UPDATE likes SET n = n - 1 WHERE id='q'")
    later = [bb for (bb,) in full.execute("SELECT body FROM bec_ops")][len(before):]
    later += [bb for (bb,) in b.execute("SELECT body FROM bec_ops")]
    ref = R.joined(a, "pr_ref.db")
    for src in (full, b):
        ship(src, ref)
    want = ref.execute("SELECT * FROM likes ORDER BY id").fetchall()
    T.eq(want, [("p", 3 + 30 + 100 + 1000, "", 4), ("q", 1 + 4 - 1, "a", -2)],
         "the reference: every step counts, q's reset covers what it saw, m's fill + steps")
    ok = 0
    for seed in range(10):
        p = R.clone(a, "pr_p.db")
        order = list(later)
        random.Random(seed).shuffle(order)
        for _ in range(3):
            deliver(p, order)
        ok += p.execute("SELECT * FROM likes ORDER BY id").fetchall() == want
        if seed % 5 == 0:
            T.eq(one(p, "SELECT bec_check()"), "ok", "seed %d: bec_check on the pruned replica" % seed)
        p.close()
    T.eq(ok, 10, "a pruned replica shows what the unpruned one shows in 10 orders")


for name, fn in sorted(globals().items()):
    if name.startswith("test_") and callable(fn):
        fn()
R.cleanup()
T.done()
