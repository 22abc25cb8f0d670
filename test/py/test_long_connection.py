"""test_long_connection.py - a long-lived connection never runs out of cached
statements, and no bec error is ever "unknown error" (issue 11, class 7).

    make && BEC_EXT=$PWD/build/bec /usr/bin/python3 test/py/test_long_connection.py

bec caches its prepared statements per connection.  The cache used to have 64
slots and failed the 65th distinct statement with SQLITE_FULL and no
message: a connection that had used most of bec (tables, membership,
pending ops, rejections, checks, sync) then lost a remote write in a sync
apply.  Here one connection B does all of that, several rounds, and each
round a sync apply must bring A's new write into B's table.
"""
import os
import sqlite3
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bectest import T, connect, one  # noqa: E402
from becwire import Key, blake, decode_op, make_op, op_id  # noqa: E402


def sync(a, a_names_b, b, b_names_a):
    """A session started by a; every message must apply without error."""
    m = one(a, "SELECT bec_sync_offer(?)", a_names_b)
    n = 0
    while m and n < 50:
        m = one(b, "SELECT bec_sync_apply(?, ?)", b_names_a, m)
        if m:
            m = one(a, "SELECT bec_sync_apply(?, ?)", a_names_b, m)
        n += 1


def errors_of(fn):
    try:
        fn()
        return None
    except sqlite3.Error as e:
        return str(e)


A = connect()
one(A, "SELECT bec_keygen()")
gid = one(A, "SELECT bec_create_group()")
B = connect()
pk_b = one(B, "SELECT bec_keygen()")
one(B, "SELECT bec_join(?)", gid)
sync(A, "b", B, "a")
one(A, "SELECT bec_add_member(?, 'admin')", pk_b)
A.execute("CREATE VIRTUAL TABLE t USING bec(id INTEGER PRIMARY KEY, v TEXT, n REAL)")
sync(A, "b", B, "a")
T.eq(one(B, "SELECT count(*) FROM bec_members"), 2, "B sees both members")

G = bytes.fromhex(gid)
outsider = Key(b"\x33" * 32)
C = connect()
pk_c = one(C, "SELECT bec_keygen()")

