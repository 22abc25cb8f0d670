"""test_alter.py - schema evolution of bec tables (issue 13, ../shared/INVARIANTS.md
section 8; docs/tables.md "Schema evolution"): bec_alter('t', 'ADD COLUMN ...')
keeps the rows, which show the new column's DEFAULT; writes made against the
old schema concurrently merge; two admins adding the same name converge on
one column; hand-made ADD ops and writes naming ADD ops are refused, or stored
and ignored with the same reason on every replica in every delivery order.

    BEC_EXT=$PWD/build/bec /usr/bin/python3 test/py/test_alter.py
"""
import hashlib
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bectest import HostileGroup, code, T, bodies, connect, deliver, one  # noqa: E402
from becwire import (Key, op_id, schema_add, schema_create, schema_drop,  # noqa: E402
                     write_payload)

EVIL = Key(hashlib.sha256(b"issue 13 alter / hostile member").digest())
ADMIN2 = Key(hashlib.sha256(b"issue 13 alter / second admin").digest())
ADMIN3 = Key(hashlib.sha256(b"issue 13 alter / third admin").digest())

CONSTRAINT_CHECK = 275
CONSTRAINT_NOTNULL = 1299
CONSTRAINT_DATATYPE = 3091

TODOS = ("id TEXT PRIMARY KEY, title TEXT NOT NULL DEFAULT '', "
         "done INTEGER NOT NULL DEFAULT 0 CHECK (done IN (0,1))")
TODOS_COLS = [("id", "TEXT", 1), ("title", "TEXT", 0, 3, ""),
              ("done", "INTEGER", 0, 3, 0)]


def state(db):
    """Everything a replica derives: ops' verdicts, each table's rows and
    columns, the conflicts."""
    st = {"ops": sorted(db.execute("SELECT hash, valid, reason FROM bec_ops").fetchall()),
          "columns": db.execute("SELECT * FROM bec_columns").fetchall(),
          "conflicts": sorted(db.execute("SELECT * FROM bec_conflicts").fetchall(), key=repr)}
    for t in [r[0] for r in db.execute("SELECT name FROM sqlite_schema WHERE sql LIKE "
                                       "'CREATE VIRTUAL TABLE%USING bec%' ORDER BY name")]:
        st[t] = sorted(db.execute('SELECT * FROM "%s"' % t).fetchall(), key=repr)
        st[t + ".cols"] = [r[1] for r in db.execute('PRAGMA table_info("%s")' % t)]
    return st


def reason(db, body):
    return one(db, "SELECT reason FROM bec_ops WHERE hash=?", op_id(body).hex())



class Group(HostileGroup):
    """Founder a (admin); ADMIN2 (an admin) and EVIL (a member) make hand-made
    ops; n-1 more replicas joined and hold a's ops."""

    def __init__(self, n=3):
        HostileGroup.__init__(self, state, [(EVIL, "member"), (ADMIN2, "admin")], n)

    def member(self, db, role="member"):
        """Makes replica db a member with a key of its own."""
        db.execute("SELECT bec_keygen()")
        self.a.execute("SELECT bec_add_member(?, ?)", (one(db, "SELECT bec_pubkey()"), role))
        deliver(db, bodies(self.a))

    def op(self, kind, preds, payload, key=EVIL):
        return HostileGroup.op(self, kind, preds, payload, key)


def schema_hash(db):
    """The hash of db's first schema op (the tests' one create)."""
    return bytes.fromhex(one(db, "SELECT hash FROM bec_ops WHERE kind='schema' LIMIT 1"))


