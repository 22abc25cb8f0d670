"""test_rejoin.py - a snapshot's replica that meets an op concurrent with
its checkpoint falls back to a full join (docs/compaction.md "An op
concurrent with the installed checkpoint"), differentially.

A random history: an admin writes rows of a bec table, two members go
offline at random points and write (concurrent writes of the same rows,
deletes), the admin goes on.  K is one of the admin's ops after the
members went offline.  Joiners are built as an install leaves them, by
hand as test_oom.c builds one (test_other_connection uses bec_snapshot_install()): the
ops of K's past that are chain ops (create, add, remove, schema) in full,
the others as stand-ins (bec_store_cut), K, the cut closed ('cut_top'),
then the ops that descend from K, in random order.  Then a member's op
concurrent with K arrives.  Checked, for several seeds: every op that
descends from K is stored before; the concurrent op is not stored and the
joiner falls back (no cut table); then the provider's whole history,
ingested in a random order or sent by ordinary sync sessions, gives each
joiner exactly the provider's validity by id, members, rows and
conflicts, and bec_check() says ok.

test_root and test_encrypted do the same for a group with a threshold root
and for an end-to-end encrypted group (its seeds kept by the epoch ops' ids).

Once the install is merged, test_snapshot_join.py's
test_concurrent_author_offline is the end-to-end test of the same path.
"""
import json
import os
import random
import sqlite3

from bectest import T, Replicas, connect, one, ops_of, sync_session, ingest_all, root_steps, pub

CHAIN = ("create", "add", "remove", "schema")


def state(db):
    return (
        db.execute("SELECT hash, valid FROM bec_ops ORDER BY hash").fetchall(),
        db.execute("SELECT pubkey, role, rank, added_in FROM bec_members"
                   " ORDER BY pubkey").fetchall(),
        db.execute("SELECT * FROM todos ORDER BY id").fetchall(),
        db.execute("SELECT pk, \"column\", value, op FROM bec_conflicts"
                   " ORDER BY pk, \"column\", op").fetchall(),
    )


def history(r, rng):
    """The provider a; the members' concurrent ops; A's op K (its index in
    a's seq order)."""
    a = r.origin("a.db", decl="id INTEGER PRIMARY KEY, title TEXT, done INTEGER")
    b = r.member(a, "b.db", "member")
    d = r.member(a, "d.db", "member")
    for i in range(6):
        a.execute("INSERT OR REPLACE INTO todos VALUES(?, ?, ?)",
                  (rng.randrange(5), "a%d" % i, i))
    late = []
    for m, name in ((b, "b"), (d, "d")):
        # the member holds a prefix of a's history, then writes offline
        ops = [x for (x,) in a.execute("SELECT body FROM bec_ops")]
        for body in ops[:rng.randrange(4, len(ops) + 1)]:
            m.execute("SELECT bec_ingest(?)", (body,))
        if one(m, "SELECT count(*) FROM bec_store_table") == 0:
            m.execute("SELECT bec_sign(x'01')")
        else:
            for i in range(rng.randrange(1, 4)):
                k = rng.randrange(5)
                if rng.random() < 0.3:
                    m.execute("DELETE FROM todos WHERE id=?", (k,))
                else:
                    m.execute("INSERT OR REPLACE INTO todos VALUES(?, ?, ?)",
                              (k, "%s%d" % (name, i), 100 + i))
        mine = [x for (x,) in m.execute(
            "SELECT body FROM bec_ops WHERE author=?", (one(m, "SELECT bec_pubkey()"),))]
        T.check(len(mine) > 0, "%s wrote offline" % name)
        late += mine
    nk = one(a, "SELECT count(*) FROM bec_ops")
    for i in range(rng.randrange(2, 6)):
        a.execute("INSERT OR REPLACE INTO todos VALUES(?, ?, ?)",
                  (rng.randrange(5), "k%d" % i, 50 + i))
    k = one(a, "SELECT count(*) FROM bec_ops") - 1
    for i in range(rng.randrange(1, 5)):
        a.execute("INSERT OR REPLACE INTO todos VALUES(?, ?, ?)",
                  (rng.randrange(5), "after%d" % i, 70 + i))
    b.close()
    d.close()
    return a, late, k


