"""test_checkpoint.py - checkpoints, attestations, disputes and sealing
(docs/compaction.md): the digest of a cut is the same on every replica
whatever order the ops arrived in (conflicts, a delete, a removal, a replica
that first received ops after the cut); honest attestations reach k and
seal; a lying attestation (made by hand with becwire) does not count and
shows as a dispute on every replica, verified; a lying dispute shows as
unverified; k is recorded in the group; an admin that holds a removal that
sealing would cut off holds back; two concurrent checkpoints are never both
attested by one replica, and every replica ends with the same view.
"""
import os
import random

from bectest import T, Replicas, connect, one, ship, sync_session as sync, pub
import becwire

R = Replicas("bec-ckpt-")


def bodies(db):
    return [b for (b,) in db.execute("SELECT body FROM bec_ops ORDER BY rowid").fetchall()]


def deliver(src, dst, order="forward", seed=0):
    """Every op of src into dst: in stored order, reversed, or shuffled."""
    bs = bodies(src)
    if order == "reverse":
        bs.reverse()
    elif order == "shuffle":
        random.Random(seed).shuffle(bs)
    for b in bs:
        dst.execute("SELECT bec_ingest(?)", (b,))


def ckpt_row(db, k):
    return db.execute("SELECT digest, attestations, sealed, k FROM bec_checkpoints"
                      " WHERE checkpoint=?", (k,)).fetchone()


def claim_of(db, k):
    """The digest the checkpoint op k carries (its author's claim)."""
    body = one(db, "SELECT body FROM bec_ops WHERE hash=?", k)
    m = becwire.decode_op(body)
    return m["body"][1:33].hex()


def heads(db):
    return [bytes.fromhex(h) for (h,) in db.execute("SELECT hash FROM bec_heads")]


def attesters(db, k):
    """Public keys that signed an attest of checkpoint k."""
    out = set()
    for (b,) in db.execute("SELECT body FROM bec_ops WHERE kind='attest'"):
        m = becwire.decode_op(b)
        if m["body"][1:33].hex() == k:
            out.add(m["author"].hex())
    return out


def test_same_digest_everywhere():
    a = R.origin("d_a.db")
    for i in range(6):
        a.execute("INSERT INTO todos VALUES(?, ?, ?)", ("r%d" % i, "t%d" % i, i))
    b = R.member(a, "d_b.db", "admin")
    m = R.member(a, "d_m.db", "member")
    ship(a, b)
    ship(a, m)
    # Concurrent: a conflict on r0, a delete, a write by m that a's removal
    # of m (not knowing it) turns off.
    a.execute("UPDATE todos SET title='from a' WHERE id='r0'")
    b.execute("UPDATE todos SET title='from b', done=7 WHERE id='r0'")
    b.execute("DELETE FROM todos WHERE id='r1'")
    m.execute("INSERT INTO todos VALUES('m1', 'by m', 1)")
    a.execute("SELECT bec_remove_member(?)", (pub(m),))
    ship(b, a)
    ship(m, a)
    T.check(one(a, "SELECT count(*) FROM bec_conflicts") > 0, "a conflict in the cut")
    T.eq(one(a, "SELECT count(*) FROM todos WHERE id='m1'"), 0, "m's write is off")
    k = one(a, "SELECT bec_checkpoint()")
    want = claim_of(a, k)
    T.eq(ckpt_row(a, k)[0], want, "the author's replay digests what it signed")
    # b writes after the checkpoint: outside the cut.
    ship(a, b)
    b.execute("UPDATE todos SET done=99 WHERE id='r2'")
    # m, removed, writes on: an op concurrent with the checkpoint.
    m.execute("INSERT INTO todos VALUES('m2', 'late', 2)")
    seen = {}
    for i, (order, seed) in enumerate([("forward", 0), ("reverse", 0),
                                       ("shuffle", 1), ("shuffle", 2),
                                       ("shuffle", 3), ("forward", 5)]):
        d = R.joined(a, "d_x%d.db" % i)
        if i == 4:
            deliver(b, d, "reverse")      # ops after the cut arrive first
        if i == 5:
            deliver(m, d)                 # an op concurrent with the cut is
                                          # held: the cut is replayed alone
        deliver(a, d, order, seed)
        row = ckpt_row(d, k)
        T.check(row is not None, "%s/%d: the checkpoint is listed" % (order, seed))
        if row:
            seen[(order, seed)] = row[0]
    T.check(len(seen) == 6 and set(seen.values()) == {want},
            "same digest in every order: %r vs %s" % (seen, want))
    T.eq(ckpt_row(b, k)[0], want, "b's digest")
    # A different cut has a different digest.
    T.eq(one(b, "SELECT count(*) FROM bec_disputes"), 0, "no dispute")
    T.eq(one(a, "SELECT bec_check()"), "ok", "bec_check on a")



