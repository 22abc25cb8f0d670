"""test_checkpoint_root.py - a root signature seals a checkpoint
(docs/compaction.md "Sealing by the root"; COMPACTION.md sections 4-5: "or
one attestation of K by the group's root key active in cut(K)").

  seal      a checkpoint that k admins did not attest (k unmet) is sealed
            once k holders of the threshold root sign one root attestation
            of it (bec_root_propose('attest', K, digest)): sealed and root
            are 1 on every replica, in every delivery order, with the same
            derived state; its attestations count stays below k.
  wrong     a root attestation whose digest is not the one computed here
            seals (as k admins' claims of one digest do: sealing never asks
            the digest computed here, which a replica without an epoch's
            key cannot know) and is a dispute like any other (bec_disputes,
            verified; a member's replica signs the dispute op); a second
            root attestation with the right digest is valid too.
  not-cut   a root attestation by a root that was not active in cut(K)
            (the key generation completed after K) seals nothing, in any
            order.
  backdate  a removal signed after the root seal and backdated below the
            checkpoint changes no row behind it on any replica (whichever
            arrives first), and still turns off what the removed member
            wrote after it.
  snapshot  bec_snapshot() gives the latest checkpoint that k admins'
            attestations seal, passing over one sealed by the root alone
            (a joiner cannot tell which root key was active in a cut it
            has not replayed); none at all is a clear refusal.
  refused   a root-request to attest an op that is no checkpoint in its
            past is refused; 'attest' without a digest is misuse.
"""
import json
import os
import random

from bectest import T, Replicas, ingest_all, one, ops_of, sync_all, pub, root_steps
import becwire

R = Replicas("bec-ckroot-")
rng = random.Random(int(os.environ.get("BEC_CKROOT_SEED", "1717")))
ORDERS = int(os.environ.get("BEC_CKROOT_ORDERS", "5"))


def steps(dbs):
    root_steps(dbs, rng)


def open_root(dbs):
    """A 2-of-3 root held by the three replicas' keys (the first is the
    creator); returns its group key (hex)."""
    one(dbs[0], "SELECT bec_root_open(2, ?)", json.dumps([pub(d) for d in dbs]))
    steps(dbs)
    T.eq([one(d, "SELECT state FROM bec_root") for d in dbs], ["active"] * 3,
         "the root is active")
    return one(dbs[0], "SELECT group_key FROM bec_root")


def group(tag):
    """a (creator, admin), b (admin) and c (member); a 2-of-3 root of the
    three.  k is 2 (a majority of the two admins)."""
    a = R.origin(tag + "a.db")
    b = R.joined(a, tag + "b.db")
    c = R.joined(a, tag + "c.db")
    one(a, "SELECT bec_add_member(?, 'admin')", pub(b))
    one(a, "SELECT bec_add_member(?, 'member')", pub(c))
    sync_all([a, b, c], rng)
    return a, b, c


def root_attest(proposer, approver, k, digest):
    """The proposer asks the root to attest checkpoint k with digest; the
    approver approves; both step until the root op exists."""
    req = one(proposer, "SELECT bec_root_propose('attest', ?, ?)", k, digest)
    sync_all([proposer, approver], rng)
    one(approver, "SELECT bec_root_approve(?)", req)
    steps([proposer, approver])
    T.eq(one(proposer, "SELECT state FROM bec_root_requests WHERE id=?", req), "done",
         "the attest request is done")
    return req


def row(db, k):
    return db.execute("SELECT digest, attestations, sealed, k, root FROM bec_checkpoints"
                      " WHERE checkpoint=?", (k,)).fetchone()


def state(db):
    """What every replica must derive alike."""
    q = lambda sql: db.execute(sql).fetchall()  # noqa: E731
    return (q("SELECT checkpoint, digest, attestations, sealed, k, root FROM bec_checkpoints"
              " ORDER BY checkpoint"),
            q("SELECT hash, valid FROM bec_ops ORDER BY hash"),
            q("SELECT pubkey, role FROM bec_members ORDER BY pubkey"),
            q("SELECT * FROM todos ORDER BY id"))


def observers(src_ops, tag, a, n):
    """n fresh replicas (no members: they sign nothing) that ingest src_ops
    forward, reversed and shuffled."""
    out = []
    for i in range(n):
        d = R.joined(a, "%s_o%d.db" % (tag, i))
        ops = list(src_ops)
        if i == 1:
            ops.reverse()
        elif i > 1:
            rng.shuffle(ops)
        ingest_all(d, ops)
        out.append(d)
    return out