def test_sql_surface():
    """ADD COLUMN on one replica: rows kept with the DEFAULT, the new column's
    constraints enforced at the statement, bec_columns, refusals that sign
    nothing, and a reopened database that shows the same table."""
    path = os.path.join(tempfile.mkdtemp(prefix="bec-alter-"), "a.db")
    db = connect(path)
    db.execute("SELECT bec_keygen()")
    db.execute("SELECT bec_create_group()")
    db.execute("CREATE VIRTUAL TABLE todos USING bec(%s)" % TODOS)
    db.execute("INSERT INTO todos VALUES('a', 'milk', 0), ('b', 'eggs', 1)")
    opid = one(db, "SELECT bec_alter('todos', 'ADD COLUMN priority INTEGER NOT NULL DEFAULT 5 "
                   "CHECK (priority BETWEEN 0 AND 9)')")
    T.eq(one(db, "SELECT kind FROM bec_ops WHERE hash=?", opid), "schema", "bec_alter returns its op's id")
    T.eq(db.execute("SELECT * FROM todos ORDER BY id").fetchall(),
         [("a", "milk", 0, 5), ("b", "eggs", 1, 5)], "rows kept, the new column shows its DEFAULT")
    db.execute("INSERT INTO todos VALUES('c', 'tea', 0, 2)")
    db.execute("INSERT INTO todos(id, title) VALUES('d', 'jam')")
    db.execute("UPDATE todos SET priority = 9 WHERE id = 'a'")
    T.eq(db.execute("SELECT id, priority FROM todos ORDER BY id").fetchall(),
         [("a", 9), ("b", 5), ("c", 2), ("d", 5)], "the new column is written and read")
    n = one(db, "SELECT count(*) FROM bec_ops")
    T.eq(code(lambda: db.execute("UPDATE todos SET priority = 10 WHERE id = 'a'"))[0], CONSTRAINT_CHECK,
         "the added column's CHECK holds at the statement")
    T.eq(code(lambda: db.execute("UPDATE todos SET priority = NULL WHERE id = 'a'"))[0], CONSTRAINT_NOTNULL,
         "the added column's NOT NULL holds at the statement")
    T.eq(one(db, "SELECT count(*) FROM bec_ops"), n, "a failing statement signs nothing")
    db.execute("SELECT bec_alter('todos', 'ADD note TEXT COLLATE NOCASE')")
    db.execute("UPDATE todos SET note = 'Hello' WHERE id = 'b'")
    T.eq(one(db, "SELECT id FROM todos WHERE note = 'HELLO'"), "b", "COLLATE of an added column")
    T.eq(db.execute("SELECT name, type, \"notnull\", dflt, \"check\", merge FROM bec_columns "
                    "WHERE tbl='todos' ORDER BY cid").fetchall(),
         [("id", "TEXT", 1, None, None, "key"), ("title", "TEXT", 1, "''", None, "lww"),
          ("done", "INTEGER", 1, "0", "done IN (0,1)", "lww"),
          ("priority", "INTEGER", 1, "5", "priority BETWEEN 0 AND 9", "lww"),
          ("note", "TEXT", 0, None, None, "lww")], "bec_columns lists the added columns")
    T.eq(one(db, "SELECT bec_check()"), "ok", "bec_check() after alters")

    db.execute("CREATE VIRTUAL TABLE slots USING bec(id TEXT PRIMARY KEY, a INTEGER, b INTEGER, CHECK (a < b))")
    n = one(db, "SELECT count(*) FROM bec_ops")
    for change, want in [
            ("ADD COLUMN Priority TEXT", "has a column of that name"),
            ("ADD COLUMN title TEXT", "has a column of that name"),
            ("ADD COLUMN k2 TEXT PRIMARY KEY", "never a key column"),
            ("ADD COLUMN u TEXT UNIQUE", "UNIQUE is not supported"),
            ("ADD COLUMN r TEXT REFERENCES todos(id)", "FOREIGN KEY is not supported"),
            ("ADD COLUMN nn INTEGER NOT NULL", "NOT NULL needs a constant DEFAULT"),
            ("ADD COLUMN x INTEGER CHECK (x < done)", "no such column"),
            ("ADD COLUMN x INTEGER DEFAULT 3 CHECK (x < 2)", "the DEFAULTs fail CHECK"),
            ("ADD COLUMN t TEXT DEFAULT (random())", "not a constant"),
            ("ADD COLUMN bad TYPE(", "unsupported type"),
            ("RENAME COLUMN nope TO x", "has no column nope"),
            ("RENAME COLUMN title TO Done", "has a column of that name"),
            ("RENAME COLUMN title TO bad\x01", "bad column name"),
            ("RENAME COLUMN title", "TO is missing"),
            ("DROP COLUMN id", "a key column cannot be dropped"),
            ("RENAME COLUMN id TO ident", "a key column cannot be renamed"),
            ("DROP COLUMN nope", "has no column nope"),
            ("DROP COLUMN note extra", "unexpected"),
            ("RENAME TO todos", "has that name already"),
            ("RENAME TO TODOS", "has that name already"),
            ("RENAME TO slots", "already a bec table named slots"),
            ("RENAME TO bec_x", "reserved"),
            ("RENAME TO sqlite_x", "reserved"),
            ("RENAME TO", "the new name is missing"),
            ("RENAME TO a b", "unexpected"),
            ("TRUNCATE", "unsupported change")]:
        T.raises(lambda: db.execute("SELECT bec_alter('todos', ?)", (change,)), want, change)
    T.raises(lambda: db.execute("SELECT bec_alter('nope', 'ADD COLUMN x TEXT')"), "no bec table nope",
             "an unknown table")
    T.raises(lambda: db.execute("SELECT bec_alter('todos', NULL)"), "give a table name", "NULL change")
    T.raises(lambda: db.execute("SELECT bec_alter('slots', 'DROP COLUMN b')"),
             "a CHECK of several columns reads it", "a merge group's column cannot be dropped")
    db.execute("BEGIN")
    db.execute("INSERT INTO todos(id) VALUES('e')")
    T.raises(lambda: db.execute("SELECT bec_alter('todos', 'ADD COLUMN y TEXT')"), "commit the writes",
             "an alter after writes of the same transaction")
    db.execute("ROLLBACK")
    T.eq(one(db, "SELECT count(*) FROM bec_ops"), n, "refused alters sign nothing")
    db.execute("SELECT bec_alter('todos', 'RENAME COLUMN done TO finished')")
    db.execute("SELECT bec_alter('todos', 'DROP COLUMN note')")
    T.eq([r[1] for r in db.execute("PRAGMA table_info(todos)")], ["id", "title", "finished", "priority"],
         "renamed and dropped")
    T.eq(code(lambda: db.execute("UPDATE todos SET finished = 2 WHERE id = 'a'"))[0], CONSTRAINT_CHECK,
         "a renamed column keeps its CHECK (recorded with the old name)")
    db.execute("UPDATE todos SET finished = 1 WHERE id = 'a'")
    db.execute("INSERT INTO todos VALUES('n', 'new', 1, 0)")
    T.eq(db.execute("SELECT name, \"check\" FROM bec_columns WHERE tbl='todos' ORDER BY cid").fetchall(),
         [("id", None), ("title", None), ("finished", "done IN (0,1)"),
          ("priority", "priority BETWEEN 0 AND 9")], "bec_columns: current names, CHECKs as recorded")
    db.execute("SELECT bec_alter('todos', 'ADD COLUMN note INTEGER DEFAULT 1')")
    T.eq(db.execute("SELECT id, note FROM todos WHERE id IN ('b', 'n') ORDER BY id").fetchall(),
         [("b", 1), ("n", 1)], "a new column of a dropped one's name starts from its DEFAULT")
    T.eq(one(db, "SELECT bec_check()"), "ok", "bec_check() after renames and drops")
    db.execute("UPDATE bec_store_column SET name = 'forged' WHERE name = 'finished'")
    T.check("catalog's columns are not the ones its ops give" in one(db, "SELECT bec_check()"),
            "bec_check() finds a forged column catalog")
    db.execute("UPDATE bec_store_column SET name = 'finished' WHERE name = 'forged'")
    db.execute("SELECT bec_alter('todos', 'DROP COLUMN note')")
    db.close()

    db = connect(path)
    T.eq(db.execute("SELECT id, finished, priority FROM todos ORDER BY id").fetchall(),
         [("a", 1, 9), ("b", 1, 5), ("c", 0, 2), ("d", 0, 5), ("n", 1, 0)], "reopened: the same table")
    db.execute("INSERT INTO todos(id, priority) VALUES('z', 1)")
    T.eq(one(db, "SELECT bec_check()"), "ok", "bec_check() after reopening")
    db.execute("DROP TABLE todos")
    T.raises(lambda: db.execute("SELECT bec_alter('todos', 'ADD COLUMN y TEXT')"), "no bec table",
             "a dropped table")
    db.execute("CREATE VIRTUAL TABLE s USING bec(k TEXT PRIMARY KEY, strict=1)")
    T.raises(lambda: db.execute("SELECT bec_alter('s', 'ADD COLUMN v VARCHAR(3)')"), "strict table",
             "a strict table's added column has a strict type")
    db.execute("SELECT bec_alter('s', 'ADD COLUMN v INTEGER')")
    T.eq(code(lambda: db.execute("INSERT INTO s VALUES('k', 'x')"))[0], CONSTRAINT_DATATYPE,
         "strict type of an added column")
    db.execute("INSERT INTO s VALUES('k', '7')")
    T.eq(db.execute("SELECT v, typeof(v) FROM s").fetchall(), [(7, "integer")], "converted as STRICT does")


