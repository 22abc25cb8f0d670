"""test_prune.py - bec_prune() (docs/compaction.md "Pruning"): it drops the
bodies of the write and app ops below the latest sealed checkpoint and
nothing else, keeps the rows (the merge base), is idempotent and refused
without a sealed checkpoint; bec_check() verifies what a pruned replica
holds; bec_op() of a dropped body is a clear error; pruned and unpruned
replicas converge in 100 random delivery orders of ops concurrent with and
after the checkpoint (conflicts in the base, deletes, re-inserts, a removal
that turns writes outside the cut off); in sync, a pruned replica tells a
peer which bodies it cannot send, the peer's session ends out of sync with
that reason, and a sync with an unpruned replica fetches them; a pruned
replica still serves what lies after the cut; hostile input (a header-only
op, a malformed pruned list) is refused; a pruned op's row keeps its header
alone (no signature), which bec_check() proves by the op's id.
"""
import json
import random

from bectest import T, Replicas, one, ship
import becwire

R = Replicas("bec-prune-")


def pub(db):
    return one(db, "SELECT bec_pubkey()")


def rows(db):
    return db.execute("SELECT * FROM todos ORDER BY id").fetchall()


def conflicts(db):
    return sorted(db.execute("SELECT pk, \"column\", value FROM bec_conflicts").fetchall(),
                  key=repr)


def sync(a, a_names_b, b, b_names_a):
    """One session, a offering; the error that ended it, or None."""
    try:
        m = one(a, "SELECT bec_sync_offer(?)", a_names_b)
        for _ in range(100):
            m = one(b, "SELECT bec_sync_apply(?, ?)", b_names_a, m)
            if not m:
                return None
            m = one(a, "SELECT bec_sync_apply(?, ?)", a_names_b, m)
            if not m:
                return None
    except Exception as e:          # sqlite3.Error from either side
        return str(e)
    return "no end"


def sealed(db, k):
    return one(db, "SELECT sealed FROM bec_checkpoints WHERE checkpoint=?", k)


def test_basics():
    a = R.origin("b_a.db")
    T.raises(lambda: a.execute("SELECT bec_prune()"), "no checkpoint is sealed",
             "refused without a sealed checkpoint")
    for i in range(12):
        a.execute("INSERT INTO todos VALUES(?, ?, ?)", ("r%d" % i, "t%d" % i, i))
    a.execute("UPDATE todos SET done=done+100 WHERE id IN ('r1', 'r2')")
    a.execute("DELETE FROM todos WHERE id='r3'")
    a.execute("SELECT bec_sign(x'0102')")            # an app op
    nwrite = one(a, "SELECT count(*) FROM bec_ops WHERE kind IN ('write', 'app')")
    k = one(a, "SELECT bec_checkpoint()")
    T.eq(sealed(a, k), 1, "one admin: its own claim seals")
    a.execute("INSERT INTO todos VALUES('after', 'outside the cut', 1)")
    before, size_before = rows(a), one(a, "SELECT sum(length(body)) FROM bec_ops")
    n = one(a, "SELECT bec_prune()")
    T.eq(n, nwrite, "every write and app op below the checkpoint lost its body")
    T.eq(rows(a), before, "the rows are unchanged")
    T.check(one(a, "SELECT sum(length(body)) FROM bec_ops") < size_before, "less stored")
    T.eq(one(a, "SELECT bec_prune()"), 0, "idempotent")
    a.execute("BEGIN")
    a.execute("UPDATE todos SET done=-1 WHERE id='r0'")
    T.raises(lambda: a.execute("SELECT bec_prune()"), "not signed yet",
             "refused inside a transaction with unsigned writes")
    a.execute("ROLLBACK")
    T.eq(one(a, "SELECT bec_check()"), "ok", "bec_check on the pruned replica")
    T.eq(one(a, "SELECT count(*) FROM bec_ops WHERE payload IS NULL"), n,
         "bec_ops shows the pruned payloads as NULL")
    T.eq(one(a, "SELECT count(*) FROM bec_ops WHERE payload IS NULL AND kind NOT IN"
                " ('write', 'app')"), 0, "membership, schema and checkpoint ops keep bodies")
    T.eq(one(a, "SELECT count(*) FROM bec_ops WHERE kind='write' AND payload IS NOT NULL"),
         1, "the write after the checkpoint keeps its body")
    T.check(one(a, "SELECT count(*) FROM bec_ops WHERE payload IS NULL AND deps IS NULL") == 0,
            "headers still give the predecessors")
    h = one(a, "SELECT hash FROM bec_ops WHERE payload IS NULL LIMIT 1")
    T.raises(lambda: a.execute("SELECT bec_op(?)", (h,)).fetchall(),
             "pruned: the body of %s was dropped below checkpoint %s" % (h, k),
             "bec_op of a dropped body")
    # The row history and the change feed skip what was pruned.
    T.eq(one(a, "SELECT count(*) FROM bec_history('todos', 'after')"), 1,
         "the history of a row written after the cut")
    T.eq(one(a, "SELECT count(*) FROM bec_history('todos', 'r1')"), 0,
         "the history below the cut is gone")
    T.eq(one(a, "SELECT count(*) FROM bec_changes(0) WHERE op IN (SELECT hash FROM"
                " bec_ops WHERE payload IS NULL)"), 0, "the feed skips pruned ops")
    T.check(one(a, "SELECT count(*) FROM bec_changes(0)") >= 1, "the feed still reads")
    T.check(one(a, "SELECT length(bec_dot())") > 0, "bec_dot draws a pruned DAG")
    # The merge base carries later writes.
    a.execute("UPDATE todos SET title='z' WHERE id='r5'")
    a.execute("DELETE FROM todos WHERE id='r6'")
    a.execute("INSERT INTO todos VALUES('r3', 'back', 3)")
    T.eq(rows(a)[:4], [("after", "outside the cut", 1), ("r0", "t0", 0),
                       ("r1", "t1", 101), ("r10", "t10", 10)], "rows")
    T.eq(one(a, "SELECT title FROM todos WHERE id='r5'"), "z", "update over the base")
    T.eq(one(a, "SELECT count(*) FROM todos WHERE id IN ('r6')"), 0, "delete over the base")
    T.eq(one(a, "SELECT title FROM todos WHERE id='r3'"), "back", "re-insert")
    T.eq(one(a, "SELECT bec_check()"), "ok", "bec_check after writes")
    # A closed and reopened database shows the same (the base is stored).
    p = R.clone(a, "b_a2.db")
    T.eq(rows(p), rows(a), "a copy shows the same rows")
    T.eq(one(p, "SELECT bec_check()"), "ok", "bec_check on the copy")
    # Hostile: a header-only op is refused, nothing stored.
    head = one(a, "SELECT body FROM bec_ops WHERE payload IS NULL LIMIT 1")
    d = R.joined(a, "b_d.db")
    T.raises(lambda: d.execute("SELECT bec_ingest(?)", (head,)), "",
             "a header without its body is refused")
    T.eq(one(d, "SELECT count(*) FROM bec_ops"), 0, "nothing stored")


