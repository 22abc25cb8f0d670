"""test_root_sign.py - the threshold root signs (docs/root.md; THRESHOLD.md
sections 4 and 5, tests R6, R10 and the hostile cases of section 9).

  Sign   3-of-5: a holder proposes removing the creator, two approve,
         bec_root_step on the replicas fixes a session, makes the shares and
         aggregates one root op; it verifies as a plain Ed25519 signature
         under the group key (becwire.verify, libsodium), the creator is
         out everywhere and bec_root_requests says 'done'.
  R6     A (the creator) removes B and B removes A concurrently; A wins by
         seniority.  The root then removes A and restores B while A, cut
         off, keeps adding a member: B is a member again with its old role,
         A is out, A's concurrent ops are ignored, the same in every
         delivery order (replicas and observers in shuffled orders).
  Hostile  hand-made ops (becwire, signed with the holders' keys): a bad
         share is refused and names the holder; a share by a holder who is
         no signer of the session, a second share with a spent commitment
         (a replayed nonce), a request by a member who is no holder, a
         request naming a non-active epoch, a session by the wrong holder,
         a root op that is not what its session signs, or whose
         predecessor is not its session: each refused with its reason.
  R10    nonces: the sealed nonce row exists only while its commitment is
         unused; a copied database (a second device with the same nonces)
         that receives the share op refuses to sign again and drops the
         nonce; SIGKILL at random points inside bec_root_step leaves either
         the nonce and no share op, or the share op and no nonce, never
         both; after the restart the stored nonce is used (one commitment,
         never redrawn) and exactly one share op exists for it.
  becsync  bec_root_step runs after each sync, over the network and file to
         file (becsync A.db B.db): a root activates through syncs alone.
"""
import json
import os
import random
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bectest import Replicas, T, connect, ingest_all, one, ops_of, sync_all  # noqa: E402
from becwire import Key, decode_op, make_op, signed_message, verify  # noqa: E402

rng = random.Random(int(os.environ.get("BEC_ROOT_SEED", "1616")))
ORDERS = int(os.environ.get("BEC_ROOT_ORDERS", "6"))
R = Replicas("bec_root_sign_")


def deliver(db, bodies, shuffle=False):
    ingest_all(db, bodies, rng if shuffle else None)


def sync(dbs):
    sync_all(dbs, rng)


def key_of(db):
    with open(one(db, "SELECT bec_key_file()"), "rb") as f:
        return Key(f.read()[11:43])


def steps(dbs, rounds=6):
    for _ in range(rounds):
        sync(dbs)
        if sum(one(d, "SELECT bec_root_step()") for d in dbs) == 0:
            break
    sync(dbs)


class Group:
    """A creator and four members (file replicas, so their keys are known),
    with an active 3-of-5 root held by all five."""

    def __init__(self, tag, admins=()):
        self.dbs = [R.origin("%s0.db" % tag, decl=None)]
        for i in range(1, 5):
            self.dbs.append(R.joined(self.dbs[0], "%s%d.db" % (tag, i)))
        self.pks = [one(d, "SELECT bec_pubkey()") for d in self.dbs]
        self.keys = [key_of(d) for d in self.dbs]
        self.gid = bytes.fromhex(one(self.dbs[0], "SELECT bec_group_id()"))
        for i, pk in enumerate(self.pks[1:], 1):
            one(self.dbs[0], "SELECT bec_add_member(?, ?)", pk,
                "admin" if i in admins else "member")
        sync(self.dbs)
        self.sid = one(self.dbs[0], "SELECT bec_root_open(3, ?)", json.dumps(self.pks))
        steps(self.dbs)
        T.eq([one(d, "SELECT state FROM bec_root") for d in self.dbs], ["active"] * 5,
             "the root is active everywhere")
        self.y = bytes.fromhex(one(self.dbs[0], "SELECT group_key FROM bec_root"))

    def hid(self, i):
        """Holder identifier of replica i."""
        return sorted(self.pks).index(self.pks[i]) + 1


def members(db):
    return sorted((pk, role) for pk, role in
                  db.execute("SELECT pubkey, role FROM bec_members").fetchall())


def root_ops(db):
    return [b for (b,) in db.execute("SELECT body FROM bec_ops WHERE kind='root'")]