def test_concurrent_add_and_write():
    """X5: A adds priority while B inserts and updates with the old schema:
    B's row shows the DEFAULT, every row has the column, on both."""
    g = Group(n=2)
    a, b = g.reps
    a.execute("CREATE VIRTUAL TABLE todos USING bec(%s)" % TODOS)
    a.execute("INSERT INTO todos VALUES('1', 'old', 0)")
    g.member(b)
    a.execute("SELECT bec_alter('todos', 'ADD COLUMN priority INTEGER NOT NULL DEFAULT 0')")
    a.execute("UPDATE todos SET priority = 3 WHERE id = '1'")
    b.execute("INSERT INTO todos VALUES('b1', 'from b', 1)")
    b.execute("UPDATE todos SET title = 'old, edited' WHERE id = '1'")
    deliver(a, bodies(b))
    deliver(b, bodies(a))
    for db in (a, b):
        T.eq(db.execute("SELECT * FROM todos ORDER BY id").fetchall(),
             [("1", "old, edited", 0, 3), ("b1", "from b", 1, 0)], "X5 on both replicas")
        T.eq(one(db, "SELECT bec_check()"), "ok", "X5 checks")
    T.eq(state(a), state(b), "X5: the same derived state")
    # now b writes the new column too (its write lists the ADD op)
    b.execute("UPDATE todos SET priority = 8 WHERE id = 'b1'")
    deliver(a, bodies(b))
    T.eq(one(a, "SELECT priority FROM todos WHERE id='b1'"), 8, "a write naming the ADD op merges")