def test_sync_attests():
    """Sync signs the attestations by itself: b attests as it applies a's
    message, and the next session carries the attestation back."""
    a = R.origin("y_a.db")
    b = R.member(a, "y_b.db", "admin")
    sync(a, b)
    k = one(a, "SELECT bec_checkpoint()")
    sync(a, b)
    T.eq(attesters(b, k), {pub(b)}, "b attested during sync")
    sync(a, b)
    T.eq(ckpt_row(a, k)[1:3], (2, 1), "a has it after the next session: sealed")
    T.eq(one(b, "SELECT bec_attest()"), 0, "nothing more is owed")


def liar_group(prefix):
    """a (origin, one row), b and a hand-made key `liar` as admins, b
    holding a's ops: (a, b, liar, group id)."""
    a = R.origin(prefix + "_a.db")
    a.execute("INSERT INTO todos VALUES('x', 'hello', 0)")
    b = R.member(a, prefix + "_b.db", "admin")
    liar = becwire.Key(os.urandom(32))
    a.execute("SELECT bec_add_member(?, 'admin')", (liar.hex,))
    group = bytes.fromhex(one(a, "SELECT bec_group_id()"))
    ship(a, b)
    return a, b, liar, group


def test_seal_and_lie():
    a, b, liar, group = liar_group("s")
    T.eq(one(a, "SELECT bec_config('checkpoint_k')"), 2, "default k: a majority of 3 admins")
    T.raises(lambda: a.execute("SELECT bec_config('checkpoint_k', 4)"),
             "at most the number of admins", "k above the admins")
    k = one(a, "SELECT bec_checkpoint()")
    T.eq(ckpt_row(a, k)[1:], (1, 0, 2), "the author's own claim: 1 of 2")
    T.raises(lambda: a.execute("SELECT bec_checkpoint()"), "is not sealed yet",
             "no second checkpoint while the first is unsealed")
    real = ckpt_row(a, k)[0]
    # The liar attests a digest that is not the cut's.
    lie = os.urandom(32)
    op = becwire.make_op(liar, "attest", heads(a), bytes([1]) + bytes.fromhex(k) + lie, group)
    lie_id = becwire.blake(becwire.decode_op(op)["header"]).hex()
    a.execute("SELECT bec_ingest(?)", (op,))
    T.eq(ckpt_row(a, k)[1:3], (1, 0), "a lie does not count toward k")
    rows = a.execute("SELECT checkpoint, attestation, attester, claimed, computed,"
                     " disputer, verified FROM bec_disputes").fetchall()
    T.eq(rows, [(k, lie_id, liar.hex, lie.hex(), real, pub(a), 1)],
         "a disputes the lie and shows it verified")
    # b receives it all, attests honestly (k reached), and disputes too.
    ship(a, b)
    T.eq(ckpt_row(b, k)[1:3], (2, 1), "b's attestation seals")
    T.eq(attesters(b, k), {pub(b), liar.hex}, "b attested (and the liar)")
    vb = b.execute("SELECT disputer, verified FROM bec_disputes WHERE attestation=?",
                   (lie_id,)).fetchall()
    T.eq(sorted(vb), sorted([(pub(a), 1), (pub(b), 1)]), "b shows both disputes, verified")
    ship(b, a)
    T.eq(ckpt_row(a, k)[1:3], (2, 1), "sealed on a too")
    # A replica that is no member verifies the same.
    d = R.joined(a, "s_d.db")
    deliver(a, d, "reverse")
    T.eq(ckpt_row(d, k), (real, 2, 1, 2), "d: same digest, count and seal")
    T.eq(sorted(v for (v,) in d.execute("SELECT verified FROM bec_disputes")), [1, 1],
         "d verifies both disputes")
    T.eq(one(d, "SELECT count(*) FROM bec_ops WHERE kind IN ('attest','dispute')"
             " AND author=?", pub(d)), 0, "a non-member signs nothing")
    # A lying dispute of b's honest attestation: shown, not verified.
    b_att = one(a, "SELECT hash FROM bec_ops WHERE kind='attest' AND author=?", pub(b))
    op = becwire.make_op(liar, "dispute", heads(a),
                         bytes([1]) + bytes.fromhex(b_att) + lie, group)
    a.execute("SELECT bec_ingest(?)", (op,))
    T.eq(a.execute("SELECT attester, disputer, verified FROM bec_disputes"
                   " WHERE attestation=?", (b_att,)).fetchall(),
         [(pub(b), liar.hex, 0)], "a false dispute is not verified")
    T.eq(ckpt_row(a, k)[1:3], (2, 1), "a dispute changes no seal")
    # k recorded in the group: 3 from now on.
    T.eq(one(a, "SELECT bec_config('checkpoint_k', 3)"), 3, "k set to 3")
    ship(a, b)
    T.eq(one(b, "SELECT bec_config('checkpoint_k')"), 3, "b reads k from the group")
    k2 = one(a, "SELECT bec_checkpoint()")
    T.eq(ckpt_row(a, k2)[1:], (1, 0, 3), "k of the second cut is 3")
    ship(a, b)
    ship(b, a)
    T.eq(ckpt_row(a, k2)[1:3], (2, 0), "two of three: not sealed")
    # A checkpoint on top of an unsealed one is refused at acceptance.
    op = becwire.make_op(liar, "checkpoint", heads(a), bytes([1]) + os.urandom(32), group)
    T.raises(lambda: a.execute("SELECT bec_ingest(?)", (op,)), "is not sealed within its cut",
             "nested checkpoint over an unsealed one")
    # The liar, honest this time, is the third.
    digest2 = ckpt_row(a, k2)[0]
    op = becwire.make_op(liar, "attest", heads(a),
                         bytes([1]) + bytes.fromhex(k2) + bytes.fromhex(digest2), group)
    a.execute("SELECT bec_ingest(?)", (op,))
    T.eq(ckpt_row(a, k2)[1:3], (3, 1), "three of three: sealed")
    # Malformed payloads are refused.
    for kind, payload, why in [("attest", b"\x01" + bytes(31), "malformed"),
                               ("attest", bytes([1]) + os.urandom(64), "not in its causal past"),
                               ("config", bytes([1, 3]) + b"foo" + bytes([2]), "unknown config"),
                               ("config", bytes([1, 12]) + b"checkpoint_k" + bytes([0]), "at least 1"),
                               ("checkpoint", bytes([2]) + bytes(32), "version")]:
        op = becwire.make_op(liar, kind, heads(a), payload, group)
        T.raises(lambda: a.execute("SELECT bec_ingest(?)", (op,)), why, "%s %r" % (kind, why))