def sign_one(g, signers, action, target, *extra):
    """signers[0] proposes, the others approve; steps until done."""
    d0 = g.dbs[signers[0]]
    req = one(d0, "SELECT bec_root_propose(?, ?%s)" % (", ?" * len(extra)), action, target, *extra)
    T.eq(one(d0, "SELECT approvals FROM bec_root_requests WHERE id=?", req), 1,
         "a proposal is the proposer's approval")
    for i in signers[1:]:
        sync([d0, g.dbs[i]])
        one(g.dbs[i], "SELECT bec_root_approve(?)", req)
    return req


# ---------------------------------------------------------------------------

def test_sign():
    g = Group("s")
    creator = g.pks[0]
    req = sign_one(g, [1, 2, 3], "remove", creator)
    T.raises(lambda: one(g.dbs[2], "SELECT bec_root_approve(?)", req), "approved the request already",
             "a second approval while the first commitment is unused")
    sync(g.dbs)
    T.eq(one(g.dbs[4], "SELECT state FROM bec_root_requests WHERE id=?", req), "signing",
         "k approvals: signing")
    steps(g.dbs)
    ops = root_ops(g.dbs[4])
    T.eq(len(ops), 1, "one root op, however many replicas aggregate")
    m = decode_op(ops[0])
    T.eq(m["author"], g.y, "the root op's author is the group key")
    T.check(verify(g.y, m["sig"], signed_message(g.gid, m["id"])),
            "the root op verifies as a plain Ed25519 signature under Y")
    T.eq(len(m["preds"]), 1, "one predecessor: its session")
    for i, d in enumerate(g.dbs):
        T.eq(one(d, "SELECT state FROM bec_root_requests WHERE id=?", req), "done", "done on %d" % i)
        T.check(creator not in [pk for pk, _ in members(d)], "the creator is out on %d" % i)
        T.eq(one(d, "SELECT bec_check()"), "ok", "bec_check on %d" % i)
        T.eq(one(d, "SELECT count(*) FROM bec_ops WHERE kind='root-share'"), 3, "three shares")
        T.eq(one(d, "SELECT count(*) FROM bec_store_root_nonce"), 0,
             "no nonce left once every commitment signed (%d)" % i)
    T.eq(one(g.dbs[1], "SELECT count(*) FROM bec_ops WHERE kind='root' AND valid"), 1, "the root op is valid")
    # The creator, removed, cannot act; its key cannot sign as a member.
    T.raises(lambda: one(g.dbs[0], "SELECT bec_add_member(?, 'member')", "ab" * 32),
             "", "the removed creator cannot add")
    # Misuse.
    T.raises(lambda: one(g.dbs[1], "SELECT bec_root_propose('frob', ?)", g.pks[2]),
             "bec_root_propose: unknown action", "unknown action")
    T.raises(lambda: one(g.dbs[1], "SELECT bec_root_propose('add', ?)", g.pks[2]),
             "bec_root_propose: 'add' takes a role", "add without a role")
    T.raises(lambda: one(g.dbs[1], "SELECT bec_root_propose('remove', ?)", creator),
             "not a current member", "remove of a non-member")
    T.raises(lambda: one(g.dbs[1], "SELECT bec_root_propose('restore', ?)", g.pks[2]),
             "is a current member", "restore of a member")
    T.raises(lambda: one(g.dbs[1], "SELECT bec_root_approve(?)", "00" * 32), "no such request",
             "approve of nothing")
    g.dbs[1].execute("CREATE VIEW v AS SELECT bec_root_propose('remove', '%s')" % g.pks[2])
    T.raises(lambda: one(g.dbs[1], "SELECT * FROM v"), "unsafe use", "bec_root_propose is DIRECTONLY")
    return g