def joiner(r, a, name, k, rng):
    """A joiner as an install leaves it (see the header)."""
    ops = a.execute("SELECT hash, kind, deps, depth, body FROM bec_ops").fetchall()
    ids = [h for (h, _, _, _, _) in ops]
    kid = ids[k]
    deps = {h: json.loads(dp) for (h, _, dp, _, _) in ops}
    past, todo = set(), [kid]
    while todo:
        h = todo.pop()
        for p in deps[h]:
            if p not in past:
                past.add(p)
                todo.append(p)
    j = r.joined(a, name)
    j.execute("CREATE TABLE bec_store_cut(id BLOB PRIMARY KEY, seq INTEGER NOT NULL"
              " UNIQUE, depth INTEGER NOT NULL, valid INTEGER) WITHOUT ROWID")
    for (h, kind, _, depth, body) in ops:
        if h not in past:
            continue
        if kind in CHAIN:
            j.execute("SELECT bec_ingest(?)", (body,))
        else:
            seq = one(j, "SELECT max(coalesce((SELECT max(seq) FROM bec_store_op), 0),"
                         " coalesce((SELECT max(seq) FROM bec_store_cut), 0)) + 1")
            j.execute("INSERT INTO bec_store_cut VALUES(?, ?, ?, 1)",
                      (bytes.fromhex(h), seq, depth))
            j.execute("DELETE FROM bec_store_head WHERE seq=?", (seq - 1,))
    j.execute("SELECT bec_ingest(?)", (ops[k][4],))
    kseq = one(j, "SELECT max(seq) FROM bec_store_op")
    T.eq(one(j, "SELECT hash FROM bec_store_op WHERE seq=?", kseq), bytes.fromhex(kid),
         "K is stored after every stand-in")
    j.execute("INSERT INTO bec_store_config VALUES('cut_top', ?)", (kseq,))
    j.execute("DELETE FROM bec_store_head WHERE seq<?", (kseq,))
    path = j.execute("PRAGMA database_list").fetchone()[2]
    j.close()
    from bectest import connect
    j = connect(path)
    after = [body for (h, _, _, _, body) in ops[k + 1:]]
    rng.shuffle(after)
    for body in after:
        j.execute("SELECT bec_ingest(?)", (body,))
    T.eq(one(j, "SELECT count(*) FROM bec_store_op"),
         len([h for h in past if dict((x[0], x[1]) for x in ops)[h] in CHAIN])
         + 1 + len(after), "%s: every op after K is stored" % name)
    T.eq(one(j, "SELECT count(*) FROM bec_store_pending"), 0, "%s: nothing waits" % name)
    return j


def fall_back(j, late, what):
    """The members' ops, one at a time: the first concurrent with K makes j
    fall back."""
    for body in late:
        j.execute("SELECT bec_ingest(?)", (body,))
    T.eq(one(j, "SELECT count(*) FROM sqlite_schema WHERE name='bec_store_cut'"), 0,
         "%s: fell back (no cut table)" % what)
    T.eq(one(j, "SELECT value FROM bec_store_config WHERE key='cut_top'"), None,
         "%s: no cut_top" % what)