def test_seal():
    a, b, c = group("s")
    open_root([a, b, c])
    a.execute("INSERT INTO todos VALUES('w1', 'in the cut', 1)")
    sync_all([a, c], rng)
    k = one(a, "SELECT bec_checkpoint()")
    digest = row(a, k)[0]
    sync_all([a, c], rng)          # c (a member) attests: it does not count
    T.eq(row(a, k)[1:3], (1, 0), "one admin's claim of k=2: not sealed")
    T.raises(lambda: one(a, "SELECT bec_checkpoint()"), "is not sealed yet",
             "the unsealed checkpoint blocks the next")
    root_attest(a, c, k, digest)
    T.eq(row(a, k)[1:], (1, 1, 2, 1), "a: sealed by the root, one attestation of k=2")
    T.eq(row(c, k)[1:], (1, 1, 2, 1), "c: sealed by the root")
    T.eq(one(a, "SELECT count(*) FROM bec_disputes"), 0, "no dispute")
    # A root attestation is no hand-over: the root stays active and acts.
    T.eq(one(a, "SELECT state FROM bec_root"), "active", "the root is still active")
    T.eq(one(a, "SELECT valid FROM bec_ops WHERE kind='root'"), 1, "the root op is valid")
    allops = ops_of(a)
    allops.update(ops_of(c))
    views = [state(d) for d in observers(allops.values(), "s", a, ORDERS)]
    for i, v in enumerate(views[1:], 1):
        T.eq(v, views[0], "order %d derives what order 0 does" % i)
    T.eq(views[0][0][0][3:], (1, 2, 1), "sealed by the root in every order")
    # b, an admin that never saw the checkpoint, gets everything: still
    # sealed, and its own attestation now meets k too.
    sync_all([a, b, c], rng)
    T.eq(row(b, k)[2:], (1, 2, 1), "b: sealed")
    for d in (a, b, c):
        T.eq(one(d, "SELECT bec_check()"), "ok", "bec_check")
    # The next checkpoint is accepted: the first is sealed within its cut.
    k2 = one(a, "SELECT bec_checkpoint()")
    T.check(row(a, k2) is not None, "a second checkpoint on top of the root-sealed one")


def test_wrong_then_right():
    a, b, c = group("w")
    y = open_root([a, b, c])
    k = one(a, "SELECT bec_checkpoint()")
    digest = row(a, k)[0]
    sync_all([a, c], rng)
    wrong = "ab" * 32
    root_attest(a, c, k, wrong)
    T.eq(row(a, k)[2:], (1, 2, 1), "a wrong digest seals too (the root's word)")
    got = a.execute("SELECT attester, claimed, computed, verified FROM bec_disputes"
                    " WHERE checkpoint=?", (k,)).fetchall()
    T.check((y, wrong, digest, 1) in got, "the root's wrong claim is a dispute: %r" % got)
    T.check(one(a, "SELECT count(*) FROM bec_ops WHERE kind='dispute'") >= 1,
            "a member's replica signed a dispute of the root's claim")
    root_attest(c, a, k, digest)
    T.eq(row(a, k)[2:], (1, 2, 1), "the right digest: still sealed")
    # Two root attestations of two requests are no fork of the root (they
    # are no hand-overs): both act, and the root can still remove.
    T.eq(one(a, "SELECT count(*) FROM bec_ops WHERE kind='root' AND valid"), 2,
         "both root attestations are valid")
    allops = ops_of(a)
    allops.update(ops_of(c))
    views = [state(d) for d in observers(allops.values(), "w", a, 3)]
    T.eq(views[1:], views[:1] * 2, "the same in every order")
    T.eq(views[0][0][0][3:], (1, 2, 1), "sealed on the observers")


def test_root_not_in_cut():
    a, b, c = group("n")
    k = one(a, "SELECT bec_checkpoint()")
    digest = row(a, k)[0]
    sync_all([a, c], rng)
    # The root comes after K, held by a, c and a new member d; b (the other
    # admin) stays offline, so k is never met.
    d = R.joined(a, "n_d.db")
    one(a, "SELECT bec_add_member(?, 'member')", pub(d))
    sync_all([a, c, d], rng)
    open_root([a, c, d])
    root_attest(a, c, k, digest)
    T.eq(row(a, k)[2:], (0, 2, 0), "a root that was not active in the cut seals nothing")
    T.eq(one(a, "SELECT count(*) FROM bec_disputes"), 0, "its digest is right: no dispute")
    allops = ops_of(a)
    allops.update(ops_of(c))
    views = [state(x) for x in observers(allops.values(), "n", a, 3)]
    T.eq(views[1:], views[:1] * 2, "the same in every order")
    T.eq(views[0][0][0][3:], (0, 2, 0), "not sealed on the observers")