def test_r6():
    # A = creator (replica 0), B = an admin (replica 1); holders all five.
    g = Group("r6", admins=(1,))
    A, B = g.pks[0], g.pks[1]
    a_db, b_db = g.dbs[0], g.dbs[1]
    one(a_db, "SELECT bec_remove_member(?)", B)
    one(b_db, "SELECT bec_remove_member(?)", A)
    others = g.dbs[1:]
    sync(others)
    sync([a_db, g.dbs[2]])
    sync(others)
    T.check(B not in [pk for pk, _ in members(g.dbs[2])], "R6: seniority: A's removal of B wins")
    # A, cut off from now on, keeps acting: its ops are concurrent with the root's.
    x = "cd" * 32
    one(a_db, "SELECT bec_add_member(?, 'member')", x)
    one(a_db, "SELECT bec_set_name('still here')")
    # C, D, E (replicas 2, 3, 4) sign: remove A, restore B.
    r1 = sign_one(g, [2, 3, 4], "remove", A)
    steps(g.dbs[2:])
    r2 = sign_one(g, [2, 3, 4], "restore", B)
    steps(g.dbs[2:])
    T.eq(one(g.dbs[2], "SELECT count(*) FROM bec_ops WHERE kind='root'"), 2, "R6: two root ops")
    for rid in (r1, r2):
        T.eq(one(g.dbs[3], "SELECT state FROM bec_root_requests WHERE id=?", rid), "done", "R6: done")
    allops = {}
    for d in g.dbs:
        allops.update(ops_of(d))
    want = None
    for k in range(ORDERS):
        o = R.joined(g.dbs[0], "r6obs%d.db" % k)
        deliver(o, allops.values(), True)
        T.eq(one(o, "SELECT count(*) FROM bec_pending"), 0, "R6: nothing pending")
        got = (members(o), one(o, "SELECT count(*) FROM bec_ops WHERE valid"),
               sorted(r for r in o.execute("SELECT hash, valid FROM bec_ops")))
        if want is None:
            want = got
            ms = dict(got[0])
            T.eq(ms.get(B), "admin", "R6: B is a member again with its old role")
            T.check(A not in ms, "R6: A is out")
            T.check(x not in ms, "R6: A's concurrent add is ignored")
            T.eq(one(o, "SELECT count(*) FROM bec_ops WHERE kind='add' AND target=? AND valid", x), 0,
                 "R6: A's concurrent add is invalid")
            T.eq(one(o, "SELECT valid FROM bec_ops WHERE kind='name'"), 0,
                 "R6: A's concurrent name op is invalid")
        T.eq(got, want, "R6: the same state in delivery order %d" % k)
        T.eq(one(o, "SELECT bec_check()"), "ok", "R6: bec_check %d" % k)
        o.close()
    # The replicas themselves converge to it too.
    sync(g.dbs)
    for i, d in enumerate(g.dbs):
        T.eq(members(d), want[0], "R6: replica %d" % i)


# ---------------------------------------------------------------------------
# Hostile ops.

def ingest_err(db, body):
    try:
        one(db, "SELECT bec_ingest(?)", body)
    except Exception as e:  # noqa: BLE001
        return str(e)
    return "stored"


def heads(db):
    return [bytes.fromhex(h) for (h,) in db.execute("SELECT hash FROM bec_heads")]


