#!/usr/bin/env python3
"""Issue 13: a table's name is a register (RENAME TO), and DROP TABLE drops
the incarnations its author saw (docs/tables.md, "Table names and
incarnations").  Every scenario runs in several delivery orders; every
replica must derive the same tables, rows, verdicts and reasons, and
bec_check() must say ok everywhere."""
import hashlib
import os
import sqlite3
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bectest import HostileGroup, T, bodies, deliver, one  # noqa: E402
from becwire import (Key, op_id, schema_create, schema_drop,  # noqa: E402
                     schema_rename_table, write_payload)

EVIL = Key(hashlib.sha256(b"issue 13 rename / hostile member").digest())
ADMIN2 = Key(hashlib.sha256(b"issue 13 rename / second admin").digest())
ADMIN3 = Key(hashlib.sha256(b"issue 13 rename / third admin").digest())

TODOS = "id TEXT PRIMARY KEY, title TEXT NOT NULL DEFAULT '', done INTEGER NOT NULL DEFAULT 0"
TODOS_COLS = [("id", "TEXT", 1), ("title", "TEXT", 0, 3, ""), ("done", "INTEGER", 0, 3, 0)]


def shown(db):
    """The bec tables db shows, by name."""
    return sorted(r[0] for r in db.execute("SELECT name FROM sqlite_schema WHERE sql LIKE "
                                           "'CREATE VIRTUAL TABLE%USING bec%'"))


def state(db):
    st = {"ops": sorted(db.execute("SELECT hash, valid, reason FROM bec_ops").fetchall()),
          "columns": db.execute("SELECT * FROM bec_columns").fetchall(),
          "shadow": sorted(r[0] for r in db.execute("SELECT name FROM sqlite_schema WHERE name LIKE '%\\_rows' "
                                                    "ESCAPE '\\'"))}
    for t in shown(db):
        st[t] = sorted(db.execute('SELECT * FROM "%s"' % t).fetchall(), key=repr)
        st[t + ".cols"] = [r[1] for r in db.execute('PRAGMA table_info("%s")' % t)]
    return st


class Group(HostileGroup):
    """Founder a (admin); ADMIN2, ADMIN3 (admins) and EVIL (a member) make
    hand-made ops; n-1 more replicas joined."""

    def __init__(self, n=3):
        HostileGroup.__init__(self, state, [(EVIL, "member"), (ADMIN2, "admin"), (ADMIN3, "admin")], n)

    def member(self, db, role="member"):
        db.execute("SELECT bec_keygen()")
        self.a.execute("SELECT bec_add_member(?, ?)", (one(db, "SELECT bec_pubkey()"), role))
        deliver(db, bodies(self.a))

    def op(self, kind, preds, payload, key=ADMIN2):
        return HostileGroup.op(self, kind, preds, payload, key)


def create_hash(db, name):
    """The create op of the incarnation db shows at name (by its rows' op
    list: the schema op whose payload creates name)."""
    for h, p in db.execute("SELECT hash, payload FROM bec_ops WHERE kind='schema' ORDER BY rowid"):
        if p[1] == 1 and p[3:3 + p[2]] == name.encode():
            last = bytes.fromhex(h)
    return last


def order(db, h):
    return (one(db, "SELECT depth FROM bec_ops WHERE hash=?", h.hex()), h)


def spread_orders(g, ops, what, seed=1):
    """Delivers ops to every replica, each in another order (given,
    reversed, shuffled): all derive one state and check ok."""
    g.spread(ops, seed=seed)
    return g.converged(what)


