"""test_feed.py - the change feed bec_changes(since) and bec_changes_trim
(issue 19): local writes, synced ops, conflicts, retroactive invalidation by
a removal, savepoint rollbacks, cursors, trimming, hostile values, and the
cost of a poll (it reads only the feed rows after the cursor).

    BEC_EXT=$PWD/build/bec /usr/bin/python3 test/py/test_feed.py
"""
import sqlite3

from bectest import T, Replicas, one, ship

R = Replicas("bec_feed_")
path, origin, joined, clone = R.path, R.origin, R.joined, R.clone
def sync(src, dst, rev=False):
    ship(src, dst, rev)


def feed(db, since=0):
    return db.execute("SELECT cursor, \"table\", key, columns, kind, op, author "
                      "FROM bec_changes(?)", (since,)).fetchall()


def last(db):
    return one(db, "SELECT coalesce(max(cursor), 0) FROM bec_changes")


def short(rows):
    return [(r[1], r[2], r[4]) for r in rows]


def test_local_writes():
    a = origin("l.db")
    me = one(a, "SELECT bec_pubkey()")
    T.eq(feed(a), [], "a new table: an empty feed")
    a.execute("INSERT INTO todos VALUES('a', 'milk', 0), ('b', 'eggs', 1)")
    f = feed(a)
    T.eq(short(f), [("todos", "a", "insert"), ("todos", "b", "insert")], "inserts")
    T.eq(f[0][3], '["title","done"]', "columns written")
    T.eq(f[0][0], f[1][0], "one op, one cursor")
    head = one(a, "SELECT hash FROM bec_ops WHERE kind='write'")
    T.eq((f[0][5], f[0][6]), (head, me), "op and author")
    c1 = last(a)
    a.execute("UPDATE todos SET done=1 WHERE id='a'")
    f = feed(a, c1)
    T.eq(short(f), [("todos", "a", "update")], "update since the cursor only")
    T.eq(f[0][3], '["done"]', "the column updated")
    T.check(f[0][0] > c1, "cursors grow")
    c2 = last(a)
    a.execute("DELETE FROM todos WHERE id='b'")
    a.execute("DELETE FROM todos WHERE id='nothing'")
    f = feed(a, c2)
    T.eq(short(f), [("todos", "b", "delete")], "delete shown, a delete of nothing not")
    T.eq(f[0][3], None, "a delete has no columns")
    T.eq(feed(a, last(a)), [], "nothing after the last cursor")
    # A rolled back transaction leaves nothing; a savepoint rolled back
    # leaves what came before it.
    c3 = last(a)
    a.execute("BEGIN")
    a.execute("INSERT INTO todos VALUES('x', 'gone', 0)")
    a.execute("ROLLBACK")
    T.eq(feed(a, c3), [], "rollback: nothing")
    a.execute("BEGIN")
    a.execute("INSERT INTO todos VALUES('k', 'kept', 0)")
    a.execute("SAVEPOINT s")
    a.execute("INSERT INTO todos VALUES('u', 'undone', 0)")
    a.execute("ROLLBACK TO s")
    a.execute("UPDATE todos SET title='kept!' WHERE id='a'")
    a.execute("COMMIT")
    T.eq(short(feed(a, c3)), [("todos", "k", "insert"), ("todos", "a", "update")],
         "savepoint rolled back: the later change takes its place")
    # The hidden argument: bec_changes without it is the whole feed; a
    # non-integer cursor matches nothing.
    T.eq(len(a.execute("SELECT * FROM bec_changes").fetchall()), len(feed(a, 0)), "no argument")
    T.eq(feed(a, "x"), [], "a text cursor matches nothing")
    T.eq(feed(a, -5), feed(a, 0), "a negative cursor is the start")
    a.close()