for rnd in range(3):
    # Most of what bec does, on B's one connection.
    B.execute("CREATE VIRTUAL TABLE IF NOT EXISTS u%d USING bec(k TEXT PRIMARY KEY, w BLOB)" % rnd)
    B.execute("INSERT INTO u%d VALUES('a', x'01'), ('b', x'02')" % rnd)
    B.execute("UPDATE u%d SET w=x'03' WHERE k='a'" % rnd)
    B.execute("DELETE FROM u%d WHERE k='b'" % rnd)
    B.execute("INSERT INTO t VALUES(?, 'from b', 1.5)", (100 + rnd,))
    B.execute("BEGIN")
    B.execute("INSERT INTO t VALUES(?, 'txn', 2.5)", (200 + rnd,))
    B.execute("SAVEPOINT s1")
    B.execute("UPDATE t SET v='inner' WHERE id=?", (200 + rnd,))
    B.execute("ROLLBACK TO s1")
    B.execute("COMMIT")
    list(B.execute("SELECT * FROM t WHERE id BETWEEN 0 AND 1000 ORDER BY id DESC"))
    list(B.execute("SELECT * FROM t WHERE v='txn'"))
    list(B.execute("SELECT * FROM bec_conflicts"))
    list(B.execute("SELECT * FROM bec_ops WHERE kind='write'"))
    list(B.execute("SELECT * FROM bec_heads"))
    list(B.execute("SELECT * FROM bec_members"))
    list(B.execute("SELECT * FROM bec_pending"))
    list(B.execute("SELECT * FROM bec_rejected"))
    list(B.execute("SELECT * FROM bec_peers"))
    one(B, "SELECT bec_sync_state('a')")
    one(B, "SELECT bec_config('pending_max_ops', 5000)")
    one(B, "SELECT bec_config('pending_key_max_ops')")
    one(B, "SELECT bec_dot(10)")
    one(B, "SELECT bec_sign(?)", b"app %d" % rnd)
    # A pending op, and rejected ones (bad signature, outsider, malformed).
    pend = make_op(outsider, "app", [G, blake(b"nothing %d" % rnd)], b"p", G)
    T.check(errors_of(lambda: one(B, "SELECT bec_ingest(?)", pend)) is None, "parked")
    bad = bytearray(make_op(outsider, "app", [G], b"x%d" % rnd, G))
    bad[len(decode_op(bytes(bad))["header"])] ^= 1   # the signature's first byte
    T.check("bad signature" in (errors_of(lambda: one(B, "SELECT bec_ingest(?)", bytes(bad))) or ""),
            "bad signature")
    T.check("unauthorized" in (errors_of(lambda: one(B, "SELECT bec_ingest(?)",
                                                    make_op(outsider, "app", [G], b"y%d" % rnd, G))) or ""),
            "outsider refused")
    T.check("malformed" in (errors_of(lambda: one(B, "SELECT bec_ingest(x'0102')")) or ""),
            "malformed")
    # An op whose predecessor is rejected: dropped from the pending area.
    p1 = make_op(outsider, "app", [G], b"p1 %d" % rnd, G)
    p2 = make_op(outsider, "app", [op_id(p1)], b"p2 %d" % rnd, G)
    T.check(errors_of(lambda: one(B, "SELECT bec_ingest(?)", p2)) is None, "p2 parked")
    T.check(errors_of(lambda: one(B, "SELECT bec_ingest(?)", p1)) is not None, "p1 refused")
    T.eq(one(B, "SELECT count(*) FROM bec_pending WHERE hash=?", op_id(p2).hex()), 0,
         "p2 dropped with p1")
    # A's ops out of order: the second waits, the first releases it.
    a1 = one(A, "SELECT bec_sign(?)", b"a1 %d" % rnd)
    a2 = one(A, "SELECT bec_sign(?)", b"a2 %d" % rnd)
    one(B, "SELECT bec_ingest(?)", one(A, "SELECT bec_op(?)", a2))
    one(B, "SELECT bec_ingest(?)", one(A, "SELECT bec_op(?)", a1))
    T.eq(one(B, "SELECT count(*) FROM bec_ops WHERE hash IN (?, ?)", a1, a2), 2, "released")
    one(B, "SELECT length(bec_op(?))", a2)
    # Concurrent writes to one row: a conflict, resolved by a later write.
    A.execute("INSERT INTO t VALUES(?, 'a side', 0)", (500 + rnd,))
    B.execute("INSERT INTO t VALUES(?, 'b side', 0)", (500 + rnd,))
    sync(A, "b", B, "a")
    list(B.execute("SELECT * FROM bec_conflicts"))
    B.execute("UPDATE t SET v='settled' WHERE id=?", (500 + rnd,))
    B.execute("DELETE FROM t WHERE id=?", (500 + rnd,))
    # Ops appended inside the app's own transaction, one rolled back.
    B.execute("BEGIN")
    one(B, "SELECT bec_sign(?)", b"in txn %d" % rnd)
    errors_of(lambda: one(B, "SELECT bec_remove_member(?)", "00" * 32))
    B.execute("COMMIT")
    B.execute("BEGIN")
    one(B, "SELECT bec_sign(?)", b"rolled back %d" % rnd)
    B.execute("ROLLBACK")
    # A table created and dropped by the other replica.
    A.execute("CREATE VIRTUAL TABLE w%d USING bec(id INTEGER PRIMARY KEY)" % rnd)
    A.execute("INSERT INTO w%d VALUES(1)" % rnd)
    sync(A, "b", B, "a")
    T.eq(one(B, "SELECT count(*) FROM w%d" % rnd), 1, "remote table arrived")
    A.execute("DROP TABLE w%d" % rnd)
    sync(A, "b", B, "a")
    # Membership changes.
    one(B, "SELECT bec_add_member(?, 'member')", pk_c)
    one(B, "SELECT bec_remove_member(?)", pk_c)
    one(B, "SELECT bec_member_rebuild()") if rnd == 0 else None
    T.eq(one(B, "SELECT bec_check()"), "ok", "round %d: bec_check" % rnd)
    B.execute("DROP TABLE u%d" % rnd)
    # Sync and check inside the app's own transaction (savepoints, not
    # BEGIN IMMEDIATE: other statements again).
    A.execute("INSERT INTO t VALUES(?, 'in b txn', 0)", (300 + rnd,))
    B.execute("BEGIN")
    err = errors_of(lambda: sync(A, "b", B, "a"))
    T.check(err is None, "round %d: sync inside a transaction: %s" % (rnd, err))
    T.eq(one(B, "SELECT bec_check()"), "ok", "round %d: bec_check inside a transaction" % rnd)
    B.execute("COMMIT")
    T.eq(one(B, "SELECT v FROM t WHERE id=?", 300 + rnd), "in b txn", "round %d: arrived" % rnd)
    # A remote write reaches B by sync, on the same long-lived connection.
    A.execute("INSERT INTO t VALUES(?, 'from a', ?)", (rnd, rnd * 1.0))
    err = errors_of(lambda: sync(A, "b", B, "a"))
    T.check(err is None, "round %d: sync apply on a long-lived connection: %s" % (rnd, err))
    T.eq(one(B, "SELECT v FROM t WHERE id=?", rnd), "from a", "round %d: the remote write arrived" % rnd)
    sync(B, "a", A, "b")
    T.eq(sorted(A.execute("SELECT id, v, n FROM t")), sorted(B.execute("SELECT id, v, n FROM t")),
         "round %d: converged" % rnd)

# No bec error says "unknown error": the errors this connection met all named
# their cause (checked above); misuse errors name the function.
for sql, want in [("SELECT bec_op('zz')", "bec_op:"),
                  ("SELECT bec_config('nonsense')", "bec_config:"),
                  ("SELECT bec_sync_apply('a', 'text')", "bec_sync_apply:"),
                  ("SELECT bec_sync_apply('a', x'00')", "malformed")]:
    err = errors_of(lambda: one(B, sql))
    T.check(err is not None and want in err and "unknown error" not in err,
            "%s: %s" % (sql, err))
T.done()