def build_history():
    """a and b admins, m a member.  Before the checkpoint: rows, a conflict,
    a delete.  The checkpoint is sealed by a and b (k=2).  After: ops
    concurrent with it (m's, made before m saw it), updates of base rows,
    a delete, a re-insert, conflicts, and b's removal of m, concurrent with
    m's late writes (they are turned off)."""
    a = R.origin("h_a.db")
    b = R.joined(a, "h_b.db")
    a.execute("SELECT bec_add_member(?, 'admin')", (pub(b),))
    m = R.joined(a, "h_m.db")
    a.execute("SELECT bec_add_member(?, 'member')", (pub(m),))
    for i in range(10):
        a.execute("INSERT INTO todos VALUES(?, ?, ?)", ("r%d" % i, "t%d" % i, i))
    ship(a, b)
    ship(a, m)
    a.execute("UPDATE todos SET title='from a' WHERE id='r0'")
    a.execute("UPDATE todos SET title='a9' WHERE id='r9'")
    b.execute("UPDATE todos SET title='from b', done=7 WHERE id='r0'")
    b.execute("DELETE FROM todos WHERE id='r1'")
    b.execute("UPDATE todos SET done=50 WHERE id='r2'")
    b.execute("UPDATE todos SET title='b9' WHERE id='r9'")
    b.execute("UPDATE todos SET title='b9 again' WHERE id='r9'")   # deeper: wins
    ship(b, m)
    # m deletes r9 having seen b's writes, not a's: a's losing write, a
    # conflict of the base, shows again once the delete arrives.
    m.execute("DELETE FROM todos WHERE id='r9'")
    ship(b, a)
    T.check(one(a, "SELECT count(*) FROM bec_conflicts") > 0, "a conflict in the cut")
    # m writes concurrently with the checkpoint (it has not seen it).
    m.execute("UPDATE todos SET title='m was here' WHERE id='r4'")
    m.execute("INSERT INTO todos VALUES('m1', 'by m', 1)")
    k = one(a, "SELECT bec_checkpoint()")
    ship(a, b)                       # b attests as it ingests
    ship(b, a)
    T.eq(sealed(a, k), 1, "sealed by a and b")
    # After the checkpoint.
    a.execute("UPDATE todos SET title='a late' WHERE id='r0'")
    b.execute("UPDATE todos SET done=1000 WHERE id='r5'")
    b.execute("DELETE FROM todos WHERE id='r6'")
    a.execute("INSERT INTO todos VALUES('r1', 'again', 11)")
    a.execute("UPDATE todos SET done=-5 WHERE id='r5'")
    ship(m, b)
    b.execute("SELECT bec_remove_member(?)", (pub(m),))
    m.execute("UPDATE todos SET done=123 WHERE id='r7'")     # concurrent with
    m.execute("DELETE FROM todos WHERE id='r8'")              # the removal
    return a, b, m, k


def test_converge():
    a, b, m, k = build_history()
    # The reference holds everything.
    ref = R.joined(a, "h_ref.db")
    for src in (a, b, m):
        ship(src, ref)
    want, want_c = rows(ref), conflicts(ref)
    T.check(("m1", "by m", 1) in want and ("r8", "t8", 8) in want
            and ("r7", "t7", 7) in want,
            "m's ops concurrent with its removal are off, the earlier ones on")
    T.check(("r9", "a9", None) in want, "the delete uncovers the base's conflict (done: every write of it covered)")
    allops = [bb for (bb,) in ref.execute("SELECT body FROM bec_ops")]
    # a pruned, and a copy of a not pruned, at the same point.
    full = R.clone(a, "h_full.db")
    n = one(a, "SELECT bec_prune()")
    T.check(n > 10, "a pruned %d bodies" % n)
    T.eq(one(a, "SELECT bec_check()"), "ok", "bec_check after pruning")
    ok = 0
    for seed in range(100):
        p = R.clone(a, "h_p.db")
        u = R.clone(full, "h_u.db")
        order = list(allops)
        random.Random(seed).shuffle(order)
        for op in order:
            p.execute("SELECT bec_ingest(?)", (op,))
            u.execute("SELECT bec_ingest(?)", (op,))
        same = rows(p) == rows(u) == want and conflicts(p) == conflicts(u) == want_c
        ok += same
        if not same:
            T.check(False, "seed %d: pruned %r, unpruned %r, want %r" % (
                seed, rows(p), rows(u), want))
        if seed % 25 == 0:
            T.eq(one(p, "SELECT bec_check()"), "ok", "seed %d: bec_check pruned" % seed)
        p.close()
        u.close()
    T.eq(ok, 100, "pruned and unpruned replicas agree in 100 orders")