def test_hold_back():
    a = R.origin("h_a.db")
    b = R.member(a, "h_b.db", "admin")
    c = R.member(a, "h_c.db", "admin")
    m = R.member(a, "h_m.db", "member")
    for x in (b, c, m):
        ship(a, x)
    m.execute("INSERT INTO todos VALUES('w', 'by m', 0)")
    ship(m, a)
    ship(m, c)
    b.execute("SELECT bec_remove_member(?)", (pub(m),))   # b has not seen w
    k = one(a, "SELECT bec_checkpoint()")
    ship(a, c)
    T.eq(attesters(c, k), {pub(c)}, "c (no removal held) attests")
    ship(a, b)
    T.eq(attesters(b, k), set(), "b holds the removal: it holds back")
    T.eq(one(b, "SELECT bec_attest()"), 0, "and still does when asked")
    T.eq(one(b, "SELECT count(*) FROM todos WHERE id='w'"), 0, "b shows w off")
    ship(c, b)
    row = ckpt_row(b, k)
    T.eq(row[2], 1, "a and c seal it")
    # The price of sealing: b's removal no longer reaches back into the
    # cut, so w is on again on b, and b, agreeing now, attests too.
    T.eq(one(b, "SELECT count(*) FROM todos WHERE id='w'"), 1, "w is on on b")
    T.eq(row[1], 3, "b attests once its view agrees")
    T.eq(one(b, "SELECT valid FROM bec_ops WHERE kind='remove'"), 1,
         "the removal itself stands")
    # b's next checkpoint includes the removal; a, once it holds it, attests.
    k2 = one(b, "SELECT bec_checkpoint()")
    ship(b, a)
    T.eq(attesters(a, k2), {pub(a)}, "a attests the cut with the removal")
    T.eq(ckpt_row(a, k2)[1:3], (2, 1), "the later checkpoint seals")
    T.eq(one(a, "SELECT count(*) FROM todos WHERE id='w'"), 1, "w stays on on a")
    T.eq(one(a, "SELECT bec_check()"), "ok", "bec_check on a")
    T.eq(one(b, "SELECT bec_check()"), "ok", "bec_check on b")


