"""test_root_dkg.py - the threshold root's key generation as ops
(docs/root.md; THRESHOLD.md section 3, tests R3, R4, R5).

  R3  3-of-5 key generation over 5 replicas, ops delivered in random orders
      (partial deliveries interleaved with bec_root_step on random
      replicas, then observers that receive every op in a shuffled order):
      the same session, group key and PK_1..PK_5 everywhere, bec_check 'ok'.
  R4  a dealer seals a wrong share for one holder (built here by hand, with
      libsodium through ctypes, and signed with the dealer's key): the
      victim posts no ack and logs "dkg: bad share from holder i"; the
      session never activates; a new session without that dealer does.
  R5  a dealer posts two deals (two replicas with one key): every replica
      and every observer derives the same state whatever the order, and the
      session is active iff all n acks name the same deals.
  Rival sessions: two concurrent creator sessions that both complete are
      both disabled, in every order; a later open abandons both.
  An invalid open (an admin removes the creator concurrently): the
      session is disabled and holders have no work in it.
  An open after an active root is refused at acceptance; bec_check sees a
      damaged derived state.
  Hostile ops: malformed root-open, dkg-deal and dkg-ack payloads, a
  non-holder's deal, a non-creator's open, acks naming wrong deals or a
  wrong Y: each refused with its reason, never stored; random mutations of
  real deals and acks never crash and leave bec_check 'ok'.

BEC_ROOT_ORDERS (default 100) sets how many delivery orders R3 runs.
"""
import ctypes
import json
import os
import random
import sqlite3
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bectest import T, connect, one  # noqa: E402
from becwire import Key, KIND, decode_op, make_op, sodium  # noqa: E402

ORDERS = int(os.environ.get("BEC_ROOT_ORDERS", "100"))
rng = random.Random(int(os.environ.get("BEC_ROOT_SEED", "16")))
TMP = tempfile.mkdtemp(prefix="bec_root_")
BOX = 130


def file_replica(name):
    """A replica in a file, whose key (in the key file beside it) this test
    reads: (db, public key hex, Key)."""
    path = os.path.join(TMP, name + ".db")
    db = connect(path)
    db.execute("PRAGMA synchronous=OFF")
    pk = one(db, "SELECT bec_keygen()")
    with open(path + "-bec-key", "rb") as f:
        key = Key(f.read()[11:43])
    T.eq(key.hex, pk, "the key file holds the replica's key")
    return db, pk, key