def test_backdated_removal():
    a, b, c = group("r")
    evil = becwire.Key(os.urandom(32))
    one(a, "SELECT bec_add_member(?, 'admin')", evil.hex)     # k: 2 of 3
    gid = bytes.fromhex(one(a, "SELECT bec_group_id()"))
    open_root([a, b, c])
    old_heads = [bytes.fromhex(h) for (h,) in a.execute("SELECT hash FROM bec_heads")]
    sync_all([a, c], rng)
    c.execute("INSERT INTO todos VALUES('w1', 'before', 1)")
    sync_all([a, c], rng)
    k = one(a, "SELECT bec_checkpoint()")
    sync_all([a, c], rng)
    root_attest(a, c, k, row(a, k)[0])
    T.eq(row(a, k)[1:3], (1, 1), "sealed by the root alone")
    c.execute("INSERT INTO todos VALUES('w2', 'after', 2)")
    sync_all([a, c], rng)
    rm = becwire.make_op(evil, "remove", old_heads, bytes.fromhex(pub(c)), gid)
    allops = list(ops_of(a).values())
    views = []
    for i, first in enumerate(["rm", "ops", "shuffled"]):
        d = R.joined(a, "r_o%d.db" % i)
        if first == "rm":
            ingest_all(d, allops)
            one(d, "SELECT bec_ingest(?)", rm)
        elif first == "ops":
            ingest_all(d, [rm] + allops[::-1])
        else:
            ingest_all(d, allops + [rm], rng)
        views.append(d.execute("SELECT id FROM todos ORDER BY id").fetchall())
        T.eq(one(d, "SELECT bec_check()"), "ok", "bec_check (%s)" % first)
    one(a, "SELECT bec_ingest(?)", rm)
    views.append(a.execute("SELECT id FROM todos ORDER BY id").fetchall())
    T.eq(views, [[("w1",)]] * 4, "w1 (in the root-sealed cut) stays, w2 (after) is off")
    T.eq(one(a, "SELECT valid FROM bec_ops WHERE hash=?", becwire.op_id(rm).hex()), 1,
         "the removal is valid")


def test_snapshot():
    a, b, c = group("n")
    open_root([a, b, c])
    a.execute("INSERT INTO todos VALUES('n1', 'in the first cut', 1)")
    sync_all([a, c], rng)
    k1 = one(a, "SELECT bec_checkpoint()")
    root_attest(a, c, k1, row(a, k1)[0])
    T.eq(row(a, k1)[1:3], (1, 1), "k1: one admin's claim, sealed by the root")
    T.raises(lambda: one(a, "SELECT bec_snapshot()"),
             "no checkpoint here is sealed by k admins' attestations",
             "a checkpoint sealed by the root alone is not given as a snapshot")
    sync_all([a, b, c], rng)         # b attests k1 after the sync ...
    sync_all([a, b, c], rng)         # ... and a receives it: k admins' claims
    T.eq(row(a, k1)[1], 2, "k1: two admins' claims")
    T.eq(one(c, "SELECT bec_snapshot_verify(?)", one(a, "SELECT bec_snapshot()")), k1,
         "k1's snapshot verifies on another replica")
    a.execute("INSERT INTO todos VALUES('n2', 'in the second cut', 0)")
    sync_all([a, c], rng)
    k2 = one(a, "SELECT bec_checkpoint()")
    root_attest(a, c, k2, row(a, k2)[0])
    T.eq(row(a, k2)[1:3], (1, 1), "k2: sealed by the root alone")
    T.eq(one(c, "SELECT bec_snapshot_verify(?)", one(a, "SELECT bec_snapshot()")), k1,
         "the snapshot passes over k2 (root alone) and gives k1")
    sync_all([a, b, c], rng)         # b attests k2 too
    sync_all([a, b, c], rng)
    T.eq(one(c, "SELECT bec_snapshot_verify(?)", one(a, "SELECT bec_snapshot()")), k2,
         "once k admins attest k2, its snapshot is the one given")


def test_refused():
    a, b, c = group("f")
    open_root([a, b, c])
    w = one(a, "SELECT hash FROM bec_ops WHERE kind='add' LIMIT 1")
    T.raises(lambda: one(a, "SELECT bec_root_propose('attest', ?, ?)", w, "00" * 32),
             "its checkpoint is no checkpoint in the op's causal past",
             "an attest of an op that is no checkpoint")
    T.raises(lambda: one(a, "SELECT bec_root_propose('attest', ?)", w),
             "'attest' takes a checkpoint id and a digest", "attest without a digest")
    T.raises(lambda: one(a, "SELECT bec_root_propose('attest', ?, 'zz')", w),
             "'attest' takes a checkpoint id and a digest", "a digest that is no hex")


T.run([test_seal, test_wrong_then_right, test_root_not_in_cut, test_backdated_removal,
       test_snapshot, test_refused])
R.cleanup()
T.done()