def test_synced_and_conflicts():
    a = origin("s1.db", "id INTEGER PRIMARY KEY, k2 TEXT, v")
    b = joined(a, "s2.db")
    a.execute("SELECT bec_add_member(?, 'member')", (one(b, "SELECT bec_pubkey()"),))
    sync(a, b)
    cb = last(b)
    T.check(any(r[4] == "invalidated" and r[2] is None for r in feed(b)),
            "a table shown by a peer's op: whole-table row: %r" % feed(b))
    a.execute("INSERT INTO todos VALUES(1, 'x', 'one'), (2, 'y', X'00ff')")
    sync(a, b)
    f = feed(b, cb)
    T.eq(short(f), [("todos", 1, "insert"), ("todos", 2, "insert")], "a peer's inserts")
    T.eq(f[0][6], one(a, "SELECT bec_pubkey()"), "author is the peer")
    cb = last(b)
    a.execute("UPDATE todos SET v='uno' WHERE id=1")
    sync(a, b)
    T.eq(short(feed(b, cb)), [("todos", 1, "update")], "a peer's update (linear)")
    # Concurrent writes: both sides see a conflict.
    ca, cb = last(a), last(b)
    a.execute("UPDATE todos SET v='A' WHERE id=2")
    b.execute("UPDATE todos SET v='B' WHERE id=2")
    sync(a, b); sync(b, a)
    T.eq(short(feed(b, cb)), [("todos", 2, "update"), ("todos", 2, "conflict")],
         "b: own update, then the concurrent one is a conflict")
    T.eq(short(feed(a, ca))[-1], ("todos", 2, "conflict"), "a: conflict")
    T.eq(one(a, "SELECT v FROM todos WHERE id=2"), one(b, "SELECT v FROM todos WHERE id=2"),
         "converged")
    a.close(); b.close()


def test_synced_updates_then_insert():
    # A peer's op that updates rows of an INTEGER key writes them with an
    # UPDATE once an upsert found its row (apply_covering's hint); a key it
    # then does not find must still be inserted, and each change keeps its
    # kind in the feed.
    a = origin("u1.db", "id INTEGER PRIMARY KEY, title TEXT, done INTEGER")
    b = joined(a, "u2.db")
    a.execute("SELECT bec_add_member(?, 'member')", (one(b, "SELECT bec_pubkey()"),))
    a.execute("INSERT INTO todos VALUES(1, 'a', 0), (2, 'b', 0), (3, 'c', 0)")
    sync(a, b)
    cb = last(b)
    a.execute("BEGIN")
    a.execute("UPDATE todos SET done=1 WHERE id<=3")
    a.execute("INSERT INTO todos VALUES(10, 'new', 5)")
    a.execute("UPDATE todos SET title='B' WHERE id=2")
    a.execute("INSERT INTO todos(id, title) VALUES(11, 'newer')")
    a.execute("DELETE FROM todos WHERE id=1")
    a.execute("COMMIT")
    sync(a, b)
    T.eq(short(feed(b, cb)), [("todos", 1, "update"), ("todos", 2, "update"),
                              ("todos", 3, "update"), ("todos", 10, "insert"),
                              ("todos", 2, "update"), ("todos", 11, "insert"),
                              ("todos", 1, "delete")], "kinds of a peer's mixed op")
    rows = "SELECT * FROM todos ORDER BY id"
    T.eq(b.execute(rows).fetchall(), [(2, 'B', 1), (3, 'c', 1), (10, 'new', 5), (11, 'newer', None)],
         "the peer's rows")
    T.eq(b.execute(rows).fetchall(), a.execute(rows).fetchall(), "same rows on both")
    T.eq(one(b, "SELECT bec_check()"), "ok", "bec_check() after the mixed op")
    a.close(); b.close()