def one_seed(seed):
    rng = random.Random(seed)
    r = Replicas("bec-rejoin-")
    try:
        a, late, k = history(r, rng)
        j1 = joiner(r, a, "j1.db", k, rng)
        j2 = joiner(r, a, "j2.db", k, rng)
        fall_back(j1, late, "seed %d, j1" % seed)
        fall_back(j2, late, "seed %d, j2" % seed)
        ingest_all(a, late)
        want = state(a)
        # j1: the whole history in a random order
        ops = [b for (b,) in a.execute("SELECT body FROM bec_ops")]
        rng.shuffle(ops)
        for body in ops:
            j1.execute("SELECT bec_ingest(?)", (body,))
        T.eq(state(j1), want, "seed %d: ingested in a random order, the provider's state" % seed)
        T.eq(one(j1, "SELECT bec_check()"), "ok", "seed %d: j1 checks" % seed)
        # j2: ordinary sync sessions, offered by either side
        for i in range(4):
            try:
                if i % 2:
                    sync_session(a, j2)
                else:
                    sync_session(j2, a)
            except sqlite3.Error:
                pass
            if state(j2) == want:
                break
        T.eq(state(j2), want, "seed %d: by sync, the provider's state" % seed)
        T.eq(one(j2, "SELECT bec_check()"), "ok", "seed %d: j2 checks" % seed)
        for db in (a, j1, j2):
            db.close()
    finally:
        r.cleanup()


def test_seeds():
    for seed in range(4):
        one_seed(seed)


def checkpoint_beside(a, m, write, late_write):
    """a writes (write) and names its checkpoint K, while member m, offline
    from here, writes late_write below the last op before K: K's snapshot,
    which a builds without m's op, has no band that places it, and a joiner
    that installed it falls back at that op.  Returns (K, m's late ops)."""
    a.execute(write)
    k = one(a, "SELECT bec_checkpoint()")
    before = set(ops_of(m))
    m.execute(late_write)
    return k, [x for h, x in ops_of(m).items() if h not in before]


def test_other_connection():
    """The fall-back and the history after it stored by one connection
    (a sync, becsync), while the app holds another open on the same file:
    the app's connection read the table as the fall-back left it (its
    create's columns), then the other stored the ADD COLUMN again.  Every
    merge in the app's connection (a write it ingests, bec_check's
    recomputation) uses the table as the ops show it now, not as that
    connection last connected it (it lost the added column's values)."""
    r = Replicas("bec-rejoin-conn-")
    try:
        a = r.origin("a.db", decl="id TEXT PRIMARY KEY, title TEXT, n INTEGER COUNTER")
        b = r.member(a, "b.db", "admin")
        c = r.member(a, "c.db", "member")
        sync_session(a, b)
        for i in range(4):
            a.execute("INSERT INTO todos VALUES(?, ?, ?)", ("r%d" % i, "t%d" % i, i))
        a.execute("SELECT bec_alter('todos', 'ADD COLUMN prio INTEGER NOT NULL DEFAULT 5')")
        sync_session(a, b)
        sync_session(a, c)
        k, late = checkpoint_beside(
            a, c, "UPDATE todos SET n = n + 1 WHERE id='r0'",
            "INSERT INTO todos(id, title, n) VALUES('late', 'concurrent with K', 1)")
        sync_session(a, b)
        sync_session(a, b)
        T.eq(one(a, "SELECT sealed FROM bec_checkpoints WHERE checkpoint=?", k), 1, "K sealed")
        a.execute("INSERT INTO todos VALUES('after', 'after K', 2, 7)")
        snap = one(a, "SELECT bec_snapshot()")
        app = r.joined(a, "j.db")
        other = connect(os.path.join(r.dir, "j.db"))
        one(other, "SELECT bec_snapshot_install(?)", snap)
        T.eq([d[0] for d in app.execute("SELECT * FROM todos").description],
             ["id", "title", "n", "prio"], "installed: the app sees the added column")
        fall_back(other, late, "the other connection")
        T.eq(app.execute("SELECT * FROM todos").fetchall(), [],
             "fell back: the app's connection reads the table the create shows")
        ingest_all(a, late)
        rest = ops_of(a)
        ingest_all(other, [x for h, x in rest.items() if h not in set(ops_of(other))])
        T.eq(one(app, "SELECT bec_check()"), "ok", "the app's connection checks")
        a.execute("INSERT INTO todos VALUES('new', 'x', 3, 9)")
        a.execute("UPDATE todos SET prio=8 WHERE id='r1'")
        ingest_all(app, [x for h, x in ops_of(a).items() if h not in rest])
        T.eq(one(other, "SELECT bec_check()"), "ok", "stored by the app's connection: checks")
        T.eq(connect(os.path.join(r.dir, "j.db")).execute(
            "SELECT * FROM todos ORDER BY id").fetchall(),
             a.execute("SELECT * FROM todos ORDER BY id").fetchall(),
             "the provider's rows, the added column's values with them")
        for db in (a, b, c, app, other):
            db.close()
    finally:
        r.cleanup()