def test_hostile():
    g = Group("h")
    d = g.dbs
    sid = bytes.fromhex(g.sid)
    # Holder replicas 1, 2, 3 approve a request; only the session is posted.
    newpk = Key(os.urandom(32)).hex
    req = sign_one(g, [1, 2, 3], "add", newpk, "member")
    sync(d)
    # Let the first signer post the session only (its step also shares).
    first = min([1, 2, 3], key=g.hid)
    one(d[first], "SELECT bec_root_step()")
    sync(d)
    sess_body = [b for (b,) in d[0].execute("SELECT body FROM bec_ops WHERE kind='root-session'")]
    T.eq(len(sess_body), 1, "hostile: one session")
    sess = decode_op(sess_body[0])
    share_body = [b for (b,) in d[0].execute("SELECT body FROM bec_ops WHERE kind='root-share'")]
    T.eq(len(share_body), 1, "hostile: the first signer shared")
    sh = decode_op(share_body[0])
    i_first = g.hid(first)
    T.eq(sh["body"][33], i_first, "hostile: the share names its holder")
    victim = d[4]            # a replica that checks what it is sent

    # A bad share: a flipped byte of z, signed by the holder: refused, names it.
    other = [i for i in (1, 2, 3) if i != first][0]
    i_other = g.hid(other)
    z = bytearray(sh["body"][34:66])
    z[0] ^= 1
    bad = make_op(g.keys[other], "root-share", heads(victim),
                  bytes([1]) + sess["id"] + bytes([i_other]) + bytes(z), g.gid)
    T.check("bad signature share: holder %d" % i_other in ingest_err(victim, bad),
            "hostile: a bad share names its holder")
    # A share by a holder who is no signer of the session (replica 4 or 0).
    non = [i for i in (0, 4) if g.hid(i) not in (g.hid(1), g.hid(2), g.hid(3))][0]
    e = ingest_err(victim, make_op(g.keys[non], "root-share", heads(victim),
                                   bytes([1]) + sess["id"] + bytes([g.hid(non)]) + sh["body"][34:66],
                                   g.gid))
    T.check("is not a signer of the session" in e, "hostile: a non-signer's share: %s" % e)
    # The same holder's commitment signing again (a replayed nonce) after its share.
    e = ingest_err(victim, make_op(g.keys[first], "root-share", heads(victim),
                                   sh["body"], g.gid))
    T.check("already signed in the op's causal past" in e, "hostile: a replayed share: %s" % e)
    # A share naming a session that is not a session (the request).
    e = ingest_err(victim, make_op(g.keys[first], "root-share", heads(victim),
                                   bytes([1]) + bytes.fromhex(req) + sh["body"][33:], g.gid))
    T.check("is no root-session" in e, "hostile: a wrong session: %s" % e)
    # A request by a member who is no holder: a sixth member.
    six = R.joined(d[0], "h6.db")
    pk6 = one(six, "SELECT bec_pubkey()")
    one(d[0], "SELECT bec_add_member(?, 'admin')", pk6)
    sync([d[0], victim])
    k6 = key_of(six)
    args = bytes([2]) + bytes.fromhex(g.pks[1]) + bytes([0])
    commit = bytes([1]) + sid + bytes([1]) + g.y + g.y
    e = ingest_err(victim, make_op(k6, "root-request", heads(victim), commit + args, g.gid))
    T.check("is not holder 1 of the epoch" in e, "hostile: a non-holder's request: %s" % e)
    # A request naming something that is no epoch.
    e = ingest_err(victim, make_op(g.keys[1], "root-request", heads(victim),
                                   bytes([1]) + bytes.fromhex(req) + bytes([g.hid(1)]) + g.y + g.y + args,
                                   g.gid))
    T.check("is no root-open" in e, "hostile: a request naming no epoch: %s" % e)
    # Malformed: an unknown action, a bad point.
    e = ingest_err(victim, make_op(g.keys[1], "root-request", heads(victim),
                                   bytes([1]) + sid + bytes([g.hid(1)]) + g.y + g.y + bytes([9]) + args[1:],
                                   g.gid))
    T.check("malformed: root-request: unknown action" in e, "hostile: unknown action: %s" % e)
    e = ingest_err(victim, make_op(g.keys[1], "root-request", heads(victim),
                                   bytes([1]) + sid + bytes([g.hid(1)]) + bytes(32) + g.y + args, g.gid))
    T.check("not a valid point" in e, "hostile: a bad commitment point: %s" % e)
    # A session posted by a holder who is not its first signer.
    not_first = [i for i in (1, 2, 3) if i != first][0]
    e = ingest_err(victim, make_op(g.keys[not_first], "root-session", heads(victim),
                                   sess["body"], g.gid))
    T.check("is not holder %d, the first signer" % i_first in e, "hostile: wrong session author: %s" % e)
    # Root ops: author not the group key; predecessor not a session; payload
    # not what the session signs (signed by a member's key, so the
    # signature is valid and the root rules decide).
    pay = bytes([1, 1]) + bytes.fromhex(newpk) + bytes([2]) + sid + bytes.fromhex(req)
    e = ingest_err(victim, make_op(g.keys[1], "root", [sess["id"]], pay, g.gid))
    T.check("its author is not the epoch's group key" in e, "hostile: root by a member: %s" % e)
    e = ingest_err(victim, make_op(g.keys[1], "root", heads(victim), pay, g.gid))
    T.check("its one predecessor must be its root-session" in e, "hostile: root without session: %s" % e)
    e = ingest_err(victim, make_op(g.keys[1], "root", [sess["id"]], pay[:1] + bytes([7]) + pay[2:], g.gid))
    T.check("malformed" in e, "hostile: root with an unknown action: %s" % e)
    # Nothing of it was stored, and the honest run still completes.
    T.eq(one(victim, "SELECT bec_check()"), "ok", "hostile: bec_check")
    steps(d)
    T.eq(one(victim, "SELECT state FROM bec_root_requests WHERE id=?", req), "done",
         "hostile: the request completes despite the hostile ops")
    T.check(newpk in [pk for pk, _ in members(victim)], "hostile: the root added the key")
    T.eq(one(victim, "SELECT count(*) FROM bec_ops WHERE kind='root-share'"), 3, "hostile: 3 shares")


# ---------------------------------------------------------------------------
# R10: nonces.