def test_batched_op():
    """A peer's op of many upserts is written in batches, one statement each
    (bec_batch.c): more rows than a batch holds (1024), two tables
    interleaved, the columns written changing, a key upserted twice in one
    batch, a delete between upserts.  The rows, their registers (as op
    hashes) and each change's kind in the feed are those the origin's own
    writes made one statement per row; a fresh replica reaches the same."""
    a = origin("bt1.db", "id INTEGER PRIMARY KEY, title TEXT, done INTEGER")
    a.execute("CREATE VIRTUAL TABLE notes USING bec(k TEXT PRIMARY KEY, body)")
    b = joined(a, "bt2.db")
    a.execute("SELECT bec_add_member(?, 'member')", (one(b, "SELECT bec_pubkey()"),))
    a.execute("INSERT INTO todos VALUES(1, 'pre', 0), (2, 'pre', 0)")
    sync(a, b)
    ca, cb = last(a), last(b)
    a.execute("BEGIN")
    a.execute("WITH RECURSIVE n(i) AS (SELECT 3 UNION ALL SELECT i+1 FROM n WHERE i<1500) "
              "INSERT INTO todos SELECT i, 't' || i, i % 2 FROM n")
    a.execute("INSERT INTO todos VALUES(2000, 'x', 0)")
    a.execute("UPDATE todos SET title='again', done=7 WHERE id IN (3, 2000)")
    a.execute("INSERT INTO notes VALUES('x', 'one')")
    a.execute("UPDATE todos SET done=1 WHERE id IN (1, 2, 4)")
    a.execute("DELETE FROM todos WHERE id=5")
    a.execute("INSERT INTO notes VALUES('y', X'00ff')")
    a.execute("INSERT INTO todos(id, title) VALUES(5, 'back')")
    a.execute("UPDATE notes SET body=NULL WHERE k='x'")
    a.execute("COMMIT")
    sync(a, b)
    fa, fb = short(feed(a, ca)), short(feed(b, cb))
    T.eq(len(fb), 1498 + 1 + 2 + 1 + 3 + 1 + 1 + 1 + 1, "one feed row per change")
    T.eq(fb, fa, "the peer's feed kinds are the origin's")
    T.eq(fb[1499:1502], [("todos", 3, "update"), ("todos", 2000, "update"), ("notes", "x", "insert")],
         "a key twice in one op: inserted, then updated")
    T.eq(fb[-3:], [("notes", "y", "insert"), ("todos", 5, "insert"), ("notes", "x", "update")],
         "after a delete")
    regs = ("SELECT c0, c1, c2, (SELECT hash FROM bec_store_op WHERE seq=r), "
            "(SELECT hash FROM bec_store_op WHERE seq=s1), "
            "(SELECT hash FROM bec_store_op WHERE seq=s2) FROM todos_rows ORDER BY c0")
    nregs = ("SELECT c0, c1, (SELECT hash FROM bec_store_op WHERE seq=r), "
             "(SELECT hash FROM bec_store_op WHERE seq=s1) FROM notes_rows ORDER BY c0")
    c = joined(a, "bt3.db")
    ship(a, c)
    for db, who in ((b, "the peer"), (c, "a fresh replica")):
        T.eq(db.execute(regs).fetchall(), a.execute(regs).fetchall(), who + ": rows and registers")
        T.eq(db.execute(nregs).fetchall(), a.execute(nregs).fetchall(), who + ": the other table")
        T.eq(one(db, "SELECT bec_check()"), "ok", who + ": bec_check()")
    T.eq(a.execute("SELECT title, done FROM todos WHERE id IN (3, 5, 2000) ORDER BY id").fetchall(),
         [("again", 7), ("back", None), ("again", 7)], "the origin's rows")
    # From SQL the batch table is empty and the hit function a no-op: the
    # batch is a pointer only C can bind.
    T.eq(one(a, "SELECT count(*) FROM bec_batch(NULL)"), 0, "no batch from SQL")
    T.eq(one(a, "SELECT bec_batch_hit(NULL, 7)"), 7, "bec_batch_hit passes its value")
    a.close(); b.close(); c.close()


def test_removal_invalidates():
    a = origin("r1.db")
    a.execute("INSERT INTO todos VALUES('a', 'milk', 0)")
    m = joined(a, "r2.db")
    a.execute("SELECT bec_add_member(?, 'member')", (one(m, "SELECT bec_pubkey()"),))
    sync(a, m)
    c = clone(a, "r3.db")
    m.execute("UPDATE todos SET title='vandal' WHERE id='a'")
    m.execute("INSERT INTO todos VALUES('m', 'by m', 0)")
    sync(m, a)
    ca = last(a)
    c.execute("SELECT bec_remove_member(?)", (one(m, "SELECT bec_pubkey()"),))
    sync(c, a)
    T.eq(a.execute("SELECT * FROM todos").fetchall(), [("a", "milk", 0)], "writes hidden")
    f = feed(a, ca)
    got = sorted((r[2], r[4]) for r in f)
    T.check(("a", "invalidated") in got and ("m", "invalidated") in got,
            "a removal shows the rows it invalidated: %r" % f)
    mkey = one(m, "SELECT bec_pubkey()")
    T.check(all(r[6] == mkey for r in f if r[2] in ("a", "m")),
            "the invalidated op's author: %r" % f)
    for db in (a, m, c):
        db.close()