def test_same_name():
    """X7: two admins concurrently add `priority` with different DEFAULTs:
    one column, the one added by the greater (depth, hash) op, everywhere; a
    write to the hidden column is kept but not shown."""
    g = Group(n=3)
    a = g.a
    a.execute("CREATE VIRTUAL TABLE todos USING bec(%s)" % TODOS)
    a.execute("INSERT INTO todos VALUES('1', 'x', 0)")
    g.catch_up()
    th = schema_hash(a)
    base = g.heads()
    mine = one(a, "SELECT bec_alter('todos', 'ADD COLUMN priority INTEGER NOT NULL DEFAULT 1')")
    theirs = g.op("schema", base, schema_add("todos", th, ("priority", "INTEGER", 0, 3, 2)), key=ADMIN2)
    # a write by EVIL on top of the hand-made ADD only, writing its column
    w = g.op("write", [theirs], write_payload([th], [(0, ["1"], {3: 7}, 4)], adds=[[op_id(theirs)]]))
    ops = bodies(a) + [theirs, w]
    g.spread(ops, seed=7)
    st = g.converged("X7")
    T.eq(st["todos.cols"], ["id", "title", "done", "priority"], "X7: one priority column")
    win = max([bytes.fromhex(mine), op_id(theirs)])
    want = 1 if win == bytes.fromhex(mine) else 2
    T.eq(st["todos"], [("1", "x", 0, 7 if want == 2 else 1)],
         "X7: the column of the greater op shows (its DEFAULT, or the write to it)")
    T.eq([r[1] for r in st["ops"]].count(0), 0, "both ADD ops and the write are valid")


