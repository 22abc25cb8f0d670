"""test_names.py - display names (issue 19): bec_set_name signs a `name`
op; the latest valid one by (depth, hash) is the member's name in
bec_members, bec_history and bec_dot; hostile names (NUL bytes, control
characters, bad UTF-8, too long) are refused locally and, in a peer's signed
op, rejected as malformed; concurrent changes converge identically whatever
the order the ops arrive in; a removed member's later name does not count.

    BEC_EXT=$PWD/build/bec /usr/bin/python3 test/py/test_names.py
"""
import os
import sqlite3

import becwire
from bectest import T, Replicas, connect, one, ship

R = Replicas("bec_names_")
TMP = R.dir
path, joined, clone = R.path, R.joined, R.clone


def origin(name):
    return R.origin(name, decl=None)


def sync(src, dst, rev=False):
    ship(src, dst, rev)


def name_of(db, key):
    return one(db, "SELECT name FROM bec_members WHERE pubkey=?", key)


def test_set_and_show():
    a = origin("a.db")
    me = one(a, "SELECT bec_pubkey()")
    T.eq(name_of(a, me), None, "no name yet")
    h = one(a, "SELECT bec_set_name('Alice')")
    T.eq(one(a, "SELECT kind FROM bec_ops WHERE hash=?", h), "name", "a name op")
    T.eq(name_of(a, me), "Alice", "bec_members.name")
    a.execute("SELECT bec_set_name('Alice Ünïcødé 🙂')")
    T.eq(name_of(a, me), "Alice Ünïcødé 🙂", "the latest name wins")
    a.execute("CREATE VIRTUAL TABLE t USING bec(id INTEGER PRIMARY KEY, v)")
    a.execute("INSERT INTO t VALUES(1, 'x')")
    T.eq(one(a, "SELECT name FROM bec_history('t', 1)"), "Alice Ünïcødé 🙂", "bec_history.name")
    dot = one(a, "SELECT bec_dot()")
    T.check("Alice Ünïcødé 🙂 (%s)" % me[:8] in dot, "DOT labels the author by name and key")
    T.eq(one(a, "SELECT bec_check()"), "ok", "bec_check agrees")
    # Names are not unique and never identities.
    b = joined(a, "b.db")
    a.execute("SELECT bec_add_member(?, 'member')", (one(b, "SELECT bec_pubkey()"),))
    sync(a, b)
    b.execute("SELECT bec_set_name('Alice Ünïcødé 🙂')")
    sync(b, a)
    T.eq(one(a, "SELECT count(*) FROM bec_members WHERE name='Alice Ünïcødé 🙂'"), 2,
         "two members may share a name")
    T.eq(one(a, "SELECT role FROM bec_members WHERE pubkey=?", one(b, "SELECT bec_pubkey()")),
         "member", "a name gives no role")
    # A damaged name row is reported by bec_check.
    raw = sqlite3.connect(os.path.join(TMP, "a.db"))
    raw.execute("UPDATE bec_store_name SET name='Mallory' WHERE rowid=(SELECT max(rowid) FROM bec_store_name)")
    raw.commit(); raw.close()
    T.check("names: name op" in one(a, "SELECT bec_check()"), "bec_check sees a damaged name")
    a.close(); b.close()


def test_hostile_local():
    a = origin("h.db")
    for bad, why in (("", "empty"), ("x" * 65, "at most 64"), ("a\x00b", "control"),
                     ("tab\there", "control"), ("\x7f", "control"), ("\u0085", "control")):
        T.raises(lambda: a.execute("SELECT bec_set_name(?)", (bad,)), why, repr(bad))
    T.raises(lambda: a.execute("SELECT bec_set_name(X'414243')"), "must be text", "a blob")
    T.raises(lambda: a.execute("SELECT bec_set_name(NULL)"), "must be text", "NULL")
    T.eq(one(a, "SELECT count(*) FROM bec_ops WHERE kind='name'"), 0, "nothing signed")
    a.execute("SELECT bec_set_name(?)", ("é" * 32,))
    T.eq(name_of(a, one(a, "SELECT bec_pubkey()")), "é" * 32, "64 bytes of UTF-8 fit")
    a.close()


