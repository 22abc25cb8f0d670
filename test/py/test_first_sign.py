"""test_first_sign.py - a replica's first sign without the op graph
(issue 17 item 6, COMPACTION.md section 9 "incremental"): opening a
database and signing one op reads the heads and the author's stored
membership row, not the graph; an op that names every head (a local op, a
peer's op on a linear history) is admitted and derived from stored state,
with the same result as the full derivation.

How "does not load the graph" is observed without timing or a debug build:
an old op's row is damaged so that loading the graph fails ("storage is
corrupt"), in a place that the covering path does not read.  The first sign
then succeeds, and the next question that needs the graph on the same
connection fails: both would fail if the sign loaded it."""
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bectest import T, connect, one, bodies, deliver  # noqa: E402
from becwire import Key, make_op, decode_op  # noqa: E402

DIR = tempfile.mkdtemp(prefix="bec_first_sign_")


def history(name, n=60, first=None, encrypted=False):
    """A file database: a group (end-to-end encrypted if asked), first(connection)
    if given, then n app ops by its founder."""
    path = os.path.join(DIR, name)
    c = connect(path)
    one(c, "SELECT bec_keygen()")
    if encrypted:
        one(c, "SELECT bec_create_group('encrypted')")
    else:
        one(c, "SELECT bec_create_group()")
    if first:
        first(c)
    c.execute("BEGIN")
    for _ in range(n):
        c.execute("SELECT bec_sign(randomblob(16))")
    c.execute("COMMIT")
    c.close()
    return path


def copy_db(src, dst):
    """A closed database and its key file (docs: "<file>-bec-key", 0600)."""
    shutil.copy(src, dst)
    shutil.copy(src + "-bec-key", dst + "-bec-key")


def damage(path, seq=10):
    """Makes an old op's row refuse to load (a negative depth), away from
    the heads and the membership ops."""
    c = connect(path)
    c.execute("UPDATE bec_store_op SET depth=-1 WHERE seq=?", (seq,))
    c.commit()
    c.close()


def repair(path, seq=10):
    c = connect(path)
    c.execute("UPDATE bec_store_op SET depth=? WHERE seq=?", (seq - 1, seq))
    c.commit()
    c.close()


def loads_graph(c):
    try:
        one(c, "SELECT bec_sync_op_count()")
    except Exception as e:
        return str(e)
    return None


def first_sign_reads_no_graph():
    path = history("sign.db")
    damage(path)
    c = connect(path)
    h = one(c, "SELECT bec_sign(x'01')")
    T.check(h is not None and len(h) == 64, "a fresh connection's first bec_sign succeeds without the graph")
    h2 = one(c, "SELECT bec_sign(x'02')")
    T.check(h2 is not None and h2 != h, "and a second one")
    err = loads_graph(c)
    T.check(err is not None and "storage is corrupt" in err,
            "the damaged row fails the first question that loads the graph: %r" % err)
    c.close()
    repair(path)
    c = connect(path)
    T.eq(one(c, "SELECT bec_check()"), "ok", "ops signed without the graph check (facts, validity, cover)")
    T.eq(one(c, "SELECT count(*) FROM bec_ops WHERE valid"), 63, "every op valid")
    # The stored cover is derived state that bec_check() recomputes.
    for col, bad in (("cover", 2), ("cover_facts", b"\x00\x00\x00\x00")):
        old = one(c, "SELECT %s FROM bec_store_member" % col)
        c.execute("UPDATE bec_store_member SET %s=?" % col, (bad,))
        c.commit()
        T.check("disagrees with the DAG" in one(c, "SELECT bec_check()"),
                "bec_check finds a damaged %s" % col)
        c.execute("UPDATE bec_store_member SET %s=?" % col, (old,))
        c.commit()
    T.eq(one(c, "SELECT bec_check()"), "ok", "repaired")
    c.close()