def test_hostile():
    """Hand-made ADD ops and writes naming ADD ops: malformed bytes refused at
    acceptance, a member's ADD refused as unauthorized, the rest stored and
    ignored with one reason on every replica in three delivery orders."""
    g = Group(n=3)
    a = g.a
    a.execute("CREATE VIRTUAL TABLE todos USING bec(%s)" % TODOS)
    a.execute("CREATE VIRTUAL TABLE other USING bec(k INTEGER PRIMARY KEY)")
    a.execute("INSERT INTO todos VALUES('1', 'x', 0)")
    g.catch_up()
    th, oh = [bytes.fromhex(r[0]) for r in a.execute("SELECT hash FROM bec_ops WHERE kind='schema'")]
    prev = g.heads()
    wop = [bytes.fromhex(r[0]) for r in a.execute("SELECT hash FROM bec_ops WHERE kind='write'")][0]

    def refused(payload, want, key=ADMIN2, kind="schema"):
        op = g.op(kind, prev, payload, key=key)
        T.raises(lambda: a.execute("SELECT bec_ingest(?)", (op,)), want, "refused: %s" % want)

    good = schema_add("todos", th, ("prio", "INTEGER", 0, 3, 0), checks=[("", "prio >= 0", [0])])
    refused(good[:-3], "malformed")
    refused(good + b"\x00", "malformed")
    refused(schema_add("todos", th, ("prio", "INTEGER", 1)), "malformed")
    refused(schema_add("todos", th, ("prio", "INTEGER", 0)).replace(bytes([3, 3]), bytes([3, 9]), 1), "malformed")
    refused(good, "unauthorized", key=EVIL)

    ops, want = [], {}

    def add(kind, payload, why, preds=None, key=ADMIN2):
        op = g.op(kind, preds or prev, payload, key=key)
        ops.append(op)
        want[op] = why
        return op

    prio = add("schema", good, None)
    add("schema", schema_add("todos", bytes(32), ("x", "TEXT", 0)), "not in the op's causal past")
    add("schema", schema_add("todos", wop, ("x", "TEXT", 0)), "not a create op the merge applies")
    add("schema", schema_add("todos", th, ("TITLE", "TEXT", 0)), "has a column of that name")
    add("schema", schema_add("todos", th, ("x", "TEXT", 0), opts=1), "table options differ")
    add("schema", schema_add("todos", th, ("x", "INTEGER", 0, 1)), "NOT NULL needs a constant DEFAULT")
    add("schema", schema_add("todos", th, ("x", "INTEGER", 0, 2, 5), checks=[("", "x < 3", [0])]),
        "the DEFAULTs fail CHECK")
    add("schema", schema_add("todos", th, ("bad\x01", "TEXT", 0)), "bad column name")
    dup = add("schema", schema_add("todos", th, ("prio", "TEXT", 0)), "has a column of that name",
              preds=[prio])
    # renames and drops: (create hash, target id, index, new name)
    def rename(target, idx, name, create=th):
        return bytes([3, 4, 5]) + b"todos" + create + target + bytes([idx, len(name)]) + name

    def dropcol(target, idx, create=th):
        return bytes([3, 5, 5]) + b"todos" + create + target + bytes([idx])
    add("schema", dropcol(th, 0), "a key column cannot be dropped")
    add("schema", rename(bytes(32), 1, b"x"), "has no such column")
    add("schema", rename(th, 9, b"x"), "has no such column")
    add("schema", rename(th, 1, b"DONE"), "has a column of that name")
    add("schema", rename(op_id(prio), 0, b"x"), "has no such column")        # ADD not in its past
    add("schema", rename(th, 1, b"bad\x02"), "bad column name")
    add("schema", dropcol(th, 1, create=oh), "has no such column")
    add("schema", dropcol(oh, 0, create=bytes(32)), "not in the op's causal past")
    add("schema", rename(op_id(prio), 0, b"priority"), None, preds=[prio])
    add("schema", dropcol(th, 2), None)
    for bad in (rename(th, 1, b"x")[:-1], dropcol(th, 1) + b"\x00", dropcol(th, 1)[:-1] + b"\x80\x02",
                bytes([3, 7, 5]) + b"todos" + th):
        refused(bad, "malformed")
    # writes naming ADD ops
    ok = add("write", write_payload([th], [(0, ["2"], {1: "two", 3: 4}, 4)], adds=[[op_id(prio)]]), None,
             preds=[prio], key=EVIL)
    add("write", write_payload([th], [(0, ["3"], {3: 4}, 4)], adds=[[op_id(prio)]]),
        "not an ADD COLUMN of it in the op's causal past", key=EVIL)
    add("write", write_payload([oh], [(0, [5], {1: 4}, 2)], adds=[[op_id(prio)]]),
        "not an ADD COLUMN of it", preds=[prio], key=EVIL)
    add("write", write_payload([th], [(0, ["4"], {3: 4}, 4)], adds=[[op_id(dup)]]),
        "not an ADD COLUMN of it", preds=[dup], key=EVIL)
    add("write", write_payload([th], [(0, ["5"], {1: "ok"}), (0, ["6"], {3: -1}, 4)], adds=[[op_id(prio)]]),
        "constraint: CHECK todos.prio", preds=[prio], key=EVIL)
    add("write", write_payload([th], [(0, ["7"], {3: None}, 4)], adds=[[op_id(prio)]]),
        "constraint: NOT NULL todos.prio", preds=[prio], key=EVIL)
    add("write", write_payload([th], [(0, ["8"], {3: "text"}, 4)], adds=[[op_id(prio)]]),
        None, preds=[prio], key=EVIL)     # not strict: text is a value like any
    # malformed writes: a mask bit past the listed ADD ops, a repeated ADD op
    for payload in (write_payload([th], [(0, ["9"], {4: 1}, 5)], adds=[[op_id(prio)]]),
                    write_payload([th], [(0, ["9"], {3: 1}, 4)], adds=[[op_id(prio), op_id(prio)]]),
                    write_payload([th], [(0, ["9"], {3: 1}, 4)], adds=[[op_id(prio)] * 256])):
        op = g.op("write", [prio], payload)
        deliver(a, [prio])
        T.raises(lambda: a.execute("SELECT bec_ingest(?)", (op,)), "malformed", "malformed write")
    g.spread(ops, seed=3)
    st = g.converged("hostile alters")
    for op, why in want.items():
        for db in g.reps:
            r = reason(db, op)
            if why is None:
                T.eq(r, None, "applies: %s" % op_id(op).hex()[:12])
            else:
                T.check(r is not None and why in r, "reason has %r: %r" % (why, r))
    T.eq(st["todos.cols"], ["id", "title", "priority"], "only the valid alters show")
    T.eq(st["todos"], [("1", "x", 0), ("2", "two", 4), ("8", "", "text")], "rows")
    T.eq(reason(a, ok), None, "a write naming a valid ADD op in its past applies")