CHILD = r"""
import os, sys, sqlite3
sys.path.insert(0, %r)
from bectest import connect, one
db = connect(%r)
n = int(sys.argv[1])
count = [0]
def tick():
    count[0] += 1
    if count[0] == n:
        os.kill(os.getpid(), 9)
    return 0
db.set_progress_handler(tick, 50)
print(one(db, "SELECT bec_root_step()"), flush=True)
"""


def nonce_state(path, commit):
    db = connect(path)
    n = one(db, "SELECT count(*) FROM bec_store_root_nonce WHERE commit_id=?", bytes.fromhex(commit))
    s = one(db, "SELECT count(*) FROM bec_ops WHERE kind='root-share' AND author=bec_pubkey()")
    db.close()
    return n, s


def test_r10():
    g = Group("n")
    d = g.dbs
    req = sign_one(g, [1, 2, 3], "add", Key(os.urandom(32)).hex, "relay")
    sync(d)
    # The first signer posts the session (and its own share); replica v,
    # another signer, is the one killed and copied.
    first = min([1, 2, 3], key=g.hid)
    v = [i for i in (1, 2, 3) if i != first][0]
    mine = one(d[v], "SELECT hash FROM bec_ops WHERE kind IN ('root-request', 'root-approve') "
                     "AND author=bec_pubkey()")
    T.eq(one(d[v], "SELECT count(*) FROM bec_store_root_nonce"), 1, "R10: one sealed nonce")
    sealed = one(d[v], "SELECT sealed FROM bec_store_root_nonce")
    T.eq(len(sealed), 104, "R10: the nonce is stored sealed (24 + 64 + 16 bytes)")
    one(d[first], "SELECT bec_root_step()")
    sync([d[first], d[v]])
    # A copy of replica v (a restored backup: the same unused nonce).
    path2 = d[v].execute("PRAGMA database_list").fetchall()[0][2]
    copy = R.clone(d[v], "n2copy.db")
    # SIGKILL inside bec_root_step at increasing points of replica v.
    d[v].close()
    child = os.path.join(R.dir, "child.py")
    with open(child, "w") as f:
        f.write(CHILD % (os.path.dirname(os.path.abspath(__file__)), path2))
    env = dict(os.environ)
    kills = 0
    for n in range(1, 400, 7):
        if nonce_state(path2, mine)[1]:
            break
        p = subprocess.run([sys.executable, child, str(n)], env=env, capture_output=True, text=True)
        if p.returncode == -signal.SIGKILL:
            kills += 1
        elif os.environ.get("BEC_ROOT_DEBUG"):
            print(n, p.returncode, p.stdout, p.stderr)
        st = nonce_state(path2, mine)
        T.check(st in ((1, 0), (0, 1)), "R10: after a kill at %d: nonce %d, shares %d" % (n, st[0], st[1]))
    T.check(kills > 0, "R10: some runs were killed inside bec_root_step")
    db2 = connect(path2)
    d[v] = db2
    one(db2, "SELECT bec_root_step()")
    T.eq(nonce_state(path2, mine), (0, 1), "R10: the share op exists and the nonce is gone")
    T.eq(one(db2, "SELECT count(*) FROM bec_ops WHERE kind IN ('root-request', 'root-approve') "
                  "AND author=bec_pubkey()"), 1, "R10: the nonce was never redrawn")
    T.eq(one(copy, "SELECT count(*) FROM bec_store_root_nonce"), 1, "R10: the copy holds the nonce")
    sync([db2, copy])
    T.eq(one(copy, "SELECT bec_root_step()") >= 0, True, "R10: the copy steps")
    T.eq(one(copy, "SELECT count(*) FROM bec_ops WHERE kind='root-share' AND author=bec_pubkey()"), 1,
         "R10: the copy made no second share for the commitment")
    T.eq(one(copy, "SELECT count(*) FROM bec_store_root_nonce"), 0, "R10: the copy dropped the nonce")
    steps(d)
    T.eq(one(d[4], "SELECT state FROM bec_root_requests WHERE id=?", req), "done", "R10: done")
    T.eq(one(d[4], "SELECT count(*) FROM bec_ops WHERE kind='root-share'"), 3, "R10: one share per signer")
    T.eq(one(d[4], "SELECT bec_check()"), "ok", "R10: bec_check")

# ---------------------------------------------------------------------------
# Epochs: the hand-over to new holders (R8) and forks (R9).

def states(db):
    return [(e, st) for e, st in db.execute("SELECT epoch, state FROM bec_root ORDER BY epoch, session")]