def peer_linear_op_reads_no_graph():
    """A peer's op that names every head takes the same road."""
    a = history("peer_a.db", 20)
    b = os.path.join(DIR, "peer_b.db")
    copy_db(a, b)
    ca = connect(a)
    op = one(ca, "SELECT bec_op(bec_sign(x'33'))")
    ca.close()
    damage(b)
    cb = connect(b)
    one(cb, "SELECT bec_ingest(?)", op)
    T.eq(one(cb, "SELECT count(*) FROM bec_store_op"), 22, "the peer's op is stored without the graph")
    err = loads_graph(cb)
    T.check(err is not None and "storage is corrupt" in err, "and the graph was not loaded: %r" % err)
    cb.close()
    repair(b)
    cb = connect(b)
    T.eq(one(cb, "SELECT bec_check()"), "ok", "bec_check on the receiver")
    cb.close()


def rows(c):
    return (c.execute("SELECT seq, hash, kind, author, depth, target, role, valid, chain, preds"
                      " FROM bec_store_op ORDER BY seq").fetchall(),
            c.execute("SELECT seq, facts FROM bec_store_member_op ORDER BY seq").fetchall(),
            c.execute("SELECT * FROM bec_store_member ORDER BY pubkey").fetchall(),
            c.execute("SELECT hash, valid FROM bec_ops ORDER BY hash").fetchall())


def same_as_full_derivation():
    """The covering path (a fresh connection) and the full one (membership
    state in memory, after bec_member_rebuild()) store the same rows for
    the same op (Ed25519 is deterministic: the same bytes)."""
    path = history("same.db", 10)
    c = connect(path)
    m = Key(b"m" * 32)
    one(c, "SELECT bec_add_member(?, 'member')", m.hex)
    c.close()
    fast = os.path.join(DIR, "same_fast.db")
    full = os.path.join(DIR, "same_full.db")
    for p in (fast, full):
        copy_db(path, p)
    cf, cs = connect(fast), connect(full)
    one(cs, "SELECT bec_member_rebuild()")
    heads = [bytes.fromhex(r[0]) for r in cf.execute("SELECT hash FROM bec_heads")]
    gid = bytes.fromhex(one(cf, "SELECT bec_group_id()"))
    peer = make_op(m, "app", heads, b"from m", gid)
    for c in (cf, cs):
        one(c, "SELECT bec_sign(x'0102')")
        one(c, "SELECT bec_ingest(?)", peer)
    T.eq(rows(cf), rows(cs), "covering path and full derivation store the same rows")
    T.eq(one(cf, "SELECT bec_check()"), "ok", "bec_check on the covering path's replica")
    cf.close()
    cs.close()


def cover_below_role():
    """A member whose row says 'member' but whose covering op is invalid:
    u is added (g1); then, concurrently, an admin removes and re-adds u
    (rm < gr) while another admin adds u as a relay (r).  The maximal live
    grant is gr (member), but r is a valid lower add not before gr, so
    rule 4 cancels gr for ops that need a member: u's op naming every head
    is stored and ignored.  A shortcut by role would call it valid."""
    k2 = Key(b"2" * 32)
    u = Key(b"u" * 32)
    path = os.path.join(DIR, "cover.db")
    a = connect(path)
    one(a, "SELECT bec_keygen()")
    one(a, "SELECT bec_create_group()")
    one(a, "SELECT bec_add_member(?, 'admin')", k2.hex)
    one(a, "SELECT bec_add_member(?, 'member')", u.hex)
    gid = bytes.fromhex(one(a, "SELECT bec_group_id()"))
    heads = [bytes.fromhex(r[0]) for r in a.execute("SELECT hash FROM bec_heads")]
    r = make_op(k2, "add", heads, u.pub + bytes([3]), gid)
    one(a, "SELECT bec_remove_member(?)", u.hex)
    one(a, "SELECT bec_add_member(?, 'member')", u.hex)
    one(a, "SELECT bec_ingest(?)", r)
    heads = sorted(bytes.fromhex(x[0]) for x in a.execute("SELECT hash FROM bec_heads"))
    T.eq(len(heads), 2, "two heads: gr and r")
    T.eq(one(a, "SELECT role FROM bec_members WHERE pubkey=?", u.hex), "member", "u's row says member")
    T.eq(one(a, "SELECT cover FROM bec_store_member WHERE pubkey=?", u.pub), 3,  # relay
         "u's cover: only a relay's ops (its leave) would be valid")
    op = make_op(u, "app", heads, b"by u", gid)
    a.close()
    b = connect(path)          # fresh: nothing in memory
    h = one(b, "SELECT bec_ingest(?)", op)
    T.eq(one(b, "SELECT valid FROM bec_ops WHERE hash=?", h), 0, "u's covering op is stored and ignored")
    T.eq(one(b, "SELECT bec_check()"), "ok", "bec_check agrees")
    # every replica, any order, derives the same
    c = connect()
    one(c, "SELECT bec_keygen()")
    one(c, "SELECT bec_join(?)", gid.hex())
    deliver(c, list(reversed(bodies(b))))
    deliver(c, bodies(b))
    T.eq(one(c, "SELECT valid FROM bec_ops WHERE hash=?", h), 0, "a replica that got it in another order agrees")
    b.close()