def test_sync_three():
    """p pruned, u not: a fresh replica c is told by p which bodies it
    cannot have, fetches them from u, and then syncs with p in peace."""
    a, b, m, k = build_history()
    for src in (b, m):
        ship(src, a)
    u = R.clone(a, "t_u.db")
    T.check(one(a, "SELECT bec_prune()") > 0, "a pruned")
    p = a
    c = R.joined(p, "t_c.db")
    err = sync(c, "p", p, "c")
    T.check(err is not None and "has pruned" in err and k in err,
            "the session ends with the pruned bodies named: %r" % err)
    T.check("has pruned" in (one(c, "SELECT last_error FROM bec_peers WHERE peer='p'") or ""),
            "bec_peers.last_error says so")
    T.check(rows(c) != rows(p), "c is not in sync yet")
    T.eq(sync(c, "u", u, "c"), None, "c syncs with the unpruned replica")
    T.eq(rows(c), rows(u), "c has the tables")
    T.eq(sync(c, "p", p, "c"), None, "then with p, in peace")
    T.eq(rows(c), rows(p), "c and p agree")
    T.eq(one(c, "SELECT count(*) FROM bec_ops WHERE payload IS NULL"), 0,
         "c holds every body")
    # p still serves what lies after the cut, both ways.
    u.execute("INSERT INTO todos VALUES('n1', 'new', 1)")
    T.eq(sync(u, "p", p, "u"), None, "u and p sync")
    p.execute("UPDATE todos SET title='from p' WHERE id='n1'")
    T.eq(sync(p, "c", c, "p"), None, "p relays to c")
    T.eq(rows(c), rows(p), "c has u's and p's new ops through p")
    T.eq(sync(c, "u", u, "c"), None, "and u from c")
    T.eq(rows(u), rows(p), "all three agree")
    for d in (p, u, c):
        T.eq(one(d, "SELECT bec_check()"), "ok", "bec_check")


def ship_held(src, dst):
    """Every op src holds with its body into dst."""
    for (bb,) in src.execute("SELECT body FROM bec_ops WHERE payload IS NOT NULL"
                             " OR kind NOT IN ('write', 'app')").fetchall():
        dst.execute("SELECT bec_ingest(?)", (bb,))


def claim(db, k):
    """The digest checkpoint op k carries (its author's claim)."""
    body = one(db, "SELECT body FROM bec_ops WHERE hash=?", k)
    return becwire.decode_op(body)["body"][1:33].hex()


def test_later_checkpoint():
    """A pruned replica that holds an op concurrent with a later checkpoint
    replays that checkpoint's cut from its merge base: the same digest as
    the author's, it attests, the checkpoint seals, and it prunes again."""
    a, b, m, k = build_history()
    for src in (b, m):
        ship(src, a)
    ship(a, b)
    u = R.clone(a, "l_u.db")
    T.check(one(a, "SELECT bec_prune()") > 0, "a pruned")
    a.execute("UPDATE todos SET title='a, concurrent with k2' WHERE id='r2'")
    b.execute("UPDATE todos SET title='b before k2' WHERE id='r3'")
    k2 = one(b, "SELECT bec_checkpoint()")
    want = claim(b, k2)
    for d in (a, u):
        ship(b, d)
    T.eq(one(a, "SELECT digest FROM bec_checkpoints WHERE checkpoint=?", k2), want,
         "the pruned replica's digest of the later cut is the author's")
    T.eq(one(u, "SELECT digest FROM bec_checkpoints WHERE checkpoint=?", k2), want,
         "and the unpruned replica's")
    T.eq(sealed(a, k2), 1, "a's attestation and b's claim seal it on a")
    T.eq(one(a, "SELECT count(*) FROM bec_disputes"), 0, "no dispute")
    ship_held(a, u)
    T.eq(sealed(u, k2), 1, "sealed on u too")
    n2 = one(a, "SELECT bec_prune()")
    T.check(n2 >= 1, "a prunes again below the later checkpoint (%r)" % n2)
    T.eq(rows(a), rows(u), "same rows as the unpruned replica")
    T.eq(conflicts(a), conflicts(u), "same conflicts")
    T.eq(one(a, "SELECT bec_check()"), "ok", "bec_check after the second prune")
    b.execute("UPDATE todos SET done=77 WHERE id='r0'")
    ship(b, a)
    ship(b, u)
    T.eq(rows(a), rows(u), "later writes merge alike")


def test_pruned_list_of_held_ops():
    """A pruned replica's reply names bodies its peer lacked when the
    session began; if the peer received them from a full replica meanwhile
    (sessions interleave), the list names nothing it lacks: the session goes
    on, no error (bytesim found this)."""
    a, b, m, k = build_history()
    for src in (b, m):
        ship(src, a)
    u = R.clone(a, "h_u.db")
    T.check(one(a, "SELECT bec_prune()") > 0, "a pruned")
    c = R.joined(a, "h_c.db")
    offer = one(c, "SELECT bec_sync_offer('p')")
    reply = one(a, "SELECT bec_sync_apply('c', ?)", offer)
    T.check(reply is not None and reply[1] & 0x80,
            "the pruned replica's reply carries a PRUNED list")
    T.eq(sync(c, "u", u, "c"), None, "meanwhile c syncs with the unpruned replica")
    T.eq(one(c, "SELECT count(*) FROM bec_ops WHERE payload IS NULL"), 0,
         "c now holds every body")
    err = None
    try:
        msg = one(c, "SELECT bec_sync_apply('p', ?)", reply)
        for _ in range(100):
            if not msg:
                break
            msg = one(a, "SELECT bec_sync_apply('c', ?)", msg)
            if not msg:
                break
            msg = one(c, "SELECT bec_sync_apply('p', ?)", msg)
    except Exception as e:          # sqlite3.Error
        err = str(e)
    T.eq(err, None, "the list of bodies c already holds is no error")
    T.eq(one(c, "SELECT last_error FROM bec_peers WHERE peer='p'"), None,
         "bec_peers.last_error stays empty")
    T.eq(rows(c), rows(a), "c and the pruned replica agree")
    T.eq(one(c, "SELECT bec_check()"), "ok", "bec_check on c")