def test_root():
    """A group with a threshold root (2 of 3, its key generated and a
    request signed before K): a replica that installed K's snapshot falls
    back to a full join at a member's op below K's predecessors (the root's
    state is derived from the ops alone: dropped, then derived again as they
    are stored), and ends with the provider's root, members, rows and
    validity; bec_check() ok."""
    rng = random.Random(1718)
    r = Replicas("bec-rejoin-root-")
    try:
        a = r.origin("a.db", decl="id TEXT PRIMARY KEY, title TEXT, n INTEGER")
        b = r.member(a, "b.db", "member")
        c = r.member(a, "c.db", "member")
        d = r.member(a, "d.db", "member")
        dbs = [a, b, c]
        root_steps(dbs + [d], rng)
        one(a, "SELECT bec_root_open(2, ?)", json.dumps([pub(x) for x in dbs]))
        root_steps(dbs + [d], rng)
        T.eq(one(a, "SELECT state FROM bec_root"), "active", "the root is active")
        a.execute("INSERT INTO todos VALUES('r1', 'one', 1)")
        root_steps(dbs + [d], rng)
        k, late = checkpoint_beside(a, d, "INSERT INTO todos VALUES('r2', 'two', 2)",
                                    "INSERT INTO todos VALUES('late', 'concurrent with K', 3)")
        root_steps(dbs, rng)
        T.eq(one(a, "SELECT sealed FROM bec_checkpoints WHERE checkpoint=?", k), 1, "K sealed")
        snap = one(a, "SELECT bec_snapshot()")
        j = r.joined(a, "j.db")
        T.eq(one(j, "SELECT bec_snapshot_install(?)", snap), k, "installed")
        T.eq(j.execute("SELECT * FROM bec_root").fetchall(),
             a.execute("SELECT * FROM bec_root").fetchall(), "installed: the provider's root")
        fall_back(j, late, "a root group")
        T.eq(one(j, "SELECT value FROM bec_store_config WHERE key='rejoin_blocked'"), None,
             "the fall-back was not refused")
        ingest_all(a, late)
        ingest_all(j, list(ops_of(a).values()))
        for q in ("SELECT * FROM bec_root", "SELECT * FROM bec_root_holders ORDER BY 1, 2",
                  "SELECT * FROM bec_root_requests ORDER BY 1"):
            T.eq(j.execute(q).fetchall(), a.execute(q).fetchall(), "after the full join: " + q)
        T.eq(state(j), state(a), "after the full join: ops, members, rows, conflicts")
        T.eq(one(j, "SELECT bec_check()"), "ok", "bec_check()")
        for db in dbs + [d, j]:
            db.close()
    finally:
        r.cleanup()


