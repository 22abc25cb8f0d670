"""test_history.py - bec_history(table, key) (issue 19): every write to one
row in causal order (depth, then hash), with author, depth, validity and the
values it set; ops writing several tables; composite and hostile keys; a
removed member's writes shown as not valid; the same list on every replica.

    BEC_EXT=$PWD/build/bec /usr/bin/python3 test/py/test_history.py
"""
import os
import shutil
import sqlite3
import tempfile

from bectest import T, connect, one

TMP = tempfile.mkdtemp(prefix="bec_history_")


def path(name):
    p = os.path.join(TMP, name)
    for suffix in ("", "-wal", "-shm", "-bec-key"):
        if os.path.exists(p + suffix):
            os.remove(p + suffix)
    return p


def origin(name, decl="id TEXT PRIMARY KEY, title TEXT, done INTEGER"):
    db = connect(path(name))
    db.execute("SELECT bec_keygen()")
    db.execute("SELECT bec_create_group()")
    if decl:
        db.execute("CREATE VIRTUAL TABLE todos USING bec(%s)" % decl)
    return db


def joined(src, name):
    db = connect(path(name))
    db.execute("SELECT bec_keygen()")
    db.execute("SELECT bec_join(?)", (one(src, "SELECT bec_group_id()"),))
    return db


def clone(src, name):
    p = path(name)
    dst = sqlite3.connect(p)
    src.backup(dst)
    dst.close()
    shutil.copy(src.execute("SELECT bec_key_file()").fetchone()[0], p + "-bec-key")
    return connect(p)


def sync(src, dst, rev=False):
    bodies = [b for (b,) in src.execute("SELECT body FROM bec_ops").fetchall()]
    if rev:
        bodies.reverse()
    for b in bodies:
        dst.execute("SELECT bec_ingest(?)", (b,))


def hist(db, table, key):
    return db.execute("SELECT op, author, depth, valid, kind, \"values\" "
                      "FROM bec_history(?, ?)", (table, key)).fetchall()


def test_basic():
    a = origin("a.db")
    me = one(a, "SELECT bec_pubkey()")
    a.execute("INSERT INTO todos VALUES('a', 'milk', 0), ('b', 'x', 1)")
    a.execute("UPDATE todos SET done=1 WHERE id='a'")
    a.execute("UPDATE todos SET title='b2' WHERE id='b'")
    a.execute("DELETE FROM todos WHERE id='a'")
    a.execute("INSERT INTO todos VALUES('a', 'oat milk', NULL)")
    h = hist(a, "todos", "a")
    T.eq([(r[4], r[5]) for r in h],
         [("upsert", '{"title":"milk","done":0}'), ("upsert", '{"done":1}'),
          ("delete", None), ("upsert", '{"title":"oat milk","done":null}')],
         "every write to the row, in order, with what it set")
    T.eq([r[1] for r in h], [me] * 4, "author")
    T.eq([r[3] for r in h], [1] * 4, "valid")
    T.check([r[2] for r in h] == sorted(r[2] for r in h), "depth grows")
    # bec_ops joins on the hash.
    T.eq(a.execute("SELECT count(*) FROM bec_history('todos', 'a') h "
                   "JOIN bec_ops o ON o.hash=h.op WHERE o.kind='write'").fetchone()[0],
         4, "joined to bec_ops by op hash")
    T.eq(hist(a, "todos", "nothing"), [], "a key never written")
    T.eq(hist(a, "nosuch", "a"), [], "an unknown table")
    T.eq(hist(a, "TODOS", "b")[-1][5], '{"title":"b2"}', "table names are case-insensitive")
    T.raises(lambda: a.execute("SELECT * FROM bec_history"), "bec_history(table, key)",
             "the table argument is required")
    a.close()


def test_multi_table_and_keys():
    a = origin("m.db", "k BLOB, j TEXT, v, PRIMARY KEY(k, j)")
    a.execute("CREATE VIRTUAL TABLE other USING bec(id INTEGER PRIMARY KEY, w)")
    a.execute("BEGIN")
    a.execute("INSERT INTO other VALUES(1, 'o1')")
    a.execute("INSERT INTO todos VALUES(X'00ff', ?, 'first')", ("a\x00b",))
    a.execute("INSERT INTO other VALUES(2, 'o2')")
    a.execute("INSERT INTO todos VALUES(X'01', 'z', 'other row')")
    a.execute("COMMIT")
    a.execute("UPDATE todos SET v=X'0001' WHERE j=?", ("a\x00b",))
    key = a.execute("SELECT key FROM bec_changes(0) WHERE \"table\"='todos' LIMIT 1").fetchone()[0]
    T.eq(key, '["00ff","a\\u0000b"]', "composite key as bec_changes shows it")
    h = hist(a, "todos", key)
    T.eq([r[5] for r in h], ['{"v":"first"}', '{"v":"0001"}'],
         "changes of one table read past another table's in the same op")
    T.eq([r[5] for r in hist(a, "other", 2)], ['{"w":"o2"}'], "integer key")
    T.eq([r[5] for r in hist(a, "other", 2.0)], ['{"w":"o2"}'], "a REAL key equal to it")
    a.close()


def test_removed_and_replicas():
    a = origin("r1.db")
    a.execute("INSERT INTO todos VALUES('a', 'milk', 0)")
    m = joined(a, "r2.db")
    a.execute("SELECT bec_add_member(?, 'member')", (one(m, "SELECT bec_pubkey()"),))
    sync(a, m)
    c = clone(a, "r3.db")
    m.execute("UPDATE todos SET title='vandal' WHERE id='a'")
    a.execute("UPDATE todos SET done=1 WHERE id='a'")
    c.execute("SELECT bec_remove_member(?)", (one(m, "SELECT bec_pubkey()"),))
    sync(m, a); sync(c, a)
    sync(a, c, rev=True); sync(m, c, rev=True)
    h = hist(a, "todos", "a")
    mkey = one(m, "SELECT bec_pubkey()")
    T.eq([(r[1] == mkey, r[3]) for r in h if r[1] == mkey], [(True, 0)],
         "the removed member's concurrent write is shown, not valid")
    T.eq(hist(c, "todos", "a"), h, "the same history on a replica that got the ops in another order")
    depths = [r[2] for r in h]
    T.check(depths == sorted(depths), "causal order")
    for db in (a, m, c):
        db.close()


for name, fn in sorted(globals().items()):
    if name.startswith("test_") and callable(fn):
        fn()
T.done()
