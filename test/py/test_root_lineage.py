"""test_root_lineage.py - which root ops act (docs/root.md "Which root ops
act"; THRESHOLD.md 5): the lineage rule and hand-overs.

Each scenario builds concurrent histories with cloned replicas (a second
device of a member, cut off), then delivers the union of all ops to fresh
observers in several random orders: every order gives the same members,
root states and op validity, and bec_check agrees.

  void     an admin's removal of the creator, concurrent with the creator's
           root-open, cancels the open: the lineage is void, the root op
           signed meanwhile (remove D) is ignored and D stays a member.
  cycle    the same, but the root removes that admin: the root op, the
           admin's removal and the open form a conflict cycle, which
           seniority settles for the root (rank 0) - the admin is out, the
           creator in, the root active.
  rival    a second device of the creator opens a rival root that
           completes after the root op (remove D) was signed: two complete
           creator sessions disable the root, and the root op stops acting.
  thief    the same rival, but the root op removes the creator: the rival
           open is concurrent with that removal, so it is cancelled and
           disables nothing; the root op acts.
  Every signing first stops at k-1 approvals: steps on the signers make
  nothing and the request stays 'pending' (any 2 of a 3-of-5 cannot sign;
  the arithmetic of every subset is in test/unit/test_frost.c).
  twice    two aggregations (two sessions, two signatures) of ONE 'holders'
           request are one hand-over, not a fork: epoch 2 is active, both
           hand-overs are valid, and the new root signs; two hand-overs of
           different requests still disable the root (R9 in
           test_root_sign.py).
"""
import json
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bectest import Replicas, T, ingest_all, one, ops_of, sync_all  # noqa: E402

rng = random.Random(int(os.environ.get("BEC_ROOT_SEED", "1617")))
ORDERS = int(os.environ.get("BEC_ROOT_ORDERS", "4"))
R = Replicas("bec_root_lineage_")


def deliver(db, bodies, shuffle=False):
    ingest_all(db, bodies, rng if shuffle else None)


def sync(dbs):
    sync_all(dbs, rng)


def steps(dbs, rounds=8):
    for _ in range(rounds):
        sync(dbs)
        if sum(one(d, "SELECT bec_root_step()") for d in dbs) == 0:
            break
    sync(dbs)


def members(db):
    return dict(db.execute("SELECT pubkey, role FROM bec_members").fetchall())


def states(db):
    return [st for (st,) in db.execute("SELECT state FROM bec_root ORDER BY epoch, session")]


def group(tag, admins=()):
    """A creator and four members; no root yet."""
    dbs = [R.origin("%s0.db" % tag, decl=None)]
    for i in range(1, 5):
        dbs.append(R.joined(dbs[0], "%s%d.db" % (tag, i)))
    pks = [one(d, "SELECT bec_pubkey()") for d in dbs]
    for i, pk in enumerate(pks[1:], 1):
        one(dbs[0], "SELECT bec_add_member(?, ?)", pk, "admin" if i in admins else "member")
    sync(dbs)
    return dbs, pks


def open_root(dbs, pks, k=3):
    one(dbs[0], "SELECT bec_root_open(?, ?)", k, json.dumps(pks))
    steps(dbs)
    T.eq([states(d)[-1] for d in dbs], ["active"] * len(dbs), "the root is active")


def sign(dbs, signers, action, target, *extra):
    d0 = dbs[signers[0]]
    req = one(d0, "SELECT bec_root_propose(?, ?%s)" % (", ?" * len(extra)), action, target, *extra)
    for n, i in enumerate(signers[1:], 2):
        sync([d0, dbs[i]])
        if n == len(signers):
            # k-1 holders cannot sign: no session, no root op.
            steps([dbs[j] for j in signers])
            T.eq(one(d0, "SELECT state FROM bec_root_requests WHERE id=?", req), "pending",
                 "%s: k-1 approvals: pending" % action)
        one(dbs[i], "SELECT bec_root_approve(?)", req)
    steps([dbs[i] for i in signers])
    T.eq(one(d0, "SELECT state FROM bec_root_requests WHERE id=?", req), "done", "%s signed" % action)
    return req


def merged(name, sources, tag):
    """The union of the sources' ops, delivered to ORDERS fresh observers in
    random orders: the state they agree on (checked), from the first."""
    allops = {}
    for d in sources:
        allops.update(ops_of(d))
    want = None
    for k in range(ORDERS):
        o = R.joined(sources[0], "%sobs%d.db" % (tag, k))
        deliver(o, allops.values(), True)
        T.eq(one(o, "SELECT count(*) FROM bec_pending"), 0, "%s: nothing pending" % name)
        got = (sorted(members(o).items()), states(o),
               sorted(o.execute("SELECT hash, valid FROM bec_ops").fetchall()))
        if want is None:
            want = got
        T.eq(got, want, "%s: the same state in delivery order %d" % (name, k))
        T.eq(one(o, "SELECT bec_check()"), "ok", "%s: bec_check %d" % (name, k))
        if k < ORDERS - 1:
            o.close()
    return o


def root_valid(o):
    return [v for (v,) in o.execute("SELECT valid FROM bec_ops WHERE kind='root' ORDER BY hash")]