def test_encrypted():
    """An encrypted group (two epochs in the cut): a replica that installed
    K's snapshot meets two members' ops concurrent with K.  The first comes
    while a local write is not signed yet: it waits (the one refusal left);
    at the second the replica falls back to a full join; its seeds, kept by the epoch ops' ids (bec_store_epoch_kept), come
    back as the epoch ops are stored again.  It ends with the provider's
    rows, members, validity and epochs, every seed held, nothing locked,
    and reads an op signed after the fall-back under a new epoch."""
    r = Replicas("bec-rejoin-e2ee-")
    try:
        a = r.origin("a.db", encrypted=True)
        o = r.member(a, "o.db", "member")
        o2 = r.member(a, "o2.db", "member")
        j = r.joined(a, "j.db")
        a.execute("SELECT bec_add_member(?, 'member')", (pub(j),))
        a.execute("INSERT INTO todos VALUES('r1', 'secret one', 1)")
        ingest_all(o, list(ops_of(a).values()))
        ingest_all(o2, list(ops_of(a).values()))
        a.execute("SELECT bec_rekey()")
        a.execute("INSERT INTO todos VALUES('r2', 'secret two', 2)")
        k = one(a, "SELECT bec_checkpoint()")
        late = []
        for m, row in ((o2, "late2"), (o, "late")):
            before = set(ops_of(m))
            m.execute("INSERT INTO todos VALUES(?, 'concurrent with K', 3)", (row,))
            late += [x for h, x in ops_of(m).items() if h not in before]
        a.execute("SELECT bec_rekey()")
        a.execute("INSERT INTO todos VALUES('after', 'after K', 4)")
        T.eq(one(j, "SELECT bec_snapshot_install(?)", one(a, "SELECT bec_snapshot()")), k,
             "installed")
        ingest_all(j, [x for h, x in ops_of(a).items() if h not in set(ops_of(j))])
        T.eq(one(j, "SELECT title FROM todos WHERE id='after'"), "after K", "reads after K")
        # the first arrives while a local write is not signed yet: it waits
        # (the one case that still refuses), the next asks again
        j.execute("BEGIN")
        j.execute("INSERT INTO todos VALUES('w', 'written as it came', 7)")
        reply = one(j, "SELECT bec_sync_apply('o2', ?)", one(o2, "SELECT bec_sync_offer('j')"))
        # (in sync the replica first asks o2 for a longer band: o2, the
        # author, holds no K and answers none; then it would fall back)
        for _ in range(8):
            if reply is None:
                break
            try:
                m = one(o2, "SELECT bec_sync_apply('j', ?)", reply)
                reply = m and one(j, "SELECT bec_sync_apply('o2', ?)", m)
            except sqlite3.Error:
                break                   # (o2 lacks the cut: it ends the session)
        st = json.loads(one(j, "SELECT bec_sync_state('o2')"))
        T.check(st.get("rejoin") == "waiting" and "not signed yet" in st.get("rejoin_why", ""),
                "bec_sync_state says it waits, and why: %r" % st)
        ingest_all(a, late[:1])
        try:
            sync_session(j, a)
            err = ""
        except sqlite3.Error as e:
            err = str(e)
        T.check("wait for a full join" in err, "a session that can make no progress says so: %r"
                % err)
        T.check(b"not signed yet" in one(j, "SELECT value FROM bec_store_config"
                                          " WHERE key='rejoin_blocked'"), "it waits")
        T.eq(one(j, "SELECT count(*) FROM bec_pending"), 1, "the op waits in the pending area")
        j.execute("COMMIT")
        T.check(one(j, "SELECT count(*) FROM bec_store_cut") > 0, "no fall-back yet")
        fall_back(j, late[1:], "an encrypted group")
        T.eq(one(j, "SELECT value FROM bec_store_config WHERE key='rejoin_blocked'"), None,
             "the fall-back was not refused")
        T.check(one(j, "SELECT count(*) FROM bec_store_epoch_kept") > 0,
                "the seeds are kept by id while their epoch ops wait")
        ingest_all(a, late)
        ingest_all(j, list(ops_of(a).values()))
        # (j, a full replica again, attests K as members do: a takes it)
        ingest_all(a, [x for h, x in ops_of(j).items() if h not in set(ops_of(a))])
        T.eq(state(j), state(a), "after the full join: ops, members, rows, conflicts")
        ep = "SELECT epoch, valid, holders, current FROM bec_epochs ORDER BY epoch"
        T.eq(j.execute(ep).fetchall(), a.execute(ep).fetchall(), "the epochs as the provider's")
        T.eq(one(j, "SELECT count(*) FROM bec_epochs WHERE NOT i_hold"), 0, "every seed held")
        T.eq(one(j, "SELECT count(*) FROM bec_locked"), 0, "nothing locked")
        T.eq(one(j, "SELECT count(*) FROM bec_store_epoch_kept"), 0, "every kept seed put back")
        a.execute("SELECT bec_rekey()")
        a.execute("INSERT INTO todos VALUES('new', 'after the fall-back', 5)")
        ingest_all(j, [x for h, x in ops_of(a).items() if h not in set(ops_of(j))])
        T.eq(one(j, "SELECT title FROM todos WHERE id='new'"), "after the fall-back",
             "reads an op under a new epoch")
        j.execute("INSERT INTO todos VALUES('j', 'by the fallen-back joiner', 6)")
        ingest_all(a, [x for h, x in ops_of(j).items() if h not in set(ops_of(a))])
        T.eq(state(j), state(a), "its own write reaches the provider")
        T.eq(one(j, "SELECT bec_check()"), "ok", "bec_check()")
        for db in (a, o, o2, j):
            db.close()
    finally:
        r.cleanup()