def test_backdated_removal():
    """A removal signed after sealing, backdated below the checkpoint,
    changes no row behind it on any replica, in any order, and still turns
    off what the removed member did after it."""
    a = R.origin("r_a.db")
    b = R.member(a, "r_b.db", "admin")
    m = R.member(a, "r_m.db", "member")
    evil = becwire.Key(os.urandom(32))
    a.execute("SELECT bec_add_member(?, 'admin')", (evil.hex,))
    group = bytes.fromhex(one(a, "SELECT bec_group_id()"))
    ship(a, m)
    old_heads = heads(a)                     # before m's write
    m.execute("INSERT INTO todos VALUES('w1', 'before', 1)")
    ship(m, a)
    ship(a, b)
    T.eq(one(a, "SELECT bec_config('checkpoint_k')"), 2, "k: 2 of 3 admins")
    k = one(a, "SELECT bec_checkpoint()")
    ship(a, b)
    ship(b, a)
    T.eq(ckpt_row(a, k)[2], 1, "sealed by a and b")
    # m writes after the checkpoint, then evil signs a removal of m that
    # claims to be older than both of m's writes.
    ship(a, m)
    m.execute("INSERT INTO todos VALUES('w2', 'after', 2)")
    rm = becwire.make_op(evil, "remove", old_heads, bytes.fromhex(pub(m)), group)
    views = []
    for i, first in enumerate(["rm", "ops"]):
        d = R.joined(a, "r_d%d.db" % i)
        if first == "rm":
            deliver(a, d, "forward")
            d.execute("SELECT bec_ingest(?)", (rm,))
            deliver(m, d, "reverse")
        else:
            deliver(m, d, "reverse")
            deliver(a, d, "shuffle", 7)
            d.execute("SELECT bec_ingest(?)", (rm,))
        views.append(sorted(d.execute("SELECT id FROM todos").fetchall()))
        T.eq(one(d, "SELECT bec_check()"), "ok", "bec_check (%s first)" % first)
    for x in (a, b):
        x.execute("SELECT bec_ingest(?)", (rm,))
        ship(m, x)
        views.append(sorted(x.execute("SELECT id FROM todos").fetchall()))
    T.eq(views, [[("w1",)]] * 4, "w1 (in the sealed cut) stays, w2 (after) is off")
    T.eq(one(a, "SELECT valid FROM bec_ops WHERE hash=?",
             becwire.blake(becwire.decode_op(rm)["header"]).hex()), 1, "the removal is valid")