def clone(db, name):
    """A copy of a file replica (its database and key file): a second
    device with the same identity."""
    src = db.execute("PRAGMA database_list").fetchall()[0][2]
    path = os.path.join(TMP, name + ".db")
    dst = sqlite3.connect(path)
    db.backup(dst)
    dst.close()
    with open(src + "-bec-key", "rb") as f:
        seed = f.read()
    fd = os.open(path + "-bec-key", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.write(fd, seed)
    os.close(fd)
    return connect(path)


def replica():
    db = connect()
    return db, one(db, "SELECT bec_keygen()")


def ops_of(db):
    return {h: b for h, b in db.execute("SELECT hash, body FROM bec_ops")}


def deliver(db, bodies, order_rng=None):
    """Ingests bodies (in a shuffled order if order_rng): the pending area
    takes any order."""
    bodies = list(bodies)
    if order_rng:
        order_rng.shuffle(bodies)
    for b in bodies:
        one(db, "SELECT bec_ingest(?)", b)


def sync_all(dbs):
    allops = {}
    for d in dbs:
        allops.update(ops_of(d))
    for d in dbs:
        have = set(ops_of(d))
        deliver(d, [b for h, b in allops.items() if h not in have])


class Group:
    """A creator and n-1 members, each its own replica, all synced.  files:
    {index: name} for the replicas whose key the test must know (keys)."""

    def __init__(self, n, files=None):
        files = files or {}
        self.dbs, self.pks, self.keys = [], [], {}
        for i in range(n):
            if i in files:
                db, pk, self.keys[i] = file_replica(files[i])
            else:
                db, pk = replica()
            self.dbs.append(db)
            self.pks.append(pk)
        self.group = one(self.dbs[0], "SELECT bec_create_group()")
        for pk in self.pks[1:]:
            one(self.dbs[0], "SELECT bec_add_member(?, 'member')", pk)
        for d in self.dbs[1:]:
            one(d, "SELECT bec_join(?)", self.group)
        sync_all(self.dbs)

    def open(self, k, holders):
        return one(self.dbs[0], "SELECT bec_root_open(?, ?)", k, json.dumps(holders))


def state(db):
    return (db.execute("SELECT * FROM bec_root ORDER BY session").fetchall(),
            db.execute("SELECT * FROM bec_root_holders ORDER BY session, id").fetchall())


def holder_id(pks, pk):
    return sorted(pks).index(pk) + 1


# ---------------------------------------------------------------------------
# R3: random delivery orders.

def r3_run(nobserve):
    g = Group(5)
    sid = g.open(3, g.pks)
    T.check(len(sid) == 64, "R3: bec_root_open returns the session id")
    dbs = g.dbs
    # Random partial deliveries between random replicas, interleaved with
    # steps on random replicas, until no replica has work left.
    for _ in range(200):
        a, b = rng.sample(range(5), 2)
        if rng.random() < 0.5:
            src = ops_of(dbs[a])
            have = set(ops_of(dbs[b]))
            miss = [x for h, x in src.items() if h not in have]
            deliver(dbs[b], rng.sample(miss, rng.randint(0, len(miss))), rng)
        else:
            one(dbs[a], "SELECT bec_root_step()")
        if all(one(d, "SELECT state FROM bec_root") == "active" for d in dbs):
            break
    for _ in range(3):
        sync_all(dbs)
        if sum(one(d, "SELECT bec_root_step()") for d in dbs) == 0:
            break
    sync_all(dbs)
    want = state(dbs[0])
    T.eq(len(want[0]), 1, "R3: one session")
    T.eq(want[0][0][5], "active", "R3: active")
    T.check(want[0][0][4] and all(r[4] for r in want[1]),
            "R3: group key and PK_1..PK_5 known")
    T.eq(len({r[4] for r in want[1]}), 5, "R3: five distinct PK_i")
    T.eq([r[3] for r in want[1]], [1] * 5, "R3: every holder confirmed")
    for i, d in enumerate(dbs):
        T.eq(state(d), want, "R3: replica %d has the same root" % i)
        T.eq(one(d, "SELECT bec_check()"), "ok", "R3: bec_check on replica %d" % i)
    T.eq(one(dbs[0], "SELECT count(*) FROM bec_ops WHERE kind IN ('dkg-deal', 'dkg-ack')"), 10,
         "R3: 2n ops")
    # Observers: every op, in a random order each.
    bodies = list(ops_of(dbs[0]).values())
    for _ in range(nobserve):
        o, _ = replica()
        one(o, "SELECT bec_join(?)", g.group)
        deliver(o, bodies, rng)
        T.eq(state(o), want, "R3: an observer in a random order")
        T.eq(one(o, "SELECT count(*) FROM bec_pending"), 0, "R3: nothing pending")
    T.eq(one(dbs[0], "SELECT bec_check()"), "ok", "R3: check")


def test_r3():
    runs = max(1, ORDERS // 10)
    for _ in range(runs):
        r3_run(max(1, ORDERS // runs - 1))


# ---------------------------------------------------------------------------
# Hand-made boxes and ops.

def seal_share(sid, i, j, share, ed_pk):
    """crypto_box_seal of the share plaintext to holder j's X25519 key."""
    xpk = ctypes.create_string_buffer(32)
    T.check(sodium.crypto_sign_ed25519_pk_to_curve25519(xpk, ed_pk) == 0, "x25519 key")
    m = b"bec-dkg-share-v1" + sid + bytes([i, j]) + share
    out = ctypes.create_string_buffer(len(m) + 48)
    sodium.crypto_box_seal(out, m, ctypes.c_ulonglong(len(m)), xpk)
    return out.raw


def resign(key, body, payload, group, preds=None):
    """body's op with another payload (and preds), signed by key."""
    m = decode_op(body)
    return make_op(key, m["kind"], m["preds"] if preds is None else preds, payload, group)


def deal_parts(payload):
    k, n = payload[34], payload[35]
    off = 36 + 32 * k + 64
    return k, n, off


def ingest_err(db, body):
    try:
        one(db, "SELECT bec_ingest(?)", body)
    except sqlite3.Error as e:
        return str(e)
    return None


# ---------------------------------------------------------------------------
# R4: a dealer seals a wrong share.

def test_r4():
    g = Group(5, {0: "creator4", 2: "dealer4"})
    dkey, ckey = g.keys[2], g.keys[0]
    dbs, pks = g.dbs, g.pks
    sid = g.open(3, pks)
    sync_all(dbs)
    dealer = holder_id(pks, pks[2])
    victim_idx = 4
    victim = holder_id(pks, pks[victim_idx])
    # The dealer's honest deal, made on a private copy and never sent.
    priv = clone(dbs[2], "dealer4-private")
    T.eq(one(priv, "SELECT bec_root_step()"), 1, "R4: the dealer deals")
    hd = one(priv, "SELECT hash FROM bec_ops WHERE kind='dkg-deal'")
    honest = one(priv, "SELECT body FROM bec_ops WHERE hash=?", hd)
    pay = decode_op(honest)["body"]
    k, n, off = deal_parts(pay)
    wrong = bytes(rng.getrandbits(8) for _ in range(31)) + b"\x01"
    box = seal_share(bytes.fromhex(sid), dealer, victim, wrong, bytes.fromhex(pks[victim_idx]))
    bad_pay = pay[:off + (victim - 1) * BOX] + box + pay[off + victim * BOX:]
    bad = resign(dkey, honest, bad_pay, bytes.fromhex(g.group))
    # Everyone (the dealer's public replica too) gets the bad deal only.
    deliver(dbs[2], [bad])
    for d in dbs:
        if d is not dbs[2]:
            one(d, "SELECT bec_root_step()")
    sync_all(dbs)
    for _ in range(2):
        for d in dbs:
            one(d, "SELECT bec_root_step()")
        sync_all(dbs)
    bad_id = decode_op(bad)["id"].hex()
    for i, d in enumerate(dbs):
        T.eq(one(d, "SELECT state FROM bec_root"), "generating", "R4: never active (replica %d)" % i)
        T.eq(one(d, "SELECT confirmed FROM bec_root_holders WHERE id=?", victim), 0,
             "R4: the victim is not confirmed")
        T.eq(one(d, "SELECT count(*) FROM bec_ops WHERE kind='dkg-ack'"), 4, "R4: four acks")
        T.eq(one(d, "SELECT bec_check()"), "ok", "R4: check")
    T.eq(one(dbs[victim_idx], "SELECT count(*) FROM bec_rejected WHERE hash=? AND reason=?",
             bad_id, "dkg: bad share from holder %d" % dealer), 1,
         "R4: the victim logs the bad dealer, once")
    T.eq(one(dbs[victim_idx], "SELECT count(*) FROM bec_ops WHERE kind='dkg-ack' AND author=?",
             pks[victim_idx]), 0, "R4: the victim posts no ack")
    T.eq(one(dbs[0], "SELECT count(*) FROM bec_rejected WHERE reason LIKE 'dkg:%'"), 0,
         "R4: only the victim can tell")
    # A new session without the dealer.
    rest = [pk for i, pk in enumerate(pks) if i != 2]
    sid2 = g.open(3, rest)
    sync_all(dbs)
    for _ in range(3):
        for d in dbs:
            one(d, "SELECT bec_root_step()")
        sync_all(dbs)
    want = state(dbs[0])
    T.eq([(r[0], r[5]) for r in want[0]], [(sid2, "active")],
         "R4: the new session is active, the old one abandoned")
    T.eq(len(want[1]), 4, "R4: four holders")
    for d in dbs:
        T.eq(state(d), want, "R4: the same root everywhere")
        T.eq(one(d, "SELECT bec_check()"), "ok", "R4: check after")
    # No third open while a root is active, locally or by a hand-made op
    # whose causal past holds the active session.
    T.raises(lambda: g.open(3, rest), "a root is active", "R4: open refused while active")
    heads = [bytes.fromhex(h) for (h,) in dbs[0].execute("SELECT hash FROM bec_heads")]
    pay = bytes([1, 3, 4]) + b"".join(bytes.fromhex(x) for x in sorted(rest))
    err = ingest_err(dbs[1], make_op(ckey, "root-open", heads, pay, bytes.fromhex(g.group)))
    T.check(err and "a root is active in the op's causal past" in err,
            "R4: a root-open after an active root is refused: %r" % err)
    # bec_check sees a damaged derived state.
    dbs[1].execute("UPDATE bec_store_root_session SET state='generating' WHERE state='active'")
    T.check("root: session of op" in one(dbs[1], "SELECT bec_check()"), "R4: bec_check sees damage")


# ---------------------------------------------------------------------------
# Two concurrent sessions of the creator (a stolen creator key opening a
# rival root): both complete, neither abandons the other, so both are
# disabled, in every order.

def test_rival_sessions():
    g = Group(5, {0: "creator-rival"})
    dbs, pks, ckey = g.dbs, g.pks, g.keys[0]
    heads = [bytes.fromhex(h) for (h,) in dbs[0].execute("SELECT hash FROM bec_heads")]
    sid1 = g.open(3, pks)
    pay = bytes([1, 2, 3]) + b"".join(bytes.fromhex(x) for x in sorted(pks[:3]))
    rival = make_op(ckey, "root-open", heads, pay, bytes.fromhex(g.group))
    deliver(dbs[0], [rival])
    sync_all(dbs)
    T.eq(one(dbs[1], "SELECT count(*) FROM bec_root WHERE state='generating'"), 2,
         "rivals: two sessions, concurrent, neither abandoned")
    for _ in range(3):
        for d in dbs:
            one(d, "SELECT bec_root_step()")
        sync_all(dbs)
    want = state(dbs[0])
    T.eq(sorted(r[5] for r in want[0]), ["disabled", "disabled"], "rivals: both complete, both disabled")
    T.check(all(r[4] is None for r in want[0]), "rivals: no group key shown")
    T.check(sid1 in [r[0] for r in want[0]], "rivals: the session ids")
    bodies = list(ops_of(dbs[0]).values())
    for _ in range(3):
        o, _ = replica()
        one(o, "SELECT bec_join(?)", g.group)
        deliver(o, bodies, rng)
        T.eq(state(o), want, "rivals: the same in any order")
        T.eq(one(o, "SELECT bec_check()"), "ok", "rivals: check")
    # A later open by the creator abandons both: a fresh start.
    sid3 = g.open(3, pks)
    T.eq([r[0] for r in state(dbs[0])[0]], [sid3], "rivals: a new open abandons both")


# ---------------------------------------------------------------------------
# R5: a dealer posts two deals.

def r5_run(split):
    g = Group(5, {1: "dealer5-%d" % split})
    dbs, pks = g.dbs, g.pks
    g.open(3, pks)
    sync_all(dbs)
    twin = clone(dbs[1], "dealer5-twin-%d" % split)
    for d in dbs + [twin]:
        one(d, "SELECT bec_root_step()")
    a = [b for h, b in ops_of(dbs[1]).items() if decode_op(b)["kind"] == "dkg-deal"][0]
    b = [x for h, x in ops_of(twin).items() if decode_op(x)["kind"] == "dkg-deal"][0]
    others = [i for i in range(5) if i != 1]
    if split:
        # Half the holders get one deal, half the other, before they ack.
        for n, i in enumerate(others):
            deliver(dbs[i], [a if n % 2 else b])
    else:
        for i in range(5):
            deliver(dbs[i], [a, b], rng)
    honest = {}
    for d in dbs:
        honest.update({h: x for h, x in ops_of(d).items() if decode_op(x)["kind"] == "dkg-deal"
                       and decode_op(x)["author"].hex() != pks[1]})
    for i in range(5):
        deliver(dbs[i], honest.values(), rng)
    for d in dbs:
        one(d, "SELECT bec_root_step()")
    deliver(dbs[0], [a, b] + list(ops_of(twin).values()))
    sync_all(dbs)
    for d in dbs:
        one(d, "SELECT bec_root_step()")
    sync_all(dbs)
    want = state(dbs[0])
    acks = [decode_op(x)["body"] for x in ops_of(dbs[0]).values() if decode_op(x)["kind"] == "dkg-ack"]
    holders_acked = {p[33] for p in acks}
    same = len({p[35:35 + 32 * 5] for p in acks}) == 1 and len(holders_acked) == 5
    T.eq(want[0][0][5], "active" if same else "generating",
         "R5 (split=%s): active iff all n acks name the same deals" % split)
    bodies = list(ops_of(dbs[0]).values())
    for d in dbs:
        T.eq(state(d), want, "R5: the same state on every holder")
        T.eq(one(d, "SELECT bec_check()"), "ok", "R5: check")
    for _ in range(5):
        o, _ = replica()
        one(o, "SELECT bec_join(?)", g.group)
        deliver(o, bodies, rng)
        T.eq(state(o), want, "R5: the same state in any arrival order")
    T.eq(one(dbs[0], "SELECT count(*) FROM bec_ops WHERE kind='dkg-deal' AND author=?", pks[1]), 2,
         "R5: both deals are stored")
    return same


def test_r5():
    T.check(r5_run(False), "R5: both deals seen before acking: all pick the same, active")
    T.check(not r5_run(True), "R5: a split view leaves the session generating")


# ---------------------------------------------------------------------------
# The open is the creator's admin op: an admin's removal of the creator
# concurrent with it makes it invalid (membership rule 3), and its session
# void ('disabled'), in every order.

def test_invalid_open():
    g = Group(3)
    dbs, pks = g.dbs, g.pks
    one(dbs[0], "SELECT bec_add_member(?, 'admin')", pks[1])
    sync_all(dbs)
    sid = g.open(2, pks)
    one(dbs[1], "SELECT bec_remove_member(?)", pks[0])
    sync_all(dbs)
    T.eq(one(dbs[2], "SELECT valid FROM bec_ops WHERE hash=?", sid), 0,
         "invalid open: membership cancels the open")
    for d in dbs[1:]:
        T.eq(one(d, "SELECT bec_root_step()"), 0, "invalid open: no work in a void session")
    want = state(dbs[2])
    T.eq([(r[0], r[5]) for r in want[0]], [(sid, "disabled")], "invalid open: disabled")
    bodies = list(ops_of(dbs[2]).values())
    for _ in range(3):
        o, _ = replica()
        one(o, "SELECT bec_join(?)", g.group)
        deliver(o, bodies, rng)
        T.eq(state(o), want, "invalid open: the same in any order")
        T.eq(one(o, "SELECT bec_check()"), "ok", "invalid open: check")


# ---------------------------------------------------------------------------
# Hostile ops.

def test_hostile():
    g = Group(5, {0: "creator", 3: "hostile"})
    ckey, mkey = g.keys[0], g.keys[3]
    dbs, pks = g.dbs, g.pks
    gid = bytes.fromhex(g.group)
    # An outsider, a second admin.
    adb, apk, akey = file_replica("admin2")
    one(dbs[0], "SELECT bec_add_member(?, 'admin')", apk)
    sync_all(dbs)
    holders = sorted(pks)
    heads = [bytes.fromhex(h) for (h,) in dbs[0].execute("SELECT hash FROM bec_heads")]

    def refused(body, want, what):
        d = dbs[0]
        before = one(d, "SELECT count(*) FROM bec_ops")
        err = ingest_err(d, body)
        T.check(err is not None and want in err, "%s: %r lacks %r" % (what, err, want))
        T.eq(one(d, "SELECT count(*) FROM bec_ops"), before, what + ": not stored")
        T.eq(one(d, "SELECT count(*) FROM bec_pending"), 0, what + ": not pending")

    def open_pay(k, keys, v=1):
        return bytes([v, k, len(keys)]) + b"".join(bytes.fromhex(x) for x in keys)

    good_open = open_pay(3, holders)
    refused(make_op(mkey, "root-open", heads, good_open, gid), "needs an admin",
            "root-open by a member")
    refused(make_op(akey, "root-open", heads, good_open, gid), "only the group's creator",
            "root-open by another admin")
    for pay, want, what in [
            (open_pay(3, holders, v=2), "unknown version", "version"),
            (open_pay(2, holders), "outside", "2k <= n"),
            (open_pay(1, holders[:1]), "outside", "n = 1"),
            (open_pay(6, holders), "outside", "k > n"),
            (open_pay(3, holders[::-1]), "strictly increasing", "unsorted keys"),
            (open_pay(3, holders[:4] + holders[3:4]), "strictly increasing", "a key twice"),
            (good_open + b"\0", "length", "a trailing byte"),
            (good_open[:-1], "length", "a truncated key"),
            (b"\x01", "truncated", "truncated header"),
            (b"", "truncated", "empty"),
            (open_pay(2, sorted([holders[0], "01" + "00" * 31, holders[1]])),
             "not a valid public key", "a key that is no point")]:
        refused(make_op(ckey, "root-open", heads, pay, gid), want, "root-open: " + what)
        T.check("malformed: root-open: " in ingest_err(dbs[0], make_op(ckey, "root-open", heads, pay, gid)),
                "root-open: %s: malformed" % what)
    # A real session and real deals to mutate.
    sid = g.open(3, pks)
    sync_all(dbs)
    for d in dbs:
        one(d, "SELECT bec_root_step()")
    mine = [x for x in ops_of(dbs[3]).values() if decode_op(x)["kind"] == "dkg-deal"][0]
    pay = decode_op(mine)["body"]
    k, n, off = deal_parts(pay)
    me = holder_id(pks, pks[3])
    sidb = bytes.fromhex(sid)
    preds = decode_op(mine)["preds"]

    def deal(p, key=mkey, pr=None):
        return make_op(key, "dkg-deal", preds if pr is None else pr, p, gid)

    lcanon = bytes.fromhex("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010")
    other = 1 if me != 1 else 2
    for p, want, what in [
            (b"\x02" + pay[1:], "malformed: dkg-deal: unknown version", "version"),
            (pay + b"\0", "malformed: dkg-deal: length", "trailing byte"),
            (pay[:-1], "malformed: dkg-deal: length", "short box"),
            (pay[:33] + b"\x00" + pay[34:], "malformed: dkg-deal: dealer 0", "dealer 0"),
            (pay[:33] + b"\x06" + pay[34:], "malformed: dkg-deal: dealer 6", "dealer 6"),
            (pay[:34] + b"\x04" + pay[35:], "malformed: dkg-deal: length", "k changed"),
            (pay[:36] + b"\xff" * 32 + pay[68:], "malformed: dkg-deal: commitment 0", "non-point commitment"),
            (pay[:off - 32] + lcanon + pay[off:], "malformed: dkg-deal: the proof's mu", "mu = L"),
            (pay[:off - 32] + bytes([pay[off - 32] ^ 1]) + pay[off - 31:], "proof of possession",
             "a wrong mu"),
            (pay[:1] + bytes(32) + pay[33:], "no root-open in the op's causal past", "unknown session"),
            (pay[:33] + bytes([other]) + pay[34:], "is not holder %d" % other, "another holder's id"),
            (pay[:35] + b"\x04" + pay[36:off] + pay[off:off + 4 * BOX],
             "the session is 3-of-5, the op says 3-of-4" if me <= 4 else "dealer 5 of 4",
             "n changed")]:
        refused(deal(p), want, "dkg-deal: " + what)
    # A deal whose predecessors do not reach the open.
    refused(deal(pay, pr=heads), "no root-open in the op's causal past", "dkg-deal before its open")
    # The outsider admin is a member but no holder: its deal is refused.
    refused(deal(pay, key=akey), "is not holder", "a non-holder's deal")
    # Acks: a real one to mutate, after every deal is known.
    sync_all(dbs)
    one(dbs[3], "SELECT bec_root_step()")
    ack = [x for x in ops_of(dbs[3]).values() if decode_op(x)["kind"] == "dkg-ack"][0]
    ap = decode_op(ack)["body"]
    apreds = decode_op(ack)["preds"]

    def ackop(p, pr=None):
        return make_op(mkey, "dkg-ack", apreds if pr is None else pr, p, gid)
    d1, d2 = ap[35:67], ap[67:99]
    for p, want, what in [
            (ap[:-32] + bytes.fromhex(pks[0]), "its Y is not the sum", "a wrong Y"),
            (ap[:35] + d2 + d1 + ap[99:], "deal 1 is not a deal of holder 1", "deals swapped"),
            (ap[:35] + d1 + d1 + ap[99:], "malformed: dkg-ack: deal 2 is named twice", "a deal twice"),
            (ap[:35] + decode_op(ack)["id"] + ap[67:], "deal 1 is not a deal", "an ack as a deal"),
            (ap + b"\0", "malformed: dkg-ack: length", "trailing byte"),
            (ap[:33] + b"\x00" + ap[34:], "malformed: dkg-ack: holder 0", "holder 0"),
            (ap[:34] + b"\x01" + ap[35:], "malformed: dkg-ack: 1 holders", "n = 1"),
            (ap[:-32] + b"\xff" * 32, "malformed: dkg-ack: Y is not a valid point", "Y no point")]:
        refused(ackop(p), want, "dkg-ack: " + what)
    refused(ackop(ap, pr=preds), "is not a deal of holder", "an ack before the deals")
    # Random mutations of a real deal and ack, re-signed: refused or stored,
    # never a crash, and the state stays checkable.
    mrng = random.Random(5)
    for i in range(150):
        src, kind = (pay, "dkg-deal") if i % 2 else (ap, "dkg-ack")
        b = bytearray(src)
        for _ in range(mrng.randint(1, 4)):
            b[mrng.randrange(len(b))] = mrng.randrange(256)
        if mrng.random() < 0.2:
            b = b[:mrng.randrange(len(b))]
        ingest_err(dbs[0], make_op(mkey, kind, apreds if kind == "dkg-ack" else preds, bytes(b), gid))
    T.eq(one(dbs[0], "SELECT bec_check()"), "ok", "mutations: bec_check")
    T.eq(one(dbs[0], "SELECT count(*) FROM bec_pending"), 0, "mutations: nothing pending")
    # Local misuse of bec_root_open.
    c = dbs[0]
    T.raises(lambda: one(dbs[1], "SELECT bec_root_open(3, ?)", json.dumps(pks)),
             "only the group's creator", "bec_root_open by a member")
    T.raises(lambda: one(c, "SELECT bec_root_open(2, ?)", json.dumps(pks)), "2k > n", "2k <= n")
    T.raises(lambda: one(c, "SELECT bec_root_open(3, ?)", json.dumps(pks[:4] + pks[:1])),
             "named twice", "a holder twice")
    T.raises(lambda: one(c, "SELECT bec_root_open(3, ?)", json.dumps(pks[:4] + ["00" * 32])),
             "not a current member", "a non-member")
    T.raises(lambda: one(c, "SELECT bec_root_open(3, ?)", json.dumps(pks[:4] + [5])),
             "not a public key", "a number")
    T.raises(lambda: one(c, "SELECT bec_root_open(3, 'nope')"), "JSON array", "not JSON")
    T.raises(lambda: one(c, "SELECT bec_root_open('3', ?)", json.dumps(pks)), "k must be an integer",
             "k as text")
    T.eq(one(c, "SELECT count(*) FROM bec_root"), 1, "misuse made no session")
    c.execute("CREATE VIEW v AS SELECT bec_root_step()")
    T.raises(lambda: one(c, "SELECT * FROM v"), "unsafe use", "bec_root_step is DIRECTONLY")


test_r3()
test_r4()
test_r5()
test_rival_sessions()
test_invalid_open()
test_hostile()
T.done()