def test_hostile_pruned_list():
    """A PRUNED flag with an empty list is malformed, refused."""
    a = R.origin("x_a.db")
    b = R.joined(a, "x_b.db")
    m = bytearray(one(b, "SELECT bec_sync_offer('a')"))
    m[1] |= 0x80                       # PRUNED, then no room for its list
    T.raises(lambda: a.execute("SELECT bec_sync_apply('b', ?)", (bytes(m),)),
             "malformed sync message", "a PRUNED flag without its list")


def test_alters_and_the_base():
    """The base names columns by id: alters that arrive after a prune (an
    ADD whose column the base rows lack, a DROP of a column they hold, a
    RENAME), and a second prune whose base holds an added column, give a
    pruned replica the rows and columns of an unpruned one, in random
    delivery orders of the later ops."""
    a = R.origin("al_a.db")
    for i in range(6):
        a.execute("INSERT INTO todos VALUES(?, ?, ?)", ("r%d" % i, "t%d" % i, i))
    a.execute("SELECT bec_checkpoint()")
    before = [bb for (bb,) in a.execute("SELECT body FROM bec_ops")]
    full = R.clone(a, "al_full.db")
    T.check(one(a, "SELECT bec_prune()") > 0, "pruned")
    # Later ops, made on the unpruned copy: shipped to the pruned replica.
    full.execute("SELECT bec_alter('todos', 'ADD COLUMN n INTEGER NOT NULL DEFAULT 7')")
    full.execute("UPDATE todos SET n = 70 WHERE id IN ('r1', 'r2')")
    full.execute("INSERT INTO todos VALUES('x', 'after', 1, 8)")
    full.execute("SELECT bec_alter('todos', 'RENAME COLUMN title TO label')")
    later = [bb for (bb,) in full.execute("SELECT body FROM bec_ops")][len(before):]
    want = full.execute("SELECT * FROM todos ORDER BY id").fetchall()
    cols = full.execute("SELECT name FROM pragma_table_info('todos')").fetchall()
    ok = 0
    for seed in range(20):
        p = R.clone(a, "al_p.db")
        order = list(later)
        random.Random(seed).shuffle(order)
        for _ in range(3):          # orders that are not causal wait, then apply
            for op in order:
                p.execute("SELECT bec_ingest(?)", (op,))
        same = (p.execute("SELECT * FROM todos ORDER BY id").fetchall() == want
                and p.execute("SELECT name FROM pragma_table_info('todos')").fetchall() == cols)
        ok += same
        if not same:
            T.check(False, "seed %d: %r" % (seed, p.execute("SELECT * FROM todos ORDER BY id").fetchall()))
        p.close()
    T.eq(ok, 20, "a pruned replica shows what the unpruned one shows, the ADD and RENAME arriving later")
    for op in later:
        a.execute("SELECT bec_ingest(?)", (op,))
    T.eq(a.execute("SELECT * FROM todos ORDER BY id").fetchall(), want, "the pruned replica itself")
    T.eq(one(a, "SELECT bec_check()"), "ok", "bec_check after alters over the base")
    # A second prune: its base holds the added column; then the added column
    # is dropped and a column is added again.
    def ship_bodies(src, dst):      # a pruned replica sends what it holds
        for (bb,) in src.execute("SELECT body FROM bec_ops WHERE payload IS NOT NULL"):
            dst.execute("SELECT bec_ingest(?)", (bb,))
    a.execute("UPDATE todos SET n = n + 1 WHERE id = 'r3'")
    ship_bodies(a, full)
    a.execute("SELECT bec_checkpoint()")
    ship_bodies(a, full)
    T.check(one(a, "SELECT bec_prune()") > 0, "pruned again, with the added column in the base")
    T.eq(one(a, "SELECT bec_check()"), "ok", "bec_check after the second prune")
    full.execute("SELECT bec_alter('todos', 'DROP COLUMN n')")
    full.execute("SELECT bec_alter('todos', 'ADD COLUMN z TEXT')")
    full.execute("UPDATE todos SET z = 'zed' WHERE id = 'r4'")
    ship(full, a)
    T.eq(a.execute("SELECT * FROM todos ORDER BY id").fetchall(),
         full.execute("SELECT * FROM todos ORDER BY id").fetchall(),
         "a dropped column of the base is left out, a new one shows its fill")
    T.eq(a.execute("SELECT name FROM pragma_table_info('todos')").fetchall(),
         [("id",), ("label",), ("done",), ("z",)], "the columns shown")
    T.eq(one(a, "SELECT bec_check()"), "ok", "bec_check after the drop")
    p = R.clone(a, "al_copy.db")
    T.eq(p.execute("SELECT * FROM todos ORDER BY id").fetchall(),
         full.execute("SELECT * FROM todos ORDER BY id").fetchall(), "a copy shows the same")


def stored(db, h):
    """The raw stored form of op h (hex) in bec_store_op."""
    return bytes(one(db, "SELECT body FROM bec_store_op WHERE hash=?", bytes.fromhex(h)))


def is_stub(raw, header):
    """A pruned row's stub: 0x00, the payload length (a varint), the payload
    hash: the header's payload length and hash, which end the header."""
    return raw[0] == 0 and raw[-32:] == header[-32:] and header.endswith(raw[1:])