def test_local():
    """bec_alter('t', 'RENAME TO u') and ALTER TABLE t RENAME TO u sign one
    op each, keep the rows and the table writable under its new name; a
    member may not rename; the refusals of the author's view."""
    g = Group(n=2)
    a, b = g.reps
    g.member(b)
    a.execute("CREATE VIRTUAL TABLE todos USING bec(%s)" % TODOS)
    a.execute("CREATE VIRTUAL TABLE other USING bec(k TEXT PRIMARY KEY)")
    a.execute("CREATE TABLE plain(x)")
    a.execute("INSERT INTO todos VALUES('1', 'milk', 0)")
    n = one(a, "SELECT count(*) FROM bec_ops")
    for change, want in [("RENAME TO other", "already a bec table named other"),
                         ("RENAME TO OTHER", "already a bec table named other"),
                         ("RENAME TO plain", "taken by a local table"),
                         ("RENAME TO Todos", "has that name already"),
                         ("RENAME TO bec_t", "reserved"),
                         ("RENAME TO t_rows", "reserved for shadow tables")]:
        T.raises(lambda: a.execute("SELECT bec_alter('todos', ?)", (change,)), want, change)
    T.raises(lambda: a.execute("ALTER TABLE todos RENAME TO other"), "", "ALTER TABLE to a bec table's name")
    T.eq(one(a, "SELECT count(*) FROM bec_ops"), n, "no op signed by a refused rename")
    a.execute("SELECT bec_alter('todos', 'RENAME TO tasks')")
    T.eq(shown(a), ["other", "tasks"], "bec_alter: shown under the new name")
    T.eq(a.execute("SELECT * FROM tasks").fetchall(), [("1", "milk", 0)], "rows kept")
    a.execute("INSERT INTO tasks VALUES('2', 'eggs', 1)")
    a.execute("ALTER TABLE tasks RENAME TO jobs")
    T.eq(shown(a), ["jobs", "other"], "ALTER TABLE RENAME TO")
    T.eq(one(a, "SELECT count(*) FROM sqlite_schema WHERE name IN ('tasks_rows', 'todos_rows')"), 0,
         "the old shadow tables are gone")
    T.eq(one(a, "SELECT count(*) FROM sqlite_schema WHERE name = 'jobs_rows'"), 1, "the shadow table follows")
    a.execute("UPDATE jobs SET done = 1 WHERE id = '1'")
    T.eq(a.execute("SELECT * FROM jobs ORDER BY id").fetchall(), [("1", "milk", 1), ("2", "eggs", 1)],
         "writable under the new name")
    T.eq(one(a, "SELECT count(*) FROM bec_ops WHERE kind='schema'"), 4, "two creates, two renames")
    T.eq(sorted(set(r[0] for r in a.execute("SELECT tbl FROM bec_columns"))), ["jobs", "other"],
         "bec_columns names the table by its name now")
    deliver(b, bodies(a))
    T.eq(shown(b), ["jobs", "other"], "a peer shows the table under its new name")
    T.raises(lambda: b.execute("SELECT bec_alter('jobs', 'RENAME TO mine')"), "unauthorized",
             "a member may not rename")
    T.raises(lambda: b.execute("ALTER TABLE jobs RENAME TO mine"), "unauthorized",
             "nor through ALTER TABLE")
    T.eq(shown(b), ["jobs", "other"], "the refused ALTER TABLE changes nothing")
    g.converged("local renames")
    # a reopened database shows the same
    path = os.path.join(os.environ.get("TMPDIR", "/tmp"), "bec-rename-%d.db" % os.getpid())
    if os.path.exists(path):
        os.unlink(path)
    a.execute("VACUUM INTO ?", (path,))
    from bectest import connect
    c = connect(path)
    T.eq(c.execute("SELECT * FROM jobs ORDER BY id").fetchall(), [("1", "milk", 1), ("2", "eggs", 1)],
         "reopened: the renamed table and its rows")
    T.eq(one(c, "SELECT bec_check()"), "ok", "reopened: checks")
    c.close()
    os.unlink(path)


def test_rename_races():
    """A renames todos to tasks ‖ B writes, ADMIN2 adds a column, ADMIN3
    renames it to jobs: one name, the greater rename's; every write and the
    added column in it; in every delivery order."""
    g = Group(n=5)
    a, b = g.reps[0], g.reps[1]
    g.member(b)
    a.execute("CREATE VIRTUAL TABLE todos USING bec(%s)" % TODOS)
    a.execute("INSERT INTO todos VALUES('1', 'milk', 0)")
    g.catch_up()
    th = create_hash(a, "todos")
    base = g.heads()
    a.execute("SELECT bec_alter('todos', 'RENAME TO tasks')")
    a.execute("INSERT INTO tasks VALUES('2', 'after rename', 0)")
    b.execute("UPDATE todos SET done = 1 WHERE id = '1'")
    b.execute("INSERT INTO todos VALUES('3', 'from b', 0)")
    from becwire import schema_add
    add = g.op("schema", base, schema_add("todos", th, ("prio", "INTEGER", 0, 3, 7)), key=ADMIN2)
    ren = g.op("schema", base, schema_rename_table("jobs", th), key=ADMIN3)
    mine = bytes.fromhex(one(a, "SELECT hash FROM bec_ops WHERE kind='schema' ORDER BY rowid DESC LIMIT 1"))
    st = spread_orders(g, bodies(a) + bodies(b) + [add, ren], "rename races")
    name = "tasks" if order(a, mine) > order(a, op_id(ren)) else "jobs"
    T.eq(shown(a), [name], "the greater rename's name: %s" % name)
    T.eq(st[name + ".cols"], ["id", "title", "done", "prio"], "the concurrent ADD COLUMN applies")
    T.eq(st[name], [("1", "milk", 1, 7), ("2", "after rename", 0, 7), ("3", "from b", 0, 7)],
         "every write, by the old name or the new, lands")
    T.eq(one(a, "SELECT count(*) FROM bec_ops WHERE reason IS NOT NULL"), 0, "nothing ignored")