def test_removed_author():
    """An ADD whose author is removed concurrently is invalid: its column
    goes on every replica, and comes back nowhere; the rows stay."""
    g = Group(n=3)
    a = g.a
    a.execute("CREATE VIRTUAL TABLE todos USING bec(%s)" % TODOS)
    a.execute("INSERT INTO todos VALUES('1', 'x', 0)")
    g.catch_up()
    b = g.reps[1]
    g.member(b, "admin")
    th = schema_hash(a)
    add = g.op("schema", g.heads(), schema_add("todos", th, ("prio", "INTEGER", 0, 3, 4)), key=ADMIN2)
    w = g.op("write", [add], write_payload([th], [(0, ["1"], {3: 9}, 4)], adds=[[op_id(add)]]))
    deliver(a, [add, w])
    T.eq(a.execute("SELECT * FROM todos").fetchall(), [("1", "x", 0, 9)], "added, and written")
    # b removes ADMIN2 without having seen the ADD: concurrent with it
    before = bodies(b)
    b.execute("SELECT bec_remove_member(?)", (ADMIN2.hex,))
    T.eq(len(bodies(b)), len(before) + 1, "one removal op")
    g.spread(bodies(a) + bodies(b) + [add, w], seed=11)
    st = g.converged("removed author")
    T.eq(st["todos.cols"], ["id", "title", "done"], "the removed admin's column is gone")
    T.eq(st["todos"], [("1", "x", 0)], "the rows stay")


def test_revived_keeps_columns():
    """A drop that becomes invalid (its author removed concurrently) makes
    the create win again: the table comes back with its added columns and
    rows, and nothing is signed for it."""
    g = Group(n=3)
    a, b = g.reps[0], g.reps[1]
    g.member(b, "admin")
    a.execute("CREATE VIRTUAL TABLE todos USING bec(%s)" % TODOS)
    a.execute("INSERT INTO todos VALUES('1', 'x', 0)")
    a.execute("SELECT bec_alter('todos', 'ADD COLUMN prio INTEGER DEFAULT 4')")
    a.execute("UPDATE todos SET prio = 6")
    deliver(b, bodies(a))
    drop = g.op("schema", g.heads(), schema_drop("todos", [schema_hash(a)]), key=ADMIN2)
    deliver(a, [drop])
    T.eq(one(a, "SELECT count(*) FROM sqlite_schema WHERE name='todos'"), 0, "dropped on a")
    b.execute("SELECT bec_remove_member(?)", (ADMIN2.hex,))
    g.spread(bodies(a) + bodies(b), seed=5)
    st = g.converged("revived")
    T.eq(st["todos.cols"], ["id", "title", "done", "prio"], "revived with its added column")
    T.eq(st["todos"], [("1", "x", 0, 6)], "and its rows")
    T.eq(one(a, "SELECT count(*) FROM bec_ops WHERE kind='schema'"), 3, "create, add, drop: no new create")