def test_seal_survives_reload():
    """h5 removes h2; a checkpoint over it seals; then evil signs a removal
    of h5 backdated below it (concurrent with h5's removal of h2).  The seal
    keeps h5's removal valid, also once h2 loads its membership state again
    from what it stored (bec_check() does): h2 stays removed and cannot
    sign as an admin.  (bytesim --checkpoints found this: the reload judged
    the add and remove ops without the seals' final validity.)"""
    a = R.origin("s_a.db")
    h2 = R.member(a, "s_h2.db", "admin")
    h5 = R.member(a, "s_h5.db", "admin")
    evil = becwire.Key(os.urandom(32))
    a.execute("SELECT bec_add_member(?, 'admin')", (evil.hex,))
    group = bytes.fromhex(one(a, "SELECT bec_group_id()"))
    ship(a, h5)
    old_heads = heads(a)                     # before h5's removal of h2
    h5.execute("SELECT bec_remove_member(?)", (pub(h2),))
    ship(h5, a)
    k = one(a, "SELECT bec_checkpoint()")
    ship(a, h5)
    ship(h5, a)
    T.eq(ckpt_row(a, k)[2], 1, "sealed by a and h5 (k 2 of a, h5, evil)")
    ship(a, h2)
    T.eq(ckpt_row(h2, k)[2], 1, "sealed on h2")
    T.raises(lambda: h2.execute("SELECT bec_remove_member(?)", (pub(a),)),
             "not an admin", "h2, removed, cannot remove a")
    rm = becwire.make_op(evil, "remove", old_heads, bytes.fromhex(pub(h5)), group)
    h2.execute("SELECT bec_ingest(?)", (rm,))
    T.eq(one(h2, "SELECT bec_check()"), "ok", "bec_check on h2 (it loads the state again)")
    T.eq(one(h2, "SELECT valid FROM bec_ops WHERE hash=?",
             becwire.blake(becwire.decode_op(rm)["header"]).hex()), 1, "evil's removal of h5 is valid")
    T.eq(one(h2, "SELECT count(*) FROM bec_members WHERE pubkey=?", pub(h2)), 0, "h2 is not a member")
    T.raises(lambda: h2.execute("SELECT bec_remove_member(?)", (pub(a),)),
             "not an admin", "h2 still cannot remove a after the backdated removal and a reload")
    T.eq(one(h2, "SELECT bec_check()"), "ok", "bec_check on h2 after")


def test_concurrent():
    outcomes = []
    for run, order in enumerate(["ab", "ba"]):
        a = R.origin("c%d_a.db" % run)
        b = R.member(a, "c%d_b.db" % run, "admin")
        c = R.member(a, "c%d_c.db" % run, "admin")
        ship(a, b)
        ship(a, c)
        ka = one(a, "SELECT bec_checkpoint()")
        kb = one(b, "SELECT bec_checkpoint()")
        first, second = (a, b) if order == "ab" else (b, a)
        ship(first, c)
        ship(second, c)
        ship(a, b)
        ship(b, a)
        for x in (a, b, c):
            for y in (a, b, c):
                if x is not y:
                    ship(x, y)
        both = [attesters(c, ka), attesters(c, kb)]
        T.check(not (both[0] & both[1]), "%s: nobody attests both: %r" % (order, both))
        T.eq(attesters(c, ka if order == "ab" else kb), {pub(c)},
             "%s: c attests the one it saw first" % order)
        T.check(pub(a) not in attesters(c, kb) and pub(b) not in attesters(c, ka),
                "%s: each author holds back on the other's" % order)
        views = [sorted(x.execute("SELECT checkpoint, digest, attestations, sealed"
                                  " FROM bec_checkpoints").fetchall()) for x in (a, b, c)]
        T.check(views[0] == views[1] == views[2], "%s: one view everywhere" % order)
        sealed = dict((r[0], r[3]) for r in views[0])
        outcomes.append(sorted(sealed.values()))
        # Every admin but one claimed the sealed one: the other can no
        # longer reach k = 2, so it is retired and blocks nothing.
        k3 = one(a, "SELECT bec_checkpoint()")
        ship(a, b)
        ship(a, c)
        T.check(all(ckpt_row(y, k3) is not None for y in (b, c)),
                "%s: the retired one does not block the next checkpoint" % order)
        for i, how in enumerate(["reverse", "shuffle"]):
            d = R.joined(a, "c%d_d%d.db" % (run, i))
            deliver(a, d, how, run * 10 + i)
            T.eq(sorted(d.execute("SELECT checkpoint, digest, attestations, sealed"
                                  " FROM bec_checkpoints").fetchall()),
                 sorted(a.execute("SELECT checkpoint, digest, attestations, sealed"
                                  " FROM bec_checkpoints").fetchall()),
                 "%s %s: the next checkpoint is accepted in any order" % (order, how))
    T.eq(outcomes, [[0, 1], [0, 1]], "in both orders one of the two seals")