def test_hostile_values():
    a = origin("h.db", "k BLOB, j TEXT, v, PRIMARY KEY(k, j)")
    a.execute("INSERT INTO todos VALUES(X'00', 'a\"\\\x01b', 'v')")
    a.execute("INSERT INTO todos VALUES(X'0000ff', '', zeroblob(100000))")
    f = feed(a)
    T.eq([r[2] for r in f], ['["00","a\\"\\\\\\u0001b"]', '["0000ff",""]'],
         "composite keys with NUL and quote bytes as JSON")
    T.eq(f[0][3], '["v"]', "columns")
    # Column names needing escapes.
    b = origin("h2.db", "id INTEGER PRIMARY KEY, \"we\"\"ird\" TEXT")
    b.execute("INSERT INTO todos VALUES(1, 'x')")
    T.eq(feed(b)[-1][3], '["we\\"ird"]', "a column name with a quote")
    a.close(); b.close()


def test_trim_and_cost():
    a = origin("t.db", "id INTEGER PRIMARY KEY, v")
    for i in range(20):
        a.execute("INSERT INTO todos VALUES(?, ?)", (i, "v%d" % i))
    cur = [r[0] for r in a.execute("SELECT DISTINCT cursor FROM bec_changes(0)")]
    T.eq(len(cur), 20, "one cursor per op")
    T.raises(lambda: a.execute("SELECT bec_changes_trim('x')"), "integer", "a bad cursor")
    T.eq(one(a, "SELECT bec_changes_trim(?)", cur[10]), 10, "ten rows trimmed")
    f = feed(a, 0)
    T.eq((f[0][0], f[0][1], f[0][2], f[0][4]), (cur[10], None, None, "invalidated"),
         "an old cursor meets the marker: reload everything")
    T.eq(short(feed(a, cur[10])), [("todos", i, "insert") for i in range(11, 20)],
         "a cursor after the marker sees the rest")
    # Trimming everything keeps the last row, so cursors keep growing.
    one(a, "SELECT bec_changes_trim(1000000)")
    a.execute("INSERT INTO todos VALUES(100, 'after')")
    T.check(last(a) > cur[-1], "cursors keep growing after a trim")
    # The cost of a poll: the feed's own rows after the cursor, by key.
    plan = " ".join(r[3] for r in a.execute(
        "EXPLAIN QUERY PLAN SELECT * FROM bec_changes(5)"))
    T.check("VIRTUAL TABLE INDEX 1" in plan, "since is used: " + plan)
    db = sqlite3.connect(a.execute("PRAGMA database_list").fetchone()[2])
    p2 = " ".join(r[3] for r in db.execute(
        "EXPLAIN QUERY PLAN SELECT * FROM bec_store_change WHERE cursor>5 ORDER BY cursor"))
    T.check("USING INTEGER PRIMARY KEY" in p2, "the feed is read by its key: " + p2)
    db.close()
    a.close()


def test_bound():
    """The feed never grows without limit: past BEC_FEED_MAX_ROWS rows the
    oldest half goes (checked once per 1024 rows)."""
    a = origin("b.db", "id INTEGER PRIMARY KEY, v")
    raw = sqlite3.connect(a.execute("PRAGMA database_list").fetchone()[2])
    a.execute("INSERT INTO todos VALUES(1, 'x')")
    a.commit()
    # Simulate a long history cheaply: make the cursor jump.
    raw.execute("INSERT INTO bec_store_change(cursor, seq, tbl, kinds) VALUES(100000, NULL, NULL, NULL)")
    raw.commit()
    raw.close()
    for i in range(2, 1030):
        a.execute("INSERT INTO todos VALUES(?, 'x')", (i,))
    n = one(a, "SELECT count(DISTINCT cursor) FROM bec_changes(0)")
    first = a.execute("SELECT cursor, kind, \"table\" FROM bec_changes(0) LIMIT 1").fetchone()
    T.check(n < 1100, "trimmed: %d feed rows" % n)
    T.eq((first[1], first[2]), ("invalidated", None), "the trim left its marker")
    a.close()


for name, fn in sorted(globals().items()):
    if name.startswith("test_") and callable(fn):
        fn()
R.cleanup()
T.done()