def table_history(name, n=40, encrypted=False):
    """A file database: a group, a bec table with rows, then n app ops."""
    def rows(c):
        c.execute("CREATE VIRTUAL TABLE t USING bec(id INTEGER PRIMARY KEY, v TEXT, n INTEGER)")
        for i in range(5):
            c.execute("INSERT INTO t VALUES(?, ?, ?)", (i, "r%d" % i, i))
        c.commit()
    return history(name, n, rows, encrypted)


def local_writes(c):
    """A first INSERT, then an UPDATE and a DELETE, each its own op."""
    c.execute("INSERT INTO t VALUES(100, 'new', 7)")
    c.commit()
    c.execute("UPDATE t SET v='changed', n=n+1 WHERE id=1")
    c.commit()
    c.execute("DELETE FROM t WHERE id=2")
    c.commit()


def first_insert_reads_no_graph():
    """A fresh connection's first INSERT (then UPDATE, DELETE) into a bec
    table: the table connects, the transaction begins, the op is judged
    and derived without the graph (the damaged row is not read)."""
    path = table_history("insert.db")
    damage(path, seq=20)
    c = connect(path)
    local_writes(c)
    T.eq(c.execute("SELECT id, v, n FROM t ORDER BY id").fetchall(),
         [(0, "r0", 0), (1, "changed", 2), (3, "r3", 3), (4, "r4", 4), (100, "new", 7)],
         "the first writes to a bec table succeed without the graph")
    err = loads_graph(c)
    T.check(err is not None and "storage is corrupt" in err,
            "the damaged row fails the first question that loads the graph: %r" % err)
    c.close()
    repair(path, seq=20)
    c = connect(path)
    T.eq(one(c, "SELECT bec_check()"), "ok", "writes made without the graph check")
    T.eq(one(c, "SELECT count(*) FROM bec_ops WHERE valid=0"), 0, "every op valid")
    c.close()


def dump(c):
    """Every stored table of the database, rows in order."""
    out = {}
    for (name,) in c.execute("SELECT name FROM sqlite_master WHERE type='table'"
                             " AND sql NOT LIKE 'CREATE VIRTUAL%' AND name NOT LIKE 'sqlite_%'"
                             " ORDER BY name").fetchall():
        out[name] = sorted(c.execute('SELECT * FROM "%s"' % name).fetchall(), key=repr)
    return out


def same_tables(c1, c2, what):
    """Every stored table of c1 equals c2's (dump)."""
    x, y = dump(c1), dump(c2)
    T.eq(sorted(x), sorted(y), "the same stored tables")
    for name in sorted(set(x) | set(y)):
        T.eq(x.get(name), y.get(name), "table %s is the same %s" % (name, what))