def test_same_name():
    """Two incarnations renamed concurrently to one name: the one renamed by
    the greater op is shown, the other hidden with its rows kept; when the
    shown one is renamed away, both are shown again."""
    g = Group(n=5)
    a = g.a
    a.execute("CREATE VIRTUAL TABLE t1 USING bec(k TEXT PRIMARY KEY, v TEXT)")
    a.execute("CREATE VIRTUAL TABLE t2 USING bec(k TEXT PRIMARY KEY, v TEXT)")
    a.execute("INSERT INTO t1 VALUES('1', 'one')")
    a.execute("INSERT INTO t2 VALUES('2', 'two')")
    g.catch_up()
    h1, h2 = create_hash(a, "t1"), create_hash(a, "t2")
    base = g.heads()
    r1 = g.op("schema", base, schema_rename_table("shared", h1), key=ADMIN2)
    r2 = g.op("schema", base, schema_rename_table("Shared", h2), key=ADMIN3)
    st = spread_orders(g, [r1, r2], "two renames to one name")
    one_wins = op_id(r1) > op_id(r2)
    name = "shared" if one_wins else "Shared"
    T.eq(shown(a), [name], "one incarnation shown, the other hidden")
    T.eq(st[name], [("1", "one")] if one_wins else [("2", "two")], "the greater rename's table")
    T.eq(one(a, "SELECT count(*) FROM bec_ops WHERE reason IS NOT NULL"), 0, "no op ignored")
    # the hidden one's rows are kept: a write to it (by a peer that saw it)
    hidden = h2 if one_wins else h1
    w = g.op("write", g.heads(), write_payload([hidden], [(0, ["9"], {1: "kept"})]), key=EVIL)
    g.spread([w], seed=4)
    g.converged("a write to the hidden incarnation")
    # the shown one is renamed away: both are shown
    a.execute("SELECT bec_alter(?, 'RENAME TO moved')", (name,))
    st = spread_orders(g, bodies(a), "the collision goes away")
    T.eq(sorted(s.lower() for s in shown(a)), ["moved", "shared"], "both shown again")
    other = [s for s in shown(a) if s != "moved"][0]
    T.eq(other, "Shared" if one_wins else "shared", "the hidden one keeps its spelling")
    T.eq(st[other], sorted([("2", "two") if one_wins else ("1", "one"), ("9", "kept")]),
         "its rows, and the write made while it was hidden")


def test_drop_vs_create():
    """A drops todos ‖ B drops it and creates todos again: B's create was
    made concurrently with A's drop, which does not list it: it survives,
    whichever drop is greater, in every order."""
    g = Group(n=5)
    a, b = g.reps[0], g.reps[1]
    g.member(b, "admin")
    a.execute("CREATE VIRTUAL TABLE todos USING bec(%s)" % TODOS)
    a.execute("INSERT INTO todos VALUES('1', 'old', 0)")
    g.catch_up()
    a.execute("DROP TABLE todos")
    b.execute("DROP TABLE todos")
    b.execute("CREATE VIRTUAL TABLE todos USING bec(%s, note TEXT)" % TODOS)
    b.execute("INSERT INTO todos VALUES('2', 'new', 0, 'n')")
    st = spread_orders(g, bodies(a) + bodies(b), "drop racing a create")
    T.eq(st.get("todos"), [("2", "new", 0, "n")], "the concurrent create survives the drop")
    T.eq(st["todos.cols"], ["id", "title", "done", "note"], "its columns")
    # a later drop lists it and removes it
    a.execute("DROP TABLE todos")
    g.spread(bodies(a), seed=9)
    g.converged("a drop that saw it")
    T.eq(shown(a), [], "dropped")