def test_rename_and_drop_race():
    """X6 and the pairs of concurrent alters: a write by the old name lands
    in the renamed column; two renames of one column: the greater op's name;
    a rename racing a drop: dropped; two columns renamed to one name: the
    greater op's keeps it, the other is hidden (its values kept) and shows
    again once the collision goes; a write to a dropped column is not shown,
    the rest of it is."""
    g = Group(n=3)
    a, b = g.reps[0], g.reps[1]
    g.member(b)
    a.execute("CREATE VIRTUAL TABLE todos USING bec(%s, note TEXT, tag TEXT)" % TODOS)
    a.execute("INSERT INTO todos VALUES('b1', 'first', 0, 'n', 't')")
    g.catch_up()
    th = schema_hash(a)
    base = g.heads()
    # A (admin, by SQL) and ADMIN2 (hand-made) alter concurrently; B writes
    a.execute("SELECT bec_alter('todos', 'RENAME COLUMN title TO name')")
    a.execute("SELECT bec_alter('todos', 'RENAME COLUMN note TO memo')")
    a.execute("SELECT bec_alter('todos', 'RENAME COLUMN tag TO label')")
    r_note = g.op("schema", base, bytes([3, 4, 5]) + b"todos" + th + th + bytes([3, 4]) + b"text", key=ADMIN2)
    d_tag = g.op("schema", base, bytes([3, 5, 5]) + b"todos" + th + th + bytes([4]), key=ADMIN2)
    r_done = g.op("schema", base, bytes([3, 4, 5]) + b"todos" + th + th + bytes([2, 4]) + b"MEMO", key=ADMIN2)
    b.execute("UPDATE todos SET title = 't2', tag = 'x' WHERE id = 'b1'")
    g.spread(bodies(a) + bodies(b) + [r_note, d_tag, r_done], seed=2)
    st = g.converged("renames and drops")
    mine = [bytes.fromhex(r[0]) for r in a.execute("SELECT hash FROM bec_ops WHERE kind='schema'")][1:]
    def order(h):
        return (one(a, "SELECT depth FROM bec_ops WHERE hash=?", h.hex()), h)
    note_name = "memo" if order(mine[1]) > order(op_id(r_note)) else "text"
    cols = st["todos.cols"]
    T.eq(cols[:2], ["id", "name"], "X6: title renamed to name")
    T.check("label" not in cols and "tag" not in cols, "a drop wins over a concurrent rename: %r" % cols)
    T.check(note_name in cols, "two renames of one column: the greater op's name (%s): %r" % (note_name, cols))
    T.eq(st["todos"][0][:2], ("b1", "t2"), "X6: B's write by the old name lands in the renamed column")
    # done renamed to MEMO collides with note renamed to memo (if memo won)
    names = [c.lower() for c in cols]
    T.eq(len(names), len(set(names)), "no two shown columns share a name: %r" % cols)
    T.eq(one(a, "SELECT count(*) FROM bec_ops WHERE valid = 0"), 0, "every op valid")
    T.eq(one(a, "SELECT bec_check()"), "ok", "checks")