def test_void():
    dbs, pks = group("v", admins=(1,))
    A, B, D = pks[0], pks[1], pks[4]
    b2 = R.clone(dbs[1], "v1b.db")          # B's second device, cut off
    one(b2, "SELECT bec_remove_member(?)", A)
    open_root(dbs, pks)
    sign(dbs, [1, 2, 3], "remove", D)
    T.check(D not in members(dbs[2]), "void: before the merge the root's removal acts")
    o = merged("void", dbs + [b2], "v")
    ms = members(o)
    T.check(A not in ms, "void: the admin's removal of the creator stands")
    T.check(D in ms, "void: the root op of the void lineage is ignored: D stays")
    T.eq(root_valid(o), [0], "void: the root op is invalid")
    T.eq(one(o, "SELECT valid FROM bec_ops WHERE kind='root-open'"), 0, "void: the open is cancelled")
    T.eq(states(o), ["disabled"], "void: bec_root says disabled")


def test_cycle():
    dbs, pks = group("c", admins=(1,))
    A, B = pks[0], pks[1]
    b2 = R.clone(dbs[1], "c1b.db")
    one(b2, "SELECT bec_remove_member(?)", A)
    open_root(dbs, pks)
    sign(dbs, [2, 3, 4], "remove", B)
    o = merged("cycle", dbs + [b2], "c")
    ms = members(o)
    T.check(B not in ms, "cycle: the root removed the admin")
    T.check(A in ms, "cycle: the admin's concurrent removal of the creator is ignored")
    T.eq(root_valid(o), [1], "cycle: the root op acts (the root is the most senior)")
    T.eq(one(o, "SELECT valid FROM bec_ops WHERE kind='remove' AND target=?", A), 0,
         "cycle: the admin's removal is dropped")
    T.eq(states(o), ["active"], "cycle: the root stays active")


def rival(tag, remove_creator):
    dbs, pks = group(tag)
    A, D = pks[0], pks[4]
    # The creator's stolen device and two members' second devices, cut off
    # before the root exists: they run a rival 2-of-3 key generation.
    P = [R.clone(dbs[i], "%sp%d.db" % (tag, i)) for i in range(3)]
    open_root(dbs, pks)
    sign(dbs, [1, 2, 3], "remove", A if remove_creator else D)
    open_root(P, pks[:3], k=2)
    return merged(tag, dbs + P, tag), pks


def test_rival():
    o, pks = rival("r", False)
    T.check(pks[4] in members(o), "rival: the root op stops acting: D stays")
    T.eq(root_valid(o), [0], "rival: the root op is invalid")
    T.eq(states(o), ["disabled", "disabled"], "rival: both creator roots are disabled")


def test_thief():
    o, pks = rival("t", True)
    T.check(pks[0] not in members(o), "thief: the root's removal of the creator acts")
    T.eq(root_valid(o), [1], "thief: the root op is valid")
    T.eq(sorted(states(o)), ["active", "disabled"],
         "thief: the rival open, concurrent with the removal, is void")
    T.eq(sorted(v for (v,) in o.execute("SELECT valid FROM bec_ops WHERE kind='root-open'")), [0, 1],
         "thief: the rival open is cancelled, the root's stands")


def test_twice():
    dbs, pks = group("w")
    hid = {i: sorted(pks).index(pks[i]) + 1 for i in range(5)}
    by = sorted(range(5), key=lambda i: hid[i])   # replica of holder 1..5
    h = {j + 1: dbs[by[j]] for j in range(5)}
    open_root(dbs, pks)
    # Holder 2's second device, cut off before the request.
    h2b = R.clone(h[2], "w2b.db")
    new = [pks[by[0]], pks[by[1]], pks[by[4]]]      # holders 1, 2, 5: 2 of 3
    req = one(h[5], "SELECT bec_root_propose('holders', ?, 2)", json.dumps(new))
    A = [h[5], h[1], h[2]]
    B = [h[3], h[4], h2b]
    steps(A)                                        # the new key generation
    T.eq(one(h[1], "SELECT state FROM bec_root WHERE epoch=2"), "generating",
         "twice: the new epoch waits for its hand-over")
    sync(A + B)                                     # everyone knows the request and the DKG
    for d in A[1:]:
        one(d, "SELECT bec_root_approve(?)", req)
    steps(A)
    for d in B:
        one(d, "SELECT bec_root_approve(?)", req)
    steps(B)
    r1 = set(ops_of(h[1])) & {x for (x,) in h[1].execute("SELECT hash FROM bec_ops WHERE kind='root'")}
    r2 = {x for (x,) in h[3].execute("SELECT hash FROM bec_ops WHERE kind='root'")}
    T.eq((len(r1), len(r2), len(r1 & r2)), (1, 1, 0),
         "twice: each partition aggregated its own hand-over of the one request")
    o = merged("twice", dbs + [h2b], "w")
    T.eq(states(o), ["superseded", "active"], "twice: epoch 1 superseded, epoch 2 active (no fork)")
    T.eq(root_valid(o), [1, 1], "twice: both aggregations of the hand-over are valid")
    T.eq(one(o, "SELECT state FROM bec_root_requests WHERE id=?", req), "done", "twice: the request is done")
    # The new root signs after the merge.
    sync(dbs + [h2b])
    r = one(h[1], "SELECT bec_root_propose('remove', ?)", pks[by[3]])
    sync([h[1], h[5]])
    one(h[5], "SELECT bec_root_approve(?)", r)
    steps(dbs)
    T.eq(one(h[2], "SELECT state FROM bec_root_requests WHERE id=?", r), "done", "twice: the new root signs")
    T.check(pks[by[3]] not in members(h[3]), "twice: the new root's removal acts")


test_void()
test_cycle()
test_rival()
test_thief()
test_twice()
R.cleanup()
T.done()