def first_insert_same_as_full_path():
    """The same local writes on a fresh connection (no graph) and on one
    whose graph is loaded first store the same bytes everywhere: ops,
    rows, registers, membership (Ed25519 is deterministic)."""
    path = table_history("same_ins.db", 10)
    fast = os.path.join(DIR, "same_ins_fast.db")
    full = os.path.join(DIR, "same_ins_full.db")
    for p in (fast, full):
        copy_db(path, p)
    cf, cs = connect(fast), connect(full)
    T.check(one(cs, "SELECT bec_sync_op_count()") > 0, "the full path's graph is loaded")
    for c in (cf, cs):
        local_writes(c)
    same_tables(cf, cs, "on both paths")
    T.eq(cf.execute("SELECT * FROM t ORDER BY id").fetchall(),
         cs.execute("SELECT * FROM t ORDER BY id").fetchall(), "the same rows shown")
    T.eq(one(cf, "SELECT bec_check()"), "ok", "bec_check on the fast path's replica")
    cf.close()
    cs.close()


def altered_history(name):
    """table_history, then ALTER ops of t: ADD w, RENAME v TO title, an ADD y
    made concurrently on a copy (same depth as ADD w: ordered by id), DROP n."""
    path = table_history(name, 30)
    side = path + "-side.db"
    copy_db(path, side)
    cs = connect(side)
    one(cs, "SELECT bec_alter('t', 'ADD COLUMN y INTEGER')")
    cs.commit()
    add_y = one(cs, "SELECT bec_op(hash) FROM bec_store_op ORDER BY seq DESC LIMIT 1")
    cs.close()
    c = connect(path)
    one(c, "SELECT bec_alter('t', 'ADD COLUMN w TEXT')")
    c.commit()
    one(c, "SELECT bec_ingest(?)", add_y)
    c.commit()
    T.eq(len(c.execute("SELECT * FROM bec_heads").fetchall()), 2, "ADD w and ADD y are concurrent")
    one(c, "SELECT bec_alter('t', 'RENAME COLUMN v TO title')")
    one(c, "SELECT bec_alter('t', 'DROP COLUMN n')")
    c.commit()
    c.close()
    return path


def altered_writes(c):
    """Writes to the altered table, each its own op."""
    c.execute("INSERT INTO t(id, title, w, y) VALUES(100, 'new', 'w', 5)")
    c.commit()
    c.execute("UPDATE t SET title='changed', y=coalesce(y, 0)+1, w='w1' WHERE id=1")
    c.commit()
    c.execute("DELETE FROM t WHERE id=2")
    c.commit()


def altered_table_reads_no_graph():
    """A table with ALTER ops (ADD, RENAME, DROP COLUMN, two concurrent
    ADDs) connects from the stored alter ops' rows (their depth, id and
    validity: what the graph is loaded from), and a first write naming the
    added columns is judged without the graph: it succeeds with a damaged
    old row, which fails the first question that loads the graph."""
    path = altered_history("alter.db")
    damage(path, seq=20)
    c = connect(path)
    altered_writes(c)
    T.eq(c.execute("SELECT id, title, w, y FROM t WHERE id IN (1, 2, 100) ORDER BY id").fetchall(),
         [(1, "changed", "w1", 1), (100, "new", "w", 5)],
         "the writes to an altered table succeed without the graph")
    err = loads_graph(c)
    T.check(err is not None and "storage is corrupt" in err,
            "the damaged row fails the first question that loads the graph: %r" % err)
    c.close()
    repair(path, seq=20)
    c = connect(path)
    T.eq(one(c, "SELECT bec_check()"), "ok", "writes made without the graph check")
    T.eq(one(c, "SELECT count(*) FROM bec_ops WHERE valid=0"), 0, "every op valid")
    c.close()


def altered_table_same_as_full_path():
    """The same writes to the altered table on a fresh connection (the view
    from stored rows) and on one whose graph is loaded first store the same
    bytes everywhere, and show the same columns in the same order."""
    fast, full = two_copies(altered_history("alter_same.db"), "alter_same")
    cf, cs = connect(fast), connect(full)
    T.check(one(cs, "SELECT bec_sync_op_count()") > 0, "the full path's graph is loaded")
    for c in (cf, cs):
        altered_writes(c)
    same_tables(cf, cs, "on both paths")
    T.eq([r[1] for r in cf.execute("PRAGMA table_info(t)")],
         [r[1] for r in cs.execute("PRAGMA table_info(t)")], "the same columns, in order")
    T.eq(cf.execute("SELECT * FROM t ORDER BY id").fetchall(),
         cs.execute("SELECT * FROM t ORDER BY id").fetchall(), "the same rows shown")
    T.eq(one(cf, "SELECT bec_check()"), "ok", "bec_check on the fast path's replica")
    cf.close()
    cs.close()