def handover(dbs, holders, k, signers):
    """dbs[signers[0]] proposes the new holders, the others approve; steps
    on dbs until the hand-over is done.  Returns the request id."""
    req = one(dbs[signers[0]], "SELECT bec_root_propose('holders', ?, ?)", json.dumps(holders), k)
    for i in signers[1:]:
        sync([dbs[signers[0]], dbs[i]])
        one(dbs[i], "SELECT bec_root_approve(?)", req)
    steps(dbs, 10)
    return req


def test_r8():
    g = Group("r8")
    d = g.dbs
    C = g.pks[4]
    sign_one(g, [0, 1, 2], "remove", C)
    steps(d)
    T.check(C not in dict(members(d[0])), "R8: the root removed C")
    # P: a partition that will never see the re-key: second devices of
    # holders 1 and 2 (copies made now) and holder 3.  (C, removed, keeps
    # its share until the re-key, but this replica signs no op as a
    # non-member.)
    p1 = R.clone(d[1], "r8p1.db")
    p2 = R.clone(d[2], "r8p2.db")
    P = [p1, p2, d[3]]
    # M re-keys: new holders 0, 1, 2 (2-of-3), signed by old holders 0, 1, 2.
    M = d[:3]
    req = handover(M, [g.pks[0], g.pks[1], g.pks[2]], 2, [0, 1, 2])
    T.eq(one(M[0], "SELECT state FROM bec_root_requests WHERE id=?", req), "done", "R8: hand-over done")
    T.eq(states(M[0]), [(1, "superseded"), (2, "active")], "R8: epoch 1 superseded, epoch 2 active")
    # In P, three old holders sign a back-dated old-epoch op: restore C.
    r_old = one(d[3], "SELECT bec_root_propose('restore', ?)", C)
    for x in (p1, p2):
        sync([d[3], x])
        one(x, "SELECT bec_root_approve(?)", r_old)
    steps(P)
    T.eq(one(d[3], "SELECT state FROM bec_root_requests WHERE id=?", r_old), "done",
         "R8: the stale holders signed in their partition")
    T.check(C in dict(members(d[3])), "R8: ... where C is back")
    allops = {}
    for x in d + [p1, p2]:
        allops.update(ops_of(x))
    want = None
    for k in range(ORDERS):
        o = R.joined(d[0], "r8obs%d.db" % k)
        deliver(o, allops.values(), True)
        got = (members(o), states(o),
               sorted(o.execute("SELECT hash, valid FROM bec_ops WHERE kind='root'").fetchall()))
        if want is None:
            want = got
            T.check(C not in dict(got[0]), "R8: the back-dated old-epoch restore is ignored")
            T.eq(got[1], [(1, "superseded"), (2, "active")], "R8: states after the merge")
            T.eq(sorted(v for _, v in got[2]), [0, 1, 1], "R8: one root op ignored, two act")
        T.eq(got, want, "R8: delivery order %d" % k)
        T.eq(one(o, "SELECT bec_check()"), "ok", "R8: bec_check %d" % k)
        o.close()
    # After the merge the old holders cannot act; the new root can.
    sync(d)
    T.raises(lambda: one(d[3], "SELECT bec_root_propose('remove', ?)", g.pks[1]),
             "no holder of an active root", "R8: a stale holder cannot propose")
    r_new = one(d[0], "SELECT bec_root_propose('remove', ?)", g.pks[3])
    sync(d[:2])
    one(d[1], "SELECT bec_root_approve(?)", r_new)
    steps(d)
    T.eq(one(d[4], "SELECT state FROM bec_root_requests WHERE id=?", r_new), "done", "R8: the new root signs")
    T.check(g.pks[3] not in dict(members(d[4])), "R8: the new root's removal acts")