def test_counter_members():
    """A COUNTER's digest covers its members (the winning assignment's base
    and each uncovered step), not only the sum it shows: they are what a
    later assignment or delete merges with.  Same digest in every order; a
    replica whose stored steps were altered to the same sum disagrees."""
    a = R.origin("c_a.db", decl="id TEXT PRIMARY KEY, n INTEGER COUNTER", table="likes")
    a.execute("INSERT INTO likes VALUES('p', 0)")
    b = R.member(a, "c_b.db", "admin")
    ship(a, b)
    a.execute("UPDATE likes SET n = n + 3")
    b.execute("UPDATE likes SET n = n + 2")
    ship(b, a)
    T.eq(one(a, "SELECT n FROM likes"), 5, "concurrent steps add")
    x = R.clone(a, "c_x.db")
    # The same sum from other steps: 3 + 2 becomes 4 + 1.
    x.execute("UPDATE bec_store_conflict SET value = value + 1 WHERE col < -1 AND value = 3")
    x.execute("UPDATE bec_store_conflict SET value = value - 1 WHERE col < -1 AND value = 2")
    T.eq(one(x, "SELECT n FROM likes"), 5, "the altered replica shows the same sum")
    k = one(a, "SELECT bec_checkpoint()")
    want = claim_of(a, k)
    for i, order in enumerate(["forward", "reverse", "shuffle"]):
        d = R.joined(a, "c_d%d.db" % i)
        deliver(a, d, order, i)
        T.eq(ckpt_row(d, k)[0], want, "%s: the same digest with counter steps" % order)
        T.eq(one(d, "SELECT n FROM likes"), 5, "%s: the sum" % order)
    deliver(a, x)
    T.check(ckpt_row(x, k)[0] != want, "altered steps with an unchanged sum change the digest")