def two_copies(path, tag):
    """Two copies of the database at path: (fast, full) paths."""
    fast = os.path.join(DIR, "%s_fast.db" % tag)
    full = os.path.join(DIR, "%s_full.db" % tag)
    copy_db(path, fast)
    copy_db(path, full)
    return fast, full


def peer_ops(path, stmts):
    """Runs stmts on the database at path, one op each: (their bodies, the
    rows of t after them)."""
    c = connect(path)
    for sql in stmts:
        c.execute(sql)
    ops = [one(c, "SELECT bec_op(hash) FROM bec_store_op ORDER BY seq DESC LIMIT 1 OFFSET ?", k)
           for k in range(len(stmts) - 1, -1, -1)]
    want = c.execute("SELECT * FROM t ORDER BY id").fetchall()
    c.close()
    return ops, want


def peer_writes_without_graph(path, tag, stmts, what):
    """The ops of stmts, made on the database at path, ingested by a copy
    with a damaged row (merged without the graph, which is then not
    loaded) and by a copy whose graph is loaded first: the same stored
    bytes on both receivers."""
    b, full = two_copies(path, tag)
    ops, want = peer_ops(path, stmts)
    damage(b, seq=20)
    cb = connect(b)
    for op in ops:
        one(cb, "SELECT bec_ingest(?)", op)
    T.eq(cb.execute("SELECT * FROM t ORDER BY id").fetchall(), want,
         "the peer's %s are merged without the graph" % what)
    err = loads_graph(cb)
    T.check(err is not None and "storage is corrupt" in err, "and the graph was not loaded: %r" % err)
    cb.close()
    repair(b, seq=20)
    cb = connect(b)
    T.eq(one(cb, "SELECT bec_check()"), "ok", "bec_check on the receiver")
    cs = connect(full)             # the full path: its graph loaded first
    T.check(one(cs, "SELECT bec_sync_op_count()") > 0, "the full path's graph is loaded")
    for op in ops:
        one(cs, "SELECT bec_ingest(?)", op)
    same_tables(cb, cs, "on both receivers")
    cs.close()
    cb.close()


def peer_write_reads_no_graph():
    """A peer's write op naming every head (a linear history) is judged,
    stored and merged into the table without the graph."""
    peer_writes_without_graph(table_history("pw_a.db", 20), "pw",
                              ["INSERT INTO t VALUES(200, 'peer', 1)",
                               "UPDATE t SET v='peer-changed' WHERE id=3"], "writes")


def lazy_questions_same_as_full_path():
    """A peer's write op naming every head on a fresh connection, where a
    question needs the graph after all (an added column in its past, a
    write='admin' table's admin grant): the graph is loaded then, and the
    receiver stores what a receiver with its graph loaded stores."""
    a = table_history("lazy_a.db", 5)
    ca = connect(a)
    ca.execute("CREATE VIRTUAL TABLE s USING bec(k TEXT PRIMARY KEY, v TEXT, write='admin')")
    one(ca, "SELECT bec_alter('t', 'ADD COLUMN w TEXT')")
    ca.close()
    fast, full = two_copies(a, "lazy")
    ops, _ = peer_ops(a, ["INSERT INTO t VALUES(300, 'peer', 3, 'added')",
                          "INSERT INTO s VALUES('k', 'admin only')"])
    cs = connect(full)
    T.check(one(cs, "SELECT bec_sync_op_count()") > 0, "the full path's graph is loaded")
    for op in ops:
        one(cs, "SELECT bec_ingest(?)", op)
        cf = connect(fast)          # each op on a fresh connection
        one(cf, "SELECT bec_ingest(?)", op)
        cf.close()
    cf = connect(fast)
    T.eq(one(cf, "SELECT w FROM t WHERE id=300"), "added", "the added column's value is merged")
    T.eq(one(cf, "SELECT v FROM s WHERE k='k'"), "admin only", "the admin's write is merged")
    same_tables(cf, cs, "on both receivers")
    T.eq(one(cf, "SELECT bec_check()"), "ok", "bec_check")
    cf.close()
    cs.close()