def test_hostile_peer():
    """A peer's signed name op with a bad payload is malformed: refused and
    logged, identically everywhere."""
    k = becwire.Key(bytes([7]) * 32)
    create = becwire.make_op(k, "create", [], bytes(16), None)
    gid = becwire.op_id(create)
    db = connect(path("p.db"))
    db.execute("SELECT bec_keygen()")
    db.execute("SELECT bec_join(?)", (gid.hex(),))
    db.execute("SELECT bec_ingest(?)", (create,))
    prev = gid
    for bad in (b"a\x00b", b"\xff\xfe", b"\xc0\xaf", b"\xed\xa0\x80", b"x" * 65, b""):
        op = becwire.make_op(k, "name", [prev], bad, gid)
        T.raises(lambda: db.execute("SELECT bec_ingest(?)", (op,)), "malformed", repr(bad))
    good = becwire.make_op(k, "name", [prev], "Zoë".encode(), gid)
    db.execute("SELECT bec_ingest(?)", (good,))
    T.eq(name_of(db, k.hex), "Zoë", "a well-formed name from a peer")
    T.eq(one(db, "SELECT count(*) FROM bec_rejected WHERE reason LIKE '%malformed%name%'"), 6,
         "rejections logged with the reason")
    db.close()


def test_concurrent_converge():
    a = origin("c1.db")
    me = one(a, "SELECT bec_pubkey()")
    b = clone(a, "c2.db")           # the same identity on another replica
    a.execute("SELECT bec_set_name('from a')")
    b.execute("SELECT bec_set_name('from b')")
    b.execute("SELECT bec_set_name('from b again')")
    x = clone(a, "c3.db")
    y = clone(a, "c4.db")
    sync(b, x); sync(a, x)
    sync(a, y, rev=True); sync(b, y, rev=True)
    sync(b, a); sync(a, b)
    names = {name_of(db, me) for db in (a, b, x, y)}
    T.eq(len(names), 1, "every replica shows one name: %r" % names)
    want = one(a, "SELECT CAST(payload AS TEXT) FROM bec_ops WHERE kind='name' "
                  "ORDER BY depth DESC, hash DESC LIMIT 1")
    T.eq(names, {want}, "the greatest by (depth, hash)")
    T.eq(want, "from b again", "the deeper chain wins")
    for db in (a, b, x, y):
        db.close()


def test_removed_member():
    a = origin("r1.db")
    a.execute("CREATE VIRTUAL TABLE t USING bec(id INTEGER PRIMARY KEY, v)")
    m = joined(a, "r2.db")
    mkey = one(m, "SELECT bec_pubkey()")
    a.execute("SELECT bec_add_member(?, 'member')", (mkey,))
    sync(a, m)
    m.execute("SELECT bec_set_name('Mallory')")
    m.execute("INSERT INTO t VALUES(1, 'm')")
    sync(m, a)
    T.eq(name_of(a, mkey), "Mallory", "the member's name")
    a.execute("SELECT bec_remove_member(?)", (mkey,))
    T.eq(name_of(a, mkey), None, "no longer listed")
    T.eq(one(a, "SELECT name FROM bec_history('t', 1)"), "Mallory",
         "history still names the author of the old write")
    # After its removal it renames itself (it has not heard): refused.
    m.execute("SELECT bec_set_name('Admin')")
    sync(m, a)
    T.eq(one(a, "SELECT name FROM bec_history('t', 1)"), "Mallory",
         "a name signed after the removal does not count")
    a.close(); m.close()


for name, fn in sorted(globals().items()):
    if name.startswith("test_") and callable(fn):
        fn()
R.cleanup()
T.done()