def test_pruned_header_storage():
    """A pruned op keeps a stub: its header's payload length and hash; the
    rest of the header is its row's (kind, author, the predecessors' ids) and
    the group's.  bec_ops shows the header rebuilt, byte for byte (the id is
    the hash of the header, COMPACTION.md section 2).  bec_check() proves
    each rebuilt header by its id and finds a damaged stub or row."""
    a = R.origin("h_a.db")
    for i in range(5):
        a.execute("INSERT INTO todos VALUES(?, ?, ?)", ("r%d" % i, "t%d" % i, i))
    full = {h: b for h, b in a.execute("SELECT hash, body FROM bec_ops WHERE kind='write'")}
    one(a, "SELECT bec_checkpoint()")
    T.eq(one(a, "SELECT bec_prune()"), 5, "five bodies dropped")
    pruned = a.execute("SELECT hash, body FROM bec_ops WHERE payload IS NULL").fetchall()
    T.eq(len(pruned), 5, "five pruned ops")
    for h, b in pruned:
        T.eq(becwire.blake(b).hex(), h, "the rebuilt pruned header hashes to the op's id")
        T.eq(len(b), len(becwire.decode_op(full[h])["header"]),
             "bec_ops shows the header alone (no signature, no body)")
        T.eq(bytes(b), bytes(full[h][:len(b)]), "... byte for byte")
        raw = stored(a, h)
        T.check(is_stub(raw, bytes(b)), "the row keeps a stub (payload length and hash)")
        T.check(len(raw) <= 35, "of at most 35 bytes (%d)" % len(raw))
    for h, b in pruned:
        want = [bytes(x).hex() for x in becwire.decode_op(full[h])["preds"]]
        T.eq(json.loads(one(a, "SELECT deps FROM bec_ops WHERE hash=?", h)), want,
             "deps of a pruned op, from its rebuilt header")
    T.eq(one(a, "SELECT bec_check()"), "ok", "bec_check proves the headers by their ids")
    h, b = pruned[0]
    raw = stored(a, h)
    bad = raw[:-1] + bytes([raw[-1] ^ 1])             # its payload hash
    a.execute("UPDATE bec_store_op SET body=? WHERE hash=?", (bad, bytes.fromhex(h)))
    a.commit()
    T.check("does not hash to its id" in one(a, "SELECT bec_check()"),
            "bec_check finds a damaged stub")
    a.execute("UPDATE bec_store_op SET body=? WHERE hash=?", (raw, bytes.fromhex(h)))
    a.commit()
    T.eq(one(a, "SELECT bec_check()"), "ok", "and not once repaired")
    # The row's own columns are part of the header now: a wrong kind is found.
    a.execute("UPDATE bec_store_op SET kind=4 WHERE hash=?", (bytes.fromhex(h),))
    a.commit()
    T.check("does not hash to its id" in one(a, "SELECT bec_check()"),
            "bec_check finds a pruned row whose kind column was changed")
    a.execute("UPDATE bec_store_op SET kind=6 WHERE hash=?", (bytes.fromhex(h),))
    a.commit()
    T.eq(one(a, "SELECT bec_check()"), "ok", "and not once repaired (kind)")
    # A stub is not an op: refused by bec_ingest, nothing stored.
    d = R.joined(a, "h_d.db")
    T.raises(lambda: d.execute("SELECT bec_ingest(?)", (raw,)), "",
             "a stub is refused")
    T.eq(one(d, "SELECT count(*) FROM bec_ops"), 0, "nothing stored")


def pruned_as_older(tag, old_body):
    """A replica a pruned below a checkpoint of five writes, and b, a full
    replica, both closed; a's pruned rows rewritten by hand as an older
    build stored them: old_body(full op, its header's length).  Returns
    (a's path, {hash: full body}, b's path, a's rows, a raw connection to
    a's file for more changes: the caller commits and closes it)."""
    import sqlite3
    a = R.origin("%s_a.db" % tag)
    for i in range(5):
        a.execute("INSERT INTO todos VALUES(?, ?, ?)", ("r%d" % i, "t%d" % i, i))
    full = {h: b for h, b in a.execute("SELECT hash, body FROM bec_ops WHERE kind='write'")}
    one(a, "SELECT bec_checkpoint()")
    b = R.joined(a, "%s_b.db" % tag)          # a full replica
    ship(a, b)
    T.eq(one(a, "SELECT bec_prune()"), 5, "five bodies dropped")
    before = rows(a)
    path = one(a, "SELECT file FROM pragma_database_list WHERE name='main'")
    a.close()
    raw = sqlite3.connect(path)
    n = 0
    for h, body in raw.execute("SELECT hash, body FROM bec_store_op").fetchall():
        hx = bytes(h).hex()
        if hx in full and len(body) < len(full[hx]):
            nh = len(becwire.decode_op(full[hx])["header"])
            raw.execute("UPDATE bec_store_op SET body=? WHERE hash=?", (old_body(full[hx], nh), h))
            n += 1
    T.eq(n, 5, "five rows in the older form")
    return path, full, b, before, raw


def test_upgrade_pruned_form2():
    """A database pruned by the build before stubs: its pruned rows hold the
    header alone ('pruned_form' 2).  Opened here, they become stubs once
    ('pruned_form' 3); bec_ops, bec_check(), writes and sync work."""
    from bectest import connect
    path, full, b, before, raw = pruned_as_older("u2", lambda op, nh: op[:nh])
    raw.execute("UPDATE bec_store_config SET value=2 WHERE key='pruned_form'")
    raw.commit()
    raw.close()
    a = connect(path)
    for h, body in a.execute("SELECT hash, body FROM bec_ops WHERE payload IS NULL").fetchall():
        T.eq(bytes(body), bytes(full[h][:len(body)]), "bec_ops shows the header again")
        T.check(is_stub(stored(a, h), bytes(body)), "the row is a stub now")
    T.eq(one(a, "SELECT bec_check()"), "ok", "bec_check on the converted database")
    T.eq(one(a, "SELECT value FROM bec_store_config WHERE key='pruned_form'"), 3, "form 3")
    T.eq(rows(a), before, "the same rows")
    a.execute("INSERT INTO todos VALUES('r9', 'after', 9)")
    T.eq(sync(b, "a", a, "b"), None, "a sync with a full replica")
    T.eq(rows(b), rows(a), "which reads the same rows")
    T.eq(one(a, "SELECT bec_check()"), "ok", "bec_check after a write")