def test_drop_many_incarnations():
    """A hostile admin makes 300 concurrent creates of todos (more than one
    drop op lists, BEC_DROP_MAX = 255): DROP TABLE still succeeds, signing
    two drop ops in its transaction, and every replica drops them all."""
    g = Group(n=3)
    a = g.a
    heads = g.heads()
    creates = [g.op("schema", heads, schema_create("todos", TODOS_COLS[:2] + [("n%d" % i, "INTEGER", 0)]))
               for i in range(300)]
    deliver(a, creates)
    T.eq(shown(a), ["todos"], "one of the 300 incarnations shows")
    before = one(a, "SELECT count(*) FROM bec_ops WHERE kind='schema'")
    a.execute("DROP TABLE todos")
    T.eq(one(a, "SELECT count(*) FROM bec_ops WHERE kind='schema'") - before, 2,
         "two drop ops (255 + 45 incarnations)")
    T.eq(shown(a), [], "every incarnation is dropped")
    st = spread_orders(g, bodies(a), "300 incarnations dropped", seed=3)
    T.eq(st["columns"], [], "no replica shows a column of todos")


def test_drop_vs_rename():
    """A drops todos ‖ ADMIN2 renames it: the incarnation is dropped (a drop
    wins over concurrent renames), and an alter of it does nothing; a drop
    listing a hidden incarnation drops it too."""
    g = Group(n=5)
    a = g.a
    a.execute("CREATE VIRTUAL TABLE todos USING bec(%s)" % TODOS)
    a.execute("INSERT INTO todos VALUES('1', 'x', 0)")
    g.catch_up()
    th = create_hash(a, "todos")
    base = g.heads()
    a.execute("DROP TABLE todos")
    ren = g.op("schema", base, schema_rename_table("tasks", th))
    from becwire import schema_add
    add = g.op("schema", [ren], schema_add("tasks", th, ("p", "INTEGER", 0)))
    spread_orders(g, bodies(a) + [ren, add], "drop racing a rename")
    T.eq(shown(a), [], "dropped, not renamed")
    # hidden incarnations at a name are listed by a drop there
    a.execute("CREATE VIRTUAL TABLE x1 USING bec(k TEXT PRIMARY KEY)")
    a.execute("CREATE VIRTUAL TABLE x2 USING bec(k TEXT PRIMARY KEY)")
    g.catch_up()
    base = g.heads()
    r1 = g.op("schema", base, schema_rename_table("y", create_hash(a, "x1")), key=ADMIN2)
    r2 = g.op("schema", base, schema_rename_table("y", create_hash(a, "x2")), key=ADMIN3)
    deliver(a, [r1, r2])
    T.eq(shown(a), ["y"], "one y shown")
    a.execute("DROP TABLE y")
    dropped = one(a, "SELECT payload FROM bec_ops WHERE kind='schema' ORDER BY rowid DESC LIMIT 1")
    T.eq(dropped[:2 + 1 + 1], bytes([3, 2, 1]) + b"y", "a drop payload of y")
    T.eq(dropped[4], 2, "listing both incarnations named y, the hidden one too")
    spread_orders(g, bodies(a), "a drop of a shown and a hidden incarnation")
    T.eq(shown(a), [], "both gone")


def test_hostile():
    """Hand-made ops: a rename of an incarnation not in its causal past, to
    a reserved name, by a member; a drop listing an op outside its causal
    past, a write op, nothing, unsorted; an older payload version: refused,
    or stored and ignored with the same reason everywhere."""
    g = Group(n=5)
    a = g.a
    a.execute("CREATE VIRTUAL TABLE todos USING bec(%s)" % TODOS)
    a.execute("INSERT INTO todos VALUES('1', 'x', 0)")
    g.catch_up()
    th = create_hash(a, "todos")
    wop = bytes.fromhex(one(a, "SELECT hash FROM bec_ops WHERE kind='write'"))
    base = g.heads()
    late = g.op("schema", base, schema_create("late", [("k", "TEXT", 1)]))
    prev = g.heads()

    def refused(payload, want, key=ADMIN2, preds=None):
        op = g.op("schema", preds or prev, payload, key=key)
        T.raises(lambda: a.execute("SELECT bec_ingest(?)", (op,)), want, "refused: %s" % want)

    refused(schema_drop("late", [op_id(late)]), "not in its causal past")
    refused(schema_drop("todos", [th, op_id(late)]), "not in its causal past")
    refused(schema_drop("todos", []), "malformed")
    refused(schema_drop("todos", sorted([th, wop], reverse=True), sort=False), "malformed")
    refused(schema_drop("todos", [th, th], sort=False), "malformed")
    refused(schema_rename_table("tasks", th) + b"\x00", "malformed")
    refused(bytes([2]) + schema_rename_table("tasks", th)[1:], "version 2")
    refused(bytes([2, 2, 5]) + b"todos", "version 2")
    refused(schema_rename_table("tasks", th), "unauthorized", key=EVIL)
    ops, want = [], {}

    def add(payload, why, preds=None):
        op = g.op("schema", preds or prev, payload)
        ops.append(op)
        want[op] = why
        return op
    add(schema_rename_table("nope", op_id(late)), "not in the op's causal past")
    add(schema_rename_table("bec_evil", th), "reserved")
    add(schema_rename_table("sqlite_x", th), "reserved")
    add(schema_rename_table("x\x01", th), "bad table name")
    add(schema_rename_table("nope", wop), "not a create op the merge applies")
    add(schema_drop("todos", [wop]), "not a create op the merge applies")
    add(schema_rename_table("todos", th), None)       # the same name: harmless
    st = spread_orders(g, [late] + ops, "hostile ops")
    for op, why in want.items():
        r = one(a, "SELECT reason FROM bec_ops WHERE hash=?", op_id(op).hex())
        if why is None:
            T.eq(r, None, "applied")
        else:
            T.check(r is not None and why in r, "ignored: %r has %r" % (r, why))
    T.eq(shown(a), ["late", "todos"], "nothing renamed or dropped")
    T.eq(st["todos"], [("1", "x", 0)], "rows untouched")