# -- An encrypted group (bec_create_group('encrypted')): the writer holds the
# current epoch's seed, no rekey or keyshare is due.  A write op is sealed
# under the current epochs, named in its envelope; opening the table's create
# op, the writer's safety rule, the seal and the acceptance of the envelope
# (its epochs in its causal past) read stored rows, not the graph.

def enc_history(name, n=30):
    return table_history(name, n, encrypted=True)


def kinds_after(c, seq):
    return [r[0] for r in c.execute("SELECT kind FROM bec_store_op WHERE seq>? ORDER BY seq", (seq,))]


def last_seq(c):
    return one(c, "SELECT max(seq) FROM bec_store_op")


def enc_first_writes_read_no_graph():
    """A fresh connection's first INSERT, UPDATE and DELETE into a table of
    an encrypted group: each is sealed and stored without the graph."""
    path = enc_history("enc_insert.db")
    damage(path, seq=20)
    c = connect(path)
    n0 = last_seq(c)
    local_writes(c)
    T.eq(c.execute("SELECT id, v, n FROM t ORDER BY id").fetchall(),
         [(0, "r0", 0), (1, "changed", 2), (3, "r3", 3), (4, "r4", 4), (100, "new", 7)],
         "the first writes to an encrypted bec table succeed without the graph")
    T.eq(kinds_after(c, n0), [6, 6, 6], "three write ops, no rekey or keyshare signed")
    T.eq(one(c, "SELECT count(*) FROM bec_ops WHERE encrypted AND kind='write'"), 8,
         "every write op carries the envelope")
    err = loads_graph(c)
    T.check(err is not None and "storage is corrupt" in err,
            "the damaged row fails the first question that loads the graph: %r" % err)
    c.close()
    repair(path, seq=20)
    c = connect(path)
    T.eq(one(c, "SELECT bec_check()"), "ok", "writes made without the graph check")
    T.eq(one(c, "SELECT count(*) FROM bec_ops WHERE valid=0"), 0, "every op valid")
    T.eq(one(c, "SELECT count(*) FROM bec_store_ignored"), 0, "none ignored (none locked)")
    c.close()


def enc_each_first_write_reads_no_graph():
    """An UPDATE, and a DELETE, as the first write of a fresh connection
    (not after an INSERT that approved the safety rule on it)."""
    path = enc_history("enc_each.db")
    damage(path, seq=20)
    for sql, want in (("UPDATE t SET v='u' WHERE id=1", (1, "u", 1)),
                      ("DELETE FROM t WHERE id=2", None)):
        c = connect(path)
        c.execute(sql)
        c.commit()
        key = 1 if want else 2
        T.eq(c.execute("SELECT id, v, n FROM t WHERE id=?", (key,)).fetchone(), want,
             "a first %s succeeds without the graph" % sql.split()[0])
        err = loads_graph(c)
        T.check(err is not None and "storage is corrupt" in err, "the graph was not loaded: %r" % err)
        c.close()
    repair(path, seq=20)
    c = connect(path)
    T.eq(one(c, "SELECT bec_check()"), "ok", "bec_check")
    c.close()


def enc_rule_follows_storage():
    """The safety rule's approval is remembered by a connection for the
    stored sequence it was computed on, not for a graph it never loaded:
    a rekey by another connection between two writes makes the second
    write name the new epoch (a stale approval would name the old one)."""
    path = enc_history("enc_rule.db", 5)
    a, b = connect(path), connect(path)
    a.execute("INSERT INTO t VALUES(50, 'a1', 1)")
    a.commit()
    e1 = envelope_of(one(a, "SELECT body FROM bec_store_op ORDER BY seq DESC LIMIT 1"))[1]
    rk = bytes.fromhex(one(b, "SELECT bec_rekey()"))
    b.commit()
    T.check(rk != e1[:32], "a new epoch")
    a.execute("INSERT INTO t VALUES(51, 'a2', 2)")
    a.commit()
    e2 = envelope_of(one(a, "SELECT body FROM bec_store_op ORDER BY seq DESC LIMIT 1"))[1]
    T.eq(e2, rk, "the write after another connection's rekey is sealed under the new epoch")
    T.eq(one(a, "SELECT bec_check()"), "ok", "bec_check")
    a.close()
    b.close()