def test_r9():
    g = Group("r9")
    d = g.dbs
    p2 = R.clone(d[2], "r9p2.db")
    M1 = d[:3]
    M2 = [d[3], d[4], p2]
    handover(M1, [g.pks[0], g.pks[1], g.pks[2]], 2, [0, 1, 2])
    handover(M2, [g.pks[2], g.pks[3], g.pks[4]], 2, [0, 1, 2])
    T.eq(states(d[0]), [(1, "superseded"), (2, "active")], "R9: M1 handed over")
    T.eq(states(d[3]), [(1, "superseded"), (2, "active")], "R9: M2 handed over")
    # Each new root acts in its partition: M1's removes holder 4, M2's holder 1.
    r1 = one(d[0], "SELECT bec_root_propose('remove', ?)", g.pks[4])
    sync(M1)
    one(d[1], "SELECT bec_root_approve(?)", r1)
    steps(M1)
    r2 = one(d[3], "SELECT bec_root_propose('remove', ?)", g.pks[1])
    sync(M2)
    one(d[4], "SELECT bec_root_approve(?)", r2)
    steps(M2)
    allops = {}
    for x in d + [p2]:
        allops.update(ops_of(x))
    want = None
    for k in range(ORDERS):
        o = R.joined(d[0], "r9obs%d.db" % k)
        deliver(o, allops.values(), True)
        got = (members(o), states(o),
               sorted(o.execute("SELECT hash, valid FROM bec_ops WHERE kind='root'").fetchall()))
        if want is None:
            want = got
            T.eq([st for _, st in got[1]], ["disabled"] * 3, "R9: the root is disabled")
            T.eq([v for _, v in got[2]], [0] * 4, "R9: both hand-overs and both new roots' ops ignored")
            ms = dict(got[0])
            T.check(g.pks[1] in ms and g.pks[4] in ms, "R9: seniority applies again: both stay members")
        T.eq(got, want, "R9: delivery order %d" % k)
        T.eq(one(o, "SELECT bec_check()"), "ok", "R9: bec_check %d" % k)
        o.close()
    sync(d)
    T.raises(lambda: one(d[0], "SELECT bec_root_propose('remove', ?)", g.pks[3]),
             "no holder of an active root", "R9: nobody can sign once disabled")
    # R7: a request (and so any root op, whose one predecessor is a session
    # of a request) must have its epoch active in its past: a hand-made
    # request of the forked epoch is refused.
    args = bytes([2]) + bytes.fromhex(g.pks[3]) + bytes([0])
    e = ingest_err(d[0], make_op(g.keys[0], "root-request", heads(d[0]),
                                 bytes([1]) + bytes.fromhex(g.sid) + bytes([g.hid(0)]) + g.y + g.y + args,
                                 g.gid))
    T.check("its epoch is not active in the op's causal past" in e, "R7: %s" % e)


# ---------------------------------------------------------------------------
# becsync runs bec_root_step after each sync.

def test_becsync():
    becsync = os.environ.get("BEC_BECSYNC") or os.path.join(
        os.path.dirname(os.environ.get("BEC_EXT", "build/bec")), "becsync")
    if not os.path.exists(becsync):
        T.check(False, "becsync not found at %s" % becsync)
        return
    a = R.origin("bsa.db", decl=None)
    b = R.joined(a, "bsb.db")
    pb = one(b, "SELECT bec_pubkey()")
    one(a, "SELECT bec_add_member(?, 'member')", pb)
    sync([a, b])
    pa_path = a.execute("PRAGMA database_list").fetchall()[0][2]
    pa = one(a, "SELECT bec_pubkey()")
    a.close()
    a = connect(pa_path)      # a fresh connection: the key is not loaded yet
    one(a, "SELECT bec_root_open(2, json_array(?, ?))", pa, pb)
    pb_path = b.execute("PRAGMA database_list").fetchall()[0][2]
    a.close()
    b.close()
    env = dict(os.environ)
    for _ in range(3):
        p = subprocess.run([becsync, "--quiet", "sync", pa_path, "--exec",
                            "%s --stdio %s" % (becsync, pb_path)],
                           env=env, capture_output=True, text=True, timeout=60)
        T.eq(p.returncode, 0, "becsync: exit (%s)" % p.stderr.strip())
    a = connect(pa_path)
    b = connect(pb_path)
    T.eq(one(a, "SELECT count(*) FROM bec_ops WHERE kind='dkg-deal'"), 2,
         "becsync: both holders dealt (bec_root_step after each sync)")
    T.eq(one(a, "SELECT state FROM bec_root"), "active", "becsync: the root became active through syncs alone")
    T.eq(one(b, "SELECT state FROM bec_root"), "active", "becsync: on both replicas")