def test_encrypted_locked():
    """The same fall-back with the joiner's passphrase identity locked: the
    kept seeds cannot be put back (nor the boxes opened), the tables wait;
    after bec_unlock, bec_heal() opens the boxes again and judges the locked
    ops again: the provider's rows, nothing locked, no kept seed left."""
    r = Replicas("bec-rejoin-e2ee-locked-")
    try:
        a = r.origin("a.db", encrypted=True)
        o = r.member(a, "o.db", "member")
        j = connect(r.path("j.db"))
        j.execute("SELECT bec_keygen('pw')")
        j.execute("SELECT bec_join(?)", (one(a, "SELECT bec_group_id()"),))
        a.execute("SELECT bec_add_member(?, 'member')", (pub(j),))
        a.execute("INSERT INTO todos VALUES('r1', 'secret one', 1)")
        ingest_all(o, list(ops_of(a).values()))
        a.execute("SELECT bec_rekey()")
        k = one(a, "SELECT bec_checkpoint()")
        before = set(ops_of(o))
        o.execute("INSERT INTO todos VALUES('late', 'concurrent with K', 3)")
        late = [x for h, x in ops_of(o).items() if h not in before]
        a.execute("INSERT INTO todos VALUES('after', 'after K', 4)")
        T.eq(one(j, "SELECT bec_snapshot_install(?)", one(a, "SELECT bec_snapshot()")), k,
             "installed")
        j.execute("SELECT bec_lock()")
        fall_back(j, late, "locked")
        ingest_all(a, late)
        ingest_all(j, list(ops_of(a).values()))
        T.check(one(j, "SELECT count(*) FROM bec_locked") > 0, "locked: the ops wait for keys")
        T.check(one(j, "SELECT count(*) FROM bec_store_epoch_kept") > 0, "the seeds still kept")
        j.execute("SELECT bec_unlock('pw')")
        j.execute("SELECT bec_heal()")
        T.eq(j.execute("SELECT * FROM todos ORDER BY id").fetchall(),
             a.execute("SELECT * FROM todos ORDER BY id").fetchall(), "unlocked: the rows")
        T.eq(one(j, "SELECT count(*) FROM bec_locked"), 0, "nothing locked")
        T.eq(one(j, "SELECT count(*) FROM bec_store_epoch_kept"), 0, "no kept seed left")
        T.eq(one(j, "SELECT bec_check()"), "ok", "bec_check()")
        for db in (a, o, j):
            db.close()
    finally:
        r.cleanup()


if __name__ == '__main__':
    T.run([test_seeds, test_other_connection, test_root, test_encrypted, test_encrypted_locked])
    T.done()