def envelope_of(body):
    """(format, epochs, ciphertext length) of a write op's envelope."""
    from becwire import read_varint
    m = decode_op(body)
    pay = m["body"]
    ne, i = read_varint(pay, 1)
    return pay[0], pay[i:i + 32 * ne], len(pay) - i - 32 * ne - 24


def enc_dump(c):
    """dump(), but what the random nonce of a seal decides (an op's body,
    hence its id and the chain digest) left out of bec_store_op, and each
    write op's envelope header (format, epochs, ciphertext length) and
    decoded changes (bec_changes) in their place; of bec_store_op_id (the
    ids' prefixes) the seqs only."""
    out = dump(c)
    out["bec_store_op"] = sorted(c.execute(
        "SELECT seq, kind, author, depth, target, role, valid, preds FROM bec_store_op").fetchall())
    # (the ids' prefixes, by seq: which seqs are there)
    out["bec_store_op_id"] = sorted(r[0] for r in c.execute("SELECT seq FROM bec_store_op_id"))
    out["envelopes"] = [envelope_of(b) for (b,) in c.execute(
        "SELECT body FROM bec_store_op WHERE kind=6 ORDER BY seq")]
    out["changes"] = c.execute("SELECT cursor, \"table\", key, columns, kind, author"
                               " FROM bec_changes(0) ORDER BY cursor").fetchall()
    return out


def enc_first_writes_same_as_full_path():
    """The same local writes on a fresh connection (no graph) and on one
    whose graph is loaded first store the same rows, registers, epochs
    and ops, and seal under the same epochs (the nonce alone differs)."""
    fast, full = two_copies(enc_history("enc_same.db", 10), "enc_same")
    cf, cs = connect(fast), connect(full)
    T.check(one(cs, "SELECT bec_sync_op_count()") > 0, "the full path's graph is loaded")
    for c in (cf, cs):
        local_writes(c)
    x, y = enc_dump(cf), enc_dump(cs)
    T.eq(sorted(x), sorted(y), "the same stored tables")
    for name in sorted(set(x) | set(y)):
        T.eq(x.get(name), y.get(name), "table %s is the same on both paths" % name)
    T.eq(cf.execute("SELECT * FROM t ORDER BY id").fetchall(),
         cs.execute("SELECT * FROM t ORDER BY id").fetchall(), "the same rows shown")
    T.eq(one(cf, "SELECT bec_check()"), "ok", "bec_check on the fast path's replica")
    # Each write op the fast path sealed is admitted and merged by the full
    # path's peer alike (and the full path's by the fast path's copy).
    cf.close()
    cs.close()


def enc_peer_write_reads_no_graph():
    """A peer's encrypted write op naming every head is judged (its epochs
    stored, so in its past), opened, stored and merged without the graph,
    and both receivers store the same bytes."""
    peer_writes_without_graph(enc_history("enc_pw_a.db", 20), "enc_pw",
                              ["INSERT INTO t VALUES(200, 'peer', 1)",
                               "UPDATE t SET v='peer-changed' WHERE id=3",
                               "DELETE FROM t WHERE id=4"], "encrypted writes")


T.run([first_sign_reads_no_graph, peer_linear_op_reads_no_graph, same_as_full_derivation,
       cover_below_role, first_insert_reads_no_graph, first_insert_same_as_full_path,
       altered_table_reads_no_graph, altered_table_same_as_full_path,
       peer_write_reads_no_graph, lazy_questions_same_as_full_path,
       enc_first_writes_read_no_graph, enc_each_first_write_reads_no_graph,
       enc_first_writes_same_as_full_path, enc_peer_write_reads_no_graph,
       enc_rule_follows_storage])
shutil.rmtree(DIR, ignore_errors=True)
T.done()
