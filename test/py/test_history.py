"""test_history.py - bec_history(table, key) (issue 19): every write to one
row in causal order (depth, then hash), with author, depth, validity and the
values it set; ops writing several tables; composite and hostile keys; a
removed member's writes shown as not valid; the same list on every replica.

    BEC_EXT=$PWD/build/bec /usr/bin/python3 test/py/test_history.py
"""

from bectest import T, Replicas, one, ship

R = Replicas("bec_history_")
path, origin, joined, clone = R.path, R.origin, R.joined, R.clone
def sync(src, dst, rev=False):
    ship(src, dst, rev)


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
R.cleanup()
T.done()