def test_upgrade_from_older_build():
    """A database made by the build before pruned headers lost their
    signature and before the member rows' cover (stop 24): its pruned rows
    hold header || signature and bec_store_member has no cover columns.
    Opened here, the pruned rows become stubs, the member rows get their
    columns, and membership writes, table writes, sync and bec_check() all
    work."""
    from bectest import connect
    path, full, b, before, raw = pruned_as_older("u", lambda op, nh: op[:nh + 64])
    cols = "pubkey, author, role, rank, added_by, added_in"
    raw.executescript("CREATE TABLE m AS SELECT %s FROM bec_store_member; DROP TABLE bec_store_member;"
                      "CREATE TABLE bec_store_member(pubkey BLOB PRIMARY KEY, author INTEGER NOT NULL,"
                      " role INTEGER NOT NULL, rank INTEGER NOT NULL, added_by BLOB NOT NULL,"
                      " added_in BLOB NOT NULL) WITHOUT ROWID;"
                      "INSERT INTO bec_store_member SELECT %s FROM m; DROP TABLE m;"
                      "DELETE FROM bec_store_config WHERE key='pruned_form';" % (cols, cols))
    raw.commit()
    raw.close()
    a = connect(path)
    T.eq(one(a, "SELECT bec_check()"), "ok", "bec_check on the converted database")
    for h, body in a.execute("SELECT hash, body FROM bec_ops WHERE payload IS NULL").fetchall():
        T.eq(len(body), len(becwire.decode_op(full[h])["header"]), "bec_ops shows the header alone")
        T.check(is_stub(stored(a, h), bytes(body)), "a pruned row is a stub now")
    T.eq(rows(a), before, "the same rows")
    a.execute("SELECT bec_add_member(?, 'member')", (pub(b),))
    a.execute("INSERT INTO todos VALUES('r9', 'after', 9)")
    T.eq(sync(b, "a", a, "b"), None, "a sync with a full replica")
    T.eq(rows(b), rows(a), "which reads the same rows")
    b.execute("INSERT INTO todos VALUES('r10', 'by b', 10)")
    T.eq(sync(b, "a", a, "b"), None, "and back")
    T.eq(rows(a)[-1], ("r9", "after", 9), "the rows after the cut")
    T.eq(len(rows(a)), 7, "and b's")
    for x in (a, b):
        T.eq(one(x, "SELECT bec_check()"), "ok", "bec_check after membership and table writes")


OLD_BUILD = """
import json, sys
sys.path.insert(0, %r)
from bectest import Replicas, one, ship
R = Replicas.__new__(Replicas)
R.dir = %r
a = R.origin("o_a.db")
for i in range(5):
    a.execute("INSERT INTO todos VALUES(?, ?, ?)", ("r%%d" %% i, "t%%d" %% i, i))
one(a, "SELECT bec_checkpoint()")
b = R.joined(a, "o_b.db")
ship(a, b)
assert one(a, "SELECT bec_prune()") == 5
a.execute("INSERT INTO todos VALUES('r5', 'after', 5)")
print(json.dumps([a.execute("SELECT hash, hex(body), valid FROM bec_ops").fetchall(),
                  a.execute("SELECT * FROM todos ORDER BY id").fetchall()]))
"""


# The op table as bec wrote it before the id was stored once (main at
# 7ecece7): the id UNIQUE in the row, kind and author indexes of every op,
# no bec_store_op_id.  OLD_FORM turns a file written by this build into that
# form (no extension loaded), and gives pruned rows below the last the
# non-zero chain digests the older bec kept.
OLD_FORM = """
PRAGMA legacy_alter_table=ON;
BEGIN;
CREATE TABLE bec_store_op_old(
  seq INTEGER PRIMARY KEY, hash BLOB NOT NULL UNIQUE,
  kind INTEGER NOT NULL, author INTEGER NOT NULL, depth INTEGER NOT NULL,
  target INTEGER, role INTEGER, valid INTEGER NOT NULL DEFAULT 1,
  chain INTEGER NOT NULL, preds BLOB NOT NULL, body BLOB NOT NULL);
INSERT INTO bec_store_op_old SELECT seq, hash, kind, author, depth, target, role,
  valid, chain, preds, body FROM bec_store_op ORDER BY seq;
DROP TABLE bec_store_op;
ALTER TABLE bec_store_op_old RENAME TO bec_store_op;
CREATE INDEX bec_store_op_author ON bec_store_op(author);
CREATE INDEX bec_store_op_kind ON bec_store_op(kind);
DROP TABLE bec_store_op_id;
UPDATE bec_store_op SET chain=1000+seq WHERE length(body)<=64
  AND seq<(SELECT max(seq) FROM bec_store_op);
COMMIT;
"""