def test_becsync_files():
    """File-to-file becsync (becsync A.db B.db) runs bec_root_step on both
    files after the sync, as the network mode does: the key generation
    completes through file syncs alone."""
    becsync = os.environ.get("BEC_BECSYNC") or os.path.join(
        os.path.dirname(os.environ.get("BEC_EXT", "build/bec")), "becsync")
    a = R.origin("bfa.db", decl=None)
    b = R.joined(a, "bfb.db")
    pa, pb = one(a, "SELECT bec_pubkey()"), one(b, "SELECT bec_pubkey()")
    one(a, "SELECT bec_add_member(?, 'member')", pb)
    sync([a, b])
    one(a, "SELECT bec_root_open(2, json_array(?, ?))", pa, pb)
    paths = [d.execute("PRAGMA database_list").fetchall()[0][2] for d in (a, b)]
    a.close()
    b.close()
    logs = ""
    for _ in range(3):
        p = subprocess.run([becsync] + paths, capture_output=True, text=True, timeout=60)
        T.eq(p.returncode, 0, "becsync files: exit (%s)" % p.stderr.strip())
        logs += p.stdout + p.stderr
    a, b = connect(paths[0]), connect(paths[1])
    T.eq(one(a, "SELECT count(*) FROM bec_ops WHERE kind='dkg-deal'"), 2,
         "becsync files: both holders dealt (bec_root_step on both files)")
    T.eq([one(d, "SELECT state FROM bec_root") for d in (a, b)], ["active", "active"],
         "becsync files: the root became active through file syncs alone")
    T.check("threshold root: 1 ops made" in logs, "becsync files: the steps are logged: %r" % logs[-300:])
    T.eq(one(a, "SELECT group_concat(member) FROM bec_root_holders"), "1,1", "holders are members")
    T.check("re-key" not in logs, "becsync files: no re-key prompt while every holder is a member")
    # A removed holder's share still counts: becsync prompts for a re-key.
    one(a, "SELECT bec_remove_member(?)", pb)
    T.eq(one(a, "SELECT member FROM bec_root_holders WHERE pk=?", pb), 0, "the removed holder: member 0")
    a.close()
    b.close()
    p = subprocess.run([becsync] + paths, capture_output=True, text=True, timeout=60)
    T.check("no longer members" in p.stdout + p.stderr and "re-key" in p.stdout + p.stderr,
            "becsync files: prompts for a re-key: %r" % (p.stdout + p.stderr)[-300:])


def test_two_sessions():
    """R10: one commitment named in two sessions signs in one only."""
    g = Group("t2")
    d = g.dbs
    req = sign_one(g, [0, 1, 2, 3, 4], "add", Key(os.urandom(32)).hex, "member")
    sync(d)
    T.eq(one(d[0], "SELECT approvals FROM bec_root_requests"), 5, "two sessions: five approvals")
    by_id = sorted(range(5), key=g.hid)          # replica index of holder 1..5
    first = by_id[0]
    one(d[first], "SELECT bec_root_step()")      # posts S1 = holders 1, 2, 3, signs its share
    sync(d)
    commits = {}
    for h, a in d[0].execute("SELECT hash, author FROM bec_ops WHERE kind IN "
                             "('root-request', 'root-approve')"):
        commits[g.hid(g.pks.index(a))] = bytes.fromhex(h)
    s1 = [b for (b,) in d[0].execute("SELECT body FROM bec_ops WHERE kind='root-session'")]
    T.eq(len(s1), 1, "two sessions: S1 posted")
    # S2, made by holder 1 (its first signer): holders 1, 2 and 4.
    s2 = make_op(g.keys[first], "root-session", heads(d[0]),
                 bytes([1]) + bytes.fromhex(req) + bytes([3]) + commits[1] + commits[2] + commits[4],
                 g.gid)
    T.eq(ingest_err(d[0], s2), "stored", "two sessions: S2 accepted (a valid session)")
    steps(d)
    T.eq(one(d[3], "SELECT state FROM bec_root_requests"), "done", "two sessions: done")
    T.eq(d[3].execute("SELECT s.commit_seq, count(*) FROM bec_store_root_share sh JOIN "
                      "bec_store_root_signer s ON s.signing=sh.signing AND s.holder=sh.holder "
                      "GROUP BY s.commit_seq HAVING count(*)>1").fetchall(), [],
         "two sessions: no commitment signed twice")
    T.eq(one(d[3], "SELECT count(*) FROM bec_ops WHERE kind='root-share'"), 3,
         "two sessions: three shares, all in S1")
    T.eq(one(d[by_id[3]], "SELECT count(*) FROM bec_store_root_nonce"), 1,
         "two sessions: holder 4 did not sign in the dead S2 (its nonce is unused)")


test_sign()
test_r6()
test_hostile()
test_r10()
test_r8()
test_r9()
test_becsync()
test_becsync_files()
test_two_sessions()
R.cleanup()
T.done()