def test_dispute_on_installed():
    """A dispute naming an attest of an installed snapshot's cut: the
    installed replica holds that attest without its header (a stand-in,
    its kind unknown), so it cannot judge the dispute; it used to refuse it
    ('the attestation is not in its causal past') where every full replica
    stores it, and then every op after it (found by the Byzantine
    simulation's snapshot joiners).  Now the dispute waits and the replica
    falls back to a full join, which stores it as a full replica does; an
    attest naming an op the replica does not hold waits the same way."""
    a, b, liar, group = liar_group("di")
    k1 = one(a, "SELECT bec_checkpoint()")
    ship(a, b)
    ship(b, a)
    T.eq(ckpt_row(a, k1)[1:3], (2, 1), "K1 sealed")
    b_att = one(a, "SELECT hash FROM bec_ops WHERE kind='attest' AND author=?", pub(b))
    a.execute("INSERT INTO todos VALUES('y', 'more', 1)")
    k2 = one(a, "SELECT bec_checkpoint()")
    ship(a, b)
    ship(b, a)
    T.eq(ckpt_row(a, k2)[1:3], (2, 1), "K2 sealed (b's attest of K1 in its cut)")
    snap = one(a, "SELECT bec_snapshot()")
    # after K2: the liar disputes b's honest attest of K1 (in the cut)
    dispute = becwire.make_op(liar, "dispute", heads(a),
                              bytes([1]) + bytes.fromhex(b_att) + os.urandom(32), group)
    a.execute("SELECT bec_ingest(?)", (dispute,))
    d_id = becwire.blake(becwire.decode_op(dispute)["header"]).hex()
    T.eq(one(a, "SELECT count(*) FROM bec_ops WHERE hash=?", d_id), 1, "a full replica stores it")
    j = R.joined(a, "di_j.db")
    T.eq(one(j, "SELECT bec_snapshot_install(?)", snap), k2, "j installed K2")
    j.execute("SELECT bec_ingest(?)", (dispute,))
    T.eq(one(j, "SELECT count(*) FROM bec_store_rejected"), 0, "j refuses nothing")
    T.eq(one(j, "SELECT count(*) FROM sqlite_master WHERE name='bec_store_cut'"), 0,
         "j fell back to a full join")
    deliver(a, j)
    T.eq(j.execute("SELECT hash, valid FROM bec_ops ORDER BY 1").fetchall(),
         a.execute("SELECT hash, valid FROM bec_ops ORDER BY 1").fetchall(),
         "j holds every op of a, with a's validity")
    T.eq(j.execute("SELECT attestation, disputer, verified FROM bec_disputes ORDER BY 1, 2").fetchall(),
         a.execute("SELECT attestation, disputer, verified FROM bec_disputes ORDER BY 1, 2").fetchall(),
         "and a's disputes")
    # an attest of a checkpoint the installed replica does not hold at all
    j2 = R.joined(a, "di_j2.db")
    one(j2, "SELECT bec_snapshot_install(?)", snap)
    att = becwire.make_op(liar, "attest", heads(a), bytes([1]) + os.urandom(64), group)
    j2.execute("SELECT bec_ingest(?)", (att,))
    T.eq(one(j2, "SELECT count(*) FROM bec_store_rejected"), 0,
         "an attest of an unknown checkpoint waits on an installed replica")
    T.raises(lambda: a.execute("SELECT bec_ingest(?)", (att,)), "not in its causal past",
             "where a full replica refuses it")


def test_hidden_table():
    """A group's table hidden on one replica: a local table there holds its
    name, so bec keeps no rows of it there and that replica cannot read the
    digest from its state: it replays the cut (ck_compute_raw's one
    fall-back, rows_hidden) and gets the author's digest, as every other
    replica in every order does (two concurrent creates of one name in the
    cut too).  Any other failure of reading the state fails the checkpoint
    with its reason instead of hiding behind a replay."""
    a = R.origin("h_a.db", decl=None)
    b = R.member(a, "h_b.db", "admin")
    ship(a, b)
    a.execute("CREATE VIRTUAL TABLE notes USING bec(id TEXT PRIMARY KEY, body TEXT)")
    b.execute("CREATE VIRTUAL TABLE notes USING bec(id TEXT PRIMARY KEY, words TEXT, n INTEGER)")
    a.execute("INSERT INTO notes VALUES('a1', 'from a')")
    b.execute("INSERT INTO notes VALUES('b1', 'from b', 2)")
    ship(a, b)
    ship(b, a)
    cols_a = [r[1] for r in a.execute("PRAGMA table_info(notes)")]
    cols_b = [r[1] for r in b.execute("PRAGMA table_info(notes)")]
    T.eq(cols_a, cols_b, "one incarnation shown on both: %r" % (cols_a,))
    k = one(a, "SELECT bec_checkpoint()")
    want = claim_of(a, k)
    T.eq(ckpt_row(a, k)[0], want, "the author's digest, with a hidden table")
    ship(a, b)
    T.eq(ckpt_row(b, k)[0], want, "b's digest")
    for i, order in enumerate(["forward", "reverse", "shuffle"]):
        d = R.joined(a, "h_d%d.db" % i)
        if i == 2:
            # a local table holds the name: the group's table is hidden here
            d.execute("CREATE TABLE notes(x)")
        deliver(a, d, order, i)
        T.eq(ckpt_row(d, k)[0], want, "%s: the same digest" % order)
    T.eq(one(a, "SELECT bec_check()"), "ok", "bec_check on a")


test_same_digest_everywhere()
test_sync_attests()
test_seal_and_lie()
test_hold_back()
test_backdated_removal()
test_seal_survives_reload()
test_concurrent()
test_counter_members()
test_hidden_table()
test_dispute_on_installed()
R.cleanup()
T.done()