def test_invalidated_rename():
    """A rename whose author is removed concurrently: the table shows its
    old name again on every replica, rows kept."""
    g = Group(n=5)
    a, b = g.reps[0], g.reps[1]
    g.member(b, "admin")
    a.execute("CREATE VIRTUAL TABLE todos USING bec(%s)" % TODOS)
    a.execute("INSERT INTO todos VALUES('1', 'x', 0)")
    g.catch_up()
    b.execute("SELECT bec_alter('todos', 'RENAME TO mine')")
    b.execute("INSERT INTO mine VALUES('2', 'y', 1)")
    a.execute("SELECT bec_remove_member(?)", (one(b, "SELECT bec_pubkey()"),))
    st = spread_orders(g, bodies(a) + bodies(b), "a rename whose author was removed")
    T.eq(shown(a), ["todos"], "the old name again")
    T.eq(st["todos"], [("1", "x", 0)], "rows kept; the removed author's write is not shown")


def test_alter_table_uncovers():
    """ALTER TABLE renames the shown one of two incarnations named y: the
    hidden one is shown at y (at the next merge or bec_check(): SQLite's
    statement is under way), with its rows."""
    g = Group(n=3)
    a, b = g.reps[0], g.reps[1]
    a.execute("CREATE VIRTUAL TABLE x1 USING bec(k TEXT PRIMARY KEY)")
    a.execute("CREATE VIRTUAL TABLE x2 USING bec(k TEXT PRIMARY KEY)")
    a.execute("INSERT INTO x1 VALUES('one')")
    a.execute("INSERT INTO x2 VALUES('two')")
    g.catch_up()
    base = g.heads()
    r1 = g.op("schema", base, schema_rename_table("y", create_hash(a, "x1")), key=ADMIN2)
    r2 = g.op("schema", base, schema_rename_table("y", create_hash(a, "x2")), key=ADMIN3)
    g.spread([r1, r2], seed=3)
    first = ("one",) if op_id(r1) > op_id(r2) else ("two",)
    T.eq(a.execute("SELECT * FROM y").fetchall(), [first], "the greater rename's table at y")
    a.execute("ALTER TABLE y RENAME TO z")
    T.eq(one(a, "SELECT bec_check()"), "ok", "checks")
    T.eq(shown(a), ["y", "z"], "the hidden one shown at y")
    T.eq(a.execute("SELECT * FROM z").fetchall(), [first], "the renamed one at z")
    g.spread(bodies(a), seed=4)
    st = g.converged("uncovered")
    T.eq(sorted(st["y"] + st["z"]), [("one",), ("two",)], "both tables' rows")


def test_check_finds_forged_catalog():
    """bec_check() recomputes the names from the ops: a catalog that shows a
    renamed table under its old name is reported."""
    from bectest import connect
    d = connect()
    d.execute("SELECT bec_keygen()")
    d.execute("SELECT bec_create_group()")
    d.execute("CREATE VIRTUAL TABLE t USING bec(k TEXT PRIMARY KEY)")
    d.execute("SELECT bec_alter('t', 'RENAME TO u')")
    T.eq(one(d, "SELECT bec_check()"), "ok", "checks")
    d.execute("UPDATE bec_store_table SET name = 't'")
    r = one(d, "SELECT bec_check()")
    T.check("table t: the catalog names schema op" in r and "table u:" in r, "reported: %r" % r)


T.run([test_drop_many_incarnations, test_check_finds_forged_catalog, test_alter_table_uncovers, test_local, test_rename_races, test_same_name,
       test_drop_vs_create, test_drop_vs_rename,
       test_hostile, test_invalidated_rename])
T.done()