def test_upgrade_op_table():
    """A database written by the build before the id was stored once (its
    op table has a UNIQUE id column, kind and author indexes of every op),
    pruned, with a write after the cut: made by an older build when
    BEC_OLD_EXT names one (main's build at 7ecece7 was used so when this
    was written), else by this build and turned into the older form
    (OLD_FORM).  Opened here, the table is rebuilt when the connection
    opens (before any call, which may be a read of a table): the same ops
    (ids, bodies, validity), the prefix index and the partial indexes
    instead of the old ones; bec_op, bec_check(), writes and sync work."""
    import os
    import sqlite3
    import subprocess
    from bectest import connect
    old = os.environ.get("BEC_OLD_EXT")
    env = dict(os.environ)
    if old:
        env["BEC_EXT"] = old
        env.pop("LD_PRELOAD", None)             # an older build is not sanitized
    out = subprocess.run(["/usr/bin/python3", "-c",
                          OLD_BUILD % (os.path.dirname(os.path.abspath(__file__)), R.dir)],
                         env=env, capture_output=True, text=True)
    T.eq(out.returncode, 0, "the files were made: %s" % out.stderr[-400:])
    ops, before = json.loads(out.stdout)
    pa, pb = os.path.join(R.dir, "o_a.db"), os.path.join(R.dir, "o_b.db")
    if not old:
        for f in (pa, pb):
            raw = sqlite3.connect(f, isolation_level=None)
            raw.executescript(OLD_FORM)
            raw.close()
    raw = sqlite3.connect(pa)
    T.eq(raw.execute("SELECT count(*) FROM sqlite_schema WHERE name="
                     "'sqlite_autoindex_bec_store_op_1'").fetchone()[0], 1,
         "the older form: the id's UNIQUE index")
    T.check(raw.execute("SELECT count(*) FROM bec_store_op WHERE chain<>0 AND length(body)<=64"
                        " AND seq<(SELECT max(seq) FROM bec_store_op)").fetchone()[0] > 0,
            "the older form: pruned rows keep their chain digests")
    raw.close()
    # Read-only, the older form is not converted and still answers every
    # lookup (its UNIQUE index serves the lookup by id).
    from bectest import load_bec
    ro = load_bec(sqlite3.connect("file:%s?mode=ro" % pa, uri=True, isolation_level=None))
    T.eq([list(r) for r in ro.execute("SELECT hash, hex(body), valid FROM bec_ops")], ops,
         "read-only: the same ops")
    T.eq(one(ro, "SELECT count(*) FROM bec_ops WHERE hash=?", ops[2][0]), 1, "read-only: by id")
    T.eq(one(ro, "SELECT count(*) FROM sqlite_schema WHERE name="
                 "'sqlite_autoindex_bec_store_op_1'"), 1, "read-only: not converted")
    ro.close()
    a = connect(pa)
    # converted when the connection opened: before any bec call
    schema = dict(a.execute("SELECT name, sql FROM sqlite_schema WHERE tbl_name='bec_store_op'"))
    T.check("sqlite_autoindex_bec_store_op_1" not in schema, "the id's UNIQUE index is gone")
    T.eq(one(a, "SELECT count(*) FROM bec_store_op_id"), len(ops), "the prefix of every id")
    T.eq(a.execute("SELECT DISTINCT chain FROM bec_store_op WHERE length(body)<=64").fetchall(),
         [(0,)], "the pruned rows' chain digests dropped (out of the kind and author indexes)")
    T.check("WHERE" in schema.get("bec_store_op_kind", ""), "the kind index is partial")
    T.check("WHERE" in schema.get("bec_store_op_author", ""), "the author index is partial")
    T.eq(one(a, "SELECT bec_check()"), "ok", "bec_check on the converted database")
    T.eq([list(r) for r in a.execute("SELECT hash, hex(body), valid FROM bec_ops")], ops,
         "the same ops: ids, bodies (pruned headers), validity")
    T.eq([list(r) for r in rows(a)], before, "the same rows")
    h = ops[-1][0]
    T.eq(one(a, "SELECT hex(bec_op(?))", h), ops[-1][1], "bec_op by id")
    b = connect(pb)
    a.execute("INSERT INTO todos VALUES('r6', 'converted', 6)")
    T.eq(sync(b, "a", a, "b"), None, "a sync with the full replica (converted too)")
    T.eq(rows(b), rows(a), "which reads the same rows")
    T.eq(len(rows(a)), 7, "the five of the cut, one after it, one after the conversion")
    for x in (a, b):
        T.eq(one(x, "SELECT bec_check()"), "ok", "bec_check after a write and a sync")
    T.eq(one(a, "SELECT bec_prune()"), 0, "pruning again drops no body")
    T.eq(one(a, "SELECT count(*) FROM bec_store_member_op m JOIN bec_store_op o ON o.seq=m.seq"
                " WHERE length(o.body)<=64"), 0, "but the facts of the pruned ops")
    a.close()
    a = connect(pa)
    T.eq(one(a, "SELECT count(*) FROM bec_ops"), len(ops) + 1, "reopened: every op")
    T.eq(one(a, "SELECT bec_check()"), "ok", "bec_check reopened")


def test_member_facts_dropped():
    """Membership's facts of a pruned write (S(y): its author's grants in
    its past) are dropped with its body, and its row's chain digest: its
    validity is final, so the facts are never read, and only the last row's
    digest is.  The state loads without them (reopened), a removal after
    the cut leaves the pruned writes valid, bec_member_rebuild() does not
    write them back, and bec_check() accepts their absence."""
    from bectest import connect
    a = R.origin("f_a.db")
    b = R.member(a, "f_b.db", "member")
    ship(a, b)
    for i in range(3):
        b.execute("INSERT INTO todos VALUES(?, ?, ?)", ("b%d" % i, "by b", i))
    ship(b, a)
    for i in range(3):
        a.execute("INSERT INTO todos VALUES(?, ?, ?)", ("a%d" % i, "by a", i))
    one(a, "SELECT bec_checkpoint()")
    T.eq(one(a, "SELECT bec_prune()"), 6, "six bodies dropped")
    pruned_facts = ("SELECT count(*) FROM bec_store_member_op m JOIN bec_store_op o"
                    " ON o.seq=m.seq WHERE length(o.body)<=64")
    T.eq(one(a, pruned_facts), 0, "no facts of a pruned op")
    # The kind and author indexes hold no pruned op; bec_ops still lists them.
    T.eq(one(a, "SELECT count(*) FROM bec_ops WHERE kind='write'"), 6,
         "bec_ops by kind: the pruned writes too")
    T.eq(one(a, "SELECT count(*) FROM bec_ops WHERE kind='add'"), 1, "and the add")
    T.eq(one(a, "SELECT count(*) FROM bec_ops WHERE author=? AND kind='write'", pub(b)), 3,
         "bec_ops by author: b's pruned writes")
    # Nor a chain digest (only the last row's is read): 0, which bec_check
    # accepts on a pruned row below the last, and no other value.
    T.eq(a.execute("SELECT DISTINCT chain FROM bec_store_op WHERE length(body)<=64").fetchall(),
         [(0,)], "a pruned row's chain digest is 0")
    s6 = one(a, "SELECT min(seq) FROM bec_store_op WHERE length(body)<=64")
    a.execute("UPDATE bec_store_op SET chain=5 WHERE seq=?", (s6,))
    T.check("chain digest is wrong" in one(a, "SELECT bec_check()"), "a damaged one is found")
    a.execute("UPDATE bec_store_op SET chain=0 WHERE seq=?", (s6,))
    T.eq(one(a, "SELECT bec_check()"), "ok", "and 0 is not")
    T.eq(one(a, "SELECT count(*) FROM bec_store_member_op"),
         one(a, "SELECT count(*) FROM bec_store_op") - 6, "the others' facts kept")
    valid = a.execute("SELECT hash, valid FROM bec_ops").fetchall()
    path = one(a, "SELECT file FROM pragma_database_list WHERE name='main'")
    a.close()
    a = connect(path)
    T.eq(one(a, "SELECT bec_check()"), "ok", "bec_check without them")
    a.execute("SELECT bec_remove_member(?)", (pub(b),))
    T.eq(a.execute("SELECT hash, valid FROM bec_ops").fetchall()[:len(valid)], valid,
         "a removal after the cut: the pruned writes stay valid")
    T.eq(len(rows(a)), 6, "and their rows shown")
    a.execute("SELECT bec_member_rebuild()")
    T.eq(one(a, pruned_facts), 0, "a rebuild does not write them back")
    T.eq(a.execute("SELECT hash, valid FROM bec_ops").fetchall()[:len(valid)], valid,
         "the same validity after a rebuild")
    T.eq(one(a, "SELECT bec_check()"), "ok", "bec_check after the rebuild")