def test_rename_collision():
    """Two columns renamed concurrently to one name: the one renamed by the
    greater op shows it, the other is hidden with its values kept, and
    shows again when that rename is invalidated (its author removed
    concurrently)."""
    g = Group(n=3)
    a, b = g.reps[0], g.reps[1]
    g.member(b, "admin")
    a.execute("SELECT bec_add_member(?, 'admin')", (ADMIN3.hex,))
    a.execute("CREATE VIRTUAL TABLE t USING bec(k TEXT PRIMARY KEY, x TEXT, y TEXT)")
    a.execute("INSERT INTO t VALUES('1', 'ex', 'why')")
    g.catch_up()
    th = schema_hash(a)
    r1 = g.op("schema", g.heads(), bytes([3, 4, 1]) + b"t" + th + th + bytes([1, 1]) + b"z", key=ADMIN3)
    r2 = g.op("schema", g.heads(), bytes([3, 4, 1]) + b"t" + th + th + bytes([2, 1]) + b"z", key=ADMIN2)
    for db in g.reps:
        if db is not b:
            deliver(db, [r1, r2])
    st = {"t.cols": [r[1] for r in a.execute("PRAGMA table_info(t)")], "t": a.execute("SELECT * FROM t").fetchall(),
          "columns": a.execute("SELECT * FROM bec_columns").fetchall()}
    T.eq(st, state(g.reps[2]) and {k: state(g.reps[2])[k] for k in st}, "a and c agree")
    x_wins = op_id(r1) > op_id(r2)
    T.eq((st["t.cols"], st["t"]), (["k", "z"], [("1", "ex" if x_wins else "why")]),
         "one z: the column of the greater rename; the other is hidden")
    T.eq(st["columns"], [("t", 0, "k", "TEXT", 1, None, None, "key"), ("t", 1, "z", "TEXT", 0, None, None, "lww")],
         "bec_columns lists the shown columns")
    # the winner's author is removed by b, which saw neither rename
    before = bodies(b)
    b.execute("SELECT bec_remove_member(?)", ((ADMIN3 if x_wins else ADMIN2).hex,))
    T.eq(len(bodies(b)), len(before) + 1, "one removal, concurrent with both renames")
    g.spread(bodies(b) + [r1, r2], seed=5)
    st = g.converged("collision gone")
    T.eq((st["t.cols"], st["t"]), (["k", "x", "z"], [("1", "ex", "why")]) if x_wins
         else (["k", "z", "y"], [("1", "ex", "why")]), "the hidden column shows again, values kept")


def test_other_connection():
    """A connection held open (the app's) that read the table, while another
    one (a sync) stores an alter: the ops the app's connection then ingests
    are merged with the columns the ops show now (not those it declared),
    and its bec_check() agrees, for each kind of alter."""
    from bectest import Replicas, ops_of, ingest_all, sync_session
    r = Replicas("bec-alter-conn-")
    try:
        for i, (change, write) in enumerate([
                ("ADD COLUMN prio INTEGER NOT NULL DEFAULT 5",
                 "UPDATE todos SET prio=9 WHERE id='r1'"),
                ("RENAME COLUMN title TO name", "UPDATE todos SET name='n' WHERE id='r1'"),
                ("DROP COLUMN title", "UPDATE todos SET done=7 WHERE id='r1'"),
                ("RENAME TO tasks", "UPDATE tasks SET done=7 WHERE id='r1'")]):
            a = r.origin("a%d.db" % i)
            for k in range(3):
                a.execute("INSERT INTO todos VALUES(?, ?, ?)", ("r%d" % k, "t%d" % k, k))
            app = r.member(a, "j%d.db" % i, "admin")
            sync_session(a, app)
            app.execute("SELECT * FROM todos").fetchall()
            a.execute("SELECT bec_alter('todos', ?)", (change,))
            other = connect(os.path.join(r.dir, "j%d.db" % i))
            sync_session(other, a)
            held = set(ops_of(app))
            a.execute(write)
            ingest_all(app, [x for h, x in ops_of(a).items() if h not in held])
            name = "tasks" if "RENAME TO" in change else "todos"
            T.eq(one(app, "SELECT bec_check()"), "ok", change + ": the app's connection checks")
            T.eq(connect(os.path.join(r.dir, "j%d.db" % i)).execute(
                "SELECT * FROM %s ORDER BY 1" % name).fetchall(),
                 a.execute("SELECT * FROM %s ORDER BY 1" % name).fetchall(),
                 change + ": the rows the ops give")
            for db in (a, app, other):
                db.close()
    finally:
        r.cleanup()


T.run([test_sql_surface, test_concurrent_add_and_write, test_same_name, test_hostile,
       test_removed_author, test_revived_keeps_columns, test_rename_and_drop_race,
       test_rename_collision, test_other_connection])
T.done()