def test_hidden_state():
    """State the merge base and a snapshot's S(K) do not keep: an
    incarnation hidden by another of its name (two admins create todos
    concurrently), and an added column hidden by a name (two admins add
    prio concurrently), each with a write.  While the sealed checkpoint's
    ops give such state, bec_prune() and the install of its snapshot are
    refused (a pruned or installed replica would show the hidden rows or
    values empty once a later rename shows them: both happened before);
    after the rename, a later checkpoint prunes and installs, and the
    pruned, the installed and a full replica show the same rows."""
    cases = (
        ("an incarnation of table todos is hidden by another of its name",
         ["CREATE VIRTUAL TABLE todos USING bec(id TEXT PRIMARY KEY, title TEXT)",
          "INSERT INTO todos VALUES('a1', 'from a')"],
         ["CREATE VIRTUAL TABLE todos USING bec(id TEXT PRIMARY KEY, title TEXT)",
          "INSERT INTO todos VALUES('b1', 'from b')"],
         "SELECT bec_alter('todos', 'RENAME TO todos2')",
         ["SELECT * FROM todos ORDER BY 1", "SELECT * FROM todos2 ORDER BY 1"]),
        ("table todos has an added column hidden by a name (prio;",
         ["SELECT bec_alter('todos', 'ADD COLUMN prio INTEGER')",
          "UPDATE todos SET prio=5 WHERE id='r1'"],
         ["SELECT bec_alter('todos', 'ADD COLUMN prio TEXT')",
          "UPDATE todos SET prio='high' WHERE id='r1'"],
         "SELECT bec_alter('todos', 'RENAME COLUMN prio TO prio2')",
         ["SELECT * FROM todos ORDER BY 1"]),
    )
    for n, (refusal, on_a, on_b, rename, reads) in enumerate(cases):
        a = R.origin("hid%d_a.db" % n, decl="id TEXT PRIMARY KEY, title TEXT",
                     table="todos" if n else "base")
        b = R.member(a, "hid%d_b.db" % n, "admin")
        if n:
            a.execute("INSERT INTO todos VALUES('r1', 'one')")
        sync(a, "b", b, "a")
        for sql in on_a:
            a.execute(sql)
        for sql in on_b:
            b.execute(sql)
        sync(a, "b", b, "a")                    # K's cut holds both
        k = one(a, "SELECT bec_checkpoint()")
        for _ in range(3):
            sync(a, "b", b, "a")
        T.eq((sealed(a, k), sealed(b, k)), (1, 1), "case %d: K sealed" % n)
        snap = one(a, "SELECT bec_snapshot()")
        for db, what in ((a, "bec_prune()"), (b, "bec_prune()")):
            try:
                one(db, "SELECT " + what)
                T.check(False, "case %d: pruning refused" % n)
            except Exception as e:
                T.check(refusal in str(e), "case %d: pruning refused: %s" % (n, e))
        T.eq(one(a, "SELECT count(*) FROM bec_ops WHERE payload IS NULL"), 0,
             "case %d: no body dropped" % n)
        j = R.joined(a, "hid%d_j.db" % n)
        try:
            got = one(j, "SELECT bec_snapshot_install(?)", snap)
            T.check(False, "case %d: the install refused: %r" % (n, got))
        except Exception as e:
            T.check(refusal in str(e), "case %d: the install refused: %s" % (n, e))
        T.eq(one(j, "SELECT count(*) FROM bec_store_op"), 0, "case %d: nothing installed" % n)
        # the rename shows the hidden state; a later checkpoint prunes and installs
        a.execute(rename)
        k2 = one(a, "SELECT bec_checkpoint()")
        for _ in range(3):
            sync(a, "b", b, "a")
        T.eq(sealed(a, k2), 1, "case %d: K2 sealed" % n)
        T.check(one(a, "SELECT bec_prune()") > 0, "case %d: pruned below K2" % n)
        j2 = R.joined(a, "hid%d_j2.db" % n)
        T.eq(one(j2, "SELECT bec_snapshot_install(?)", one(a, "SELECT bec_snapshot()")), k2,
             "case %d: K2's snapshot installed" % n)
        for q in reads:
            want = b.execute(q).fetchall()
            T.check(len(want) > 0, "case %d: %s shows rows" % (n, q))
            T.eq(a.execute(q).fetchall(), want, "case %d: pruned a: %s" % (n, q))
            T.eq(j2.execute(q).fetchall(), want, "case %d: installed: %s" % (n, q))
        T.eq(one(a, "SELECT bec_check()"), "ok", "case %d: bec_check on the pruned replica" % n)
        for db in (a, b, j, j2):
            db.close()


test_basics()
test_member_facts_dropped()
test_upgrade_op_table()
test_pruned_header_storage()
test_upgrade_from_older_build()
test_upgrade_pruned_form2()
test_alters_and_the_base()
test_converge()
test_sync_three()
test_later_checkpoint()
test_pruned_list_of_held_ops()
test_hostile_pruned_list()
test_hidden_state()
R.cleanup()
T.done()
