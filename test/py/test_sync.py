"""Sync between replicas (issue 5): bec_sync_offer / bec_sync_apply, bec_peers.

    make && BEC_EXT=$PWD/build/bec /usr/bin/python3 test/py/test_sync.py

Replicas that write concurrently are copies of the creator's database (same
key and group): concurrent ops signed by one key are legal.  Messages that
lie are built with a small codec of the format in docs/sync.md, so these
tests also check the document.
"""
import os
import random
import shutil
import sqlite3
import tempfile

from bectest import T, connect, one
from becwire import F_KNOWS_ALL, decode_msg, encode_msg  # noqa: F401

TMP = tempfile.mkdtemp(prefix="bec_sync_")


# ---------------------------------------------------------------------------
# The message format, as docs/wire-format.md gives it (test/py/becwire.py).

def decode(b):
    m = decode_msg(b)
    T.check(m is not None, "decode consumed the whole message")
    return m


encode = encode_msg


# ---------------------------------------------------------------------------
# Replicas.

def path(name):
    return os.path.join(TMP, name + ".db")


def creator(name, nops=5):
    for suffix in ("", "-wal", "-shm", "-bec-key"):
        if os.path.exists(path(name) + suffix):
            os.remove(path(name) + suffix)
    db = connect(path(name))
    one(db, "SELECT bec_keygen()")
    gid = one(db, "SELECT bec_create_group()")
    for i in range(nops):
        one(db, "SELECT bec_sign(?)", b"base %d" % i)
    db.close()
    return gid


def copy(src, dst):
    """Another replica with the same identity: the file and its key file."""
    shutil.copy(path(src), path(dst))
    shutil.copy(path(src) + "-bec-key", path(dst) + "-bec-key")
    return connect(path(dst))


def write(db, n, tag):
    for i in range(n):
        one(db, "SELECT bec_sign(?)", ("%s %d %d" % (tag, i, random.random())).encode())


def heads(db):
    return [r[0] for r in db.execute("SELECT hash FROM bec_heads ORDER BY hash")]


def hb(db):
    return [bytes.fromhex(h) for h in heads(db)]


def nops(db):
    return one(db, "SELECT count(*) FROM bec_ops")


def offer(db, peer):
    return one(db, "SELECT bec_sync_offer(?)", peer)


def apply(db, peer, msg):
    return one(db, "SELECT bec_sync_apply(?, ?)", peer, msg)


def sync(a, a_names_b, b, b_names_a, limit=200):
    """The loop of issue 5 (a offers); returns the list of message sizes."""
    sizes = []
    m = offer(a, a_names_b)
    sizes.append(len(m))
    while m:
        m = apply(b, b_names_a, m)
        if m:
            sizes.append(len(m))
            m = apply(a, a_names_b, m)
            if m:
                sizes.append(len(m))
        T.check(len(sizes) < limit, "session ends")
        if len(sizes) >= limit:
            break
    return sizes


def same(dbs):
    h = [heads(d) for d in dbs]
    return all(x == h[0] for x in h) and len({nops(d) for d in dbs}) == 1


def checked(dbs, what):
    for d in dbs:
        T.eq(one(d, "SELECT bec_check()"), "ok", what + ": bec_check")


# ---------------------------------------------------------------------------
# Two replicas.

def test_two():
    creator("a")
    A = connect(path("a"))
    B = copy("a", "b")
    write(A, 7, "a")
    write(B, 9, "b")
    sizes = sync(A, "B", B, "A")
    T.check(same([A, B]), "two replicas converge")
    T.eq(nops(A), 1 + 5 + 7 + 9, "every op on both")
    T.check(len(sizes) <= 3, "first sync of two copies: %r messages" % sizes)
    checked([A, B], "two")
    # Reconnect, already in sync: 2 messages, few bytes.
    sizes = sync(A, "B", B, "A")
    T.eq(len(sizes), 2, "already in sync: messages")
    T.check(sum(sizes) <= 160, "already in sync: %d bytes" % sum(sizes))
    # Both sides changed: one round trip brings everything.
    write(A, 3, "a2")
    write(B, 4, "b2")
    m = offer(A, "B")
    r = apply(B, "A", m)
    T.eq(nops(B), 1 + 5 + 7 + 9 + 3 + 4, "B holds all after the offer")
    apply(A, "B", r)
    T.eq(nops(A), nops(B), "A holds all after one round trip")
    T.check(same([A, B]), "both changed: converge")
    # bec_peers and bec_sync_state.
    row = A.execute("SELECT peer, shared_heads, last_sync, ops_sent, ops_received,"
                    " rejected FROM bec_peers WHERE peer='B'").fetchone()
    T.check(row is not None, "bec_peers has B")
    import json
    T.eq(sorted(json.loads(row[1])), heads(A), "shared heads persisted")
    T.check(row[2] and row[2] > 0, "last sync time")
    T.check(row[3] >= 10 and row[4] >= 13, "ops sent/received counted: %r" % (row,))
    T.eq(row[5], 0, "no rejections")
    st = json.loads(one(A, "SELECT bec_sync_state('B')"))
    T.eq(st["in_sync"], 1, "state: in sync")
    # Shared heads survive a restart: reopen and reconnect.
    A.close()
    B.close()
    A = connect(path("a"))
    B = connect(path("b"))
    write(B, 2, "b3")
    sizes = sync(A, "B", B, "A")
    T.check(same([A, B]) and len(sizes) <= 3, "after restart: %r" % sizes)
    T.raises(lambda: offer(A, ""), "label", "empty peer label")
    T.raises(lambda: apply(A, "B", "text"), "blob", "message must be a blob")
    A.close()
    B.close()


def test_first_sync():
    gid = creator("f", nops=300)
    F = connect(path("f"))
    N = connect(path("n_new"))
    one(N, "SELECT bec_keygen()")
    one(N, "SELECT bec_join(?)", gid)
    sizes = sync(N, "F", F, "N")
    T.check(same([F, N]), "first sync of a joined replica")
    T.eq(nops(N), 301, "all ops arrived")
    checked([N], "first sync")
    # A replica with nothing: the big side offers first.
    M = connect(path("m_new"))
    one(M, "SELECT bec_keygen()")
    one(M, "SELECT bec_join(?)", gid)
    sync(F, "M", M, "F")
    T.check(same([F, M]), "first sync, holder offers")
    # No group: a clear error.
    Z = connect(path("z_nogroup"))
    one(Z, "SELECT bec_keygen()")
    T.raises(lambda: offer(Z, "F"), "bec_join", "no group")
    for d in (F, N, M, Z):
        d.close()


# ---------------------------------------------------------------------------
# Five and more replicas in topologies.

def make_replicas(prefix, n, writes):
    creator(prefix + "0")
    dbs = [connect(path(prefix + "0"))]
    for i in range(1, n):
        dbs.append(copy(prefix + "0", prefix + str(i)))
    for i, d in enumerate(dbs):
        write(d, writes, "%s%d" % (prefix, i))
    return dbs


def test_topologies():
    rng = random.Random(5)
    # Star around a relay: leaves sync with the relay only.
    dbs = make_replicas("star", 6, 4)
    relay, leaves = dbs[0], dbs[1:]
    for _ in range(2):
        for i, leaf in enumerate(leaves):
            sync(leaf, "relay", relay, "leaf%d" % i)
    T.check(same(dbs), "star converges")
    T.eq(nops(relay), 1 + 5 + 6 * 4, "star: all ops")
    checked(dbs, "star")
    for d in dbs:
        d.close()
    # A chain: forward, then back.
    dbs = make_replicas("chain", 6, 3)
    for i in range(5):
        sync(dbs[i], "c%d" % (i + 1), dbs[i + 1], "c%d" % i)
    for i in range(5, 0, -1):
        sync(dbs[i], "c%d" % (i - 1), dbs[i - 1], "c%d" % i)
    T.check(same(dbs), "chain converges")
    checked(dbs, "chain")
    for d in dbs:
        d.close()
    # Random pairs, with writes between syncs.
    dbs = make_replicas("rand", 7, 2)
    for step in range(60):
        i, j = rng.sample(range(7), 2)
        if step % 10 == 0:
            write(dbs[rng.randrange(7)], 2, "more%d" % step)
        sync(dbs[i], "r%d" % j, dbs[j], "r%d" % i)
    rounds = 0
    while not same(dbs) and rounds < 100:
        i, j = rng.sample(range(7), 2)
        sync(dbs[i], "r%d" % j, dbs[j], "r%d" % i)
        rounds += 1
    T.check(same(dbs), "random pairs converge (extra pairs: %d)" % rounds)
    checked(dbs, "random pairs")
    for d in dbs:
        d.close()


# ---------------------------------------------------------------------------
# Lost, duplicated, reordered messages and restarts.

def test_faults():
    rng = random.Random(7)
    dbs = make_replicas("fault", 2, 0)
    A, B = dbs
    errors = 0
    for trial in range(30):
        write(A, rng.randrange(0, 30), "fa%d" % trial)
        write(B, rng.randrange(0, 30), "fb%d" % trial)
        # A faulty transport: each message may be lost, sent twice, or held
        # back and delivered later; either side may restart.
        for attempt in range(20):
            queue = [("B", offer(A, "B"))]
            held = None
            steps = 0
            while queue and steps < 200:
                steps += 1
                to, m = queue.pop(0)
                r = rng.random()
                if r < 0.10:
                    continue                          # lost
                if r < 0.20:
                    queue.append((to, m))             # duplicated
                if r < 0.28 and held is None:
                    held = (to, m)                    # reordered: later
                    continue
                if r < 0.32:
                    # restart of the receiver: its session is gone
                    if to == "B":
                        B.close()
                        B = connect(path("fault1"))
                    else:
                        A.close()
                        A = connect(path("fault0"))
                db, peer = (B, "A") if to == "B" else (A, "B")
                try:
                    reply = apply(db, peer, m)
                except sqlite3.Error as e:
                    errors += 1
                    T.check("out of order" in str(e) or "no session" in str(e),
                            "a clean error for a stale message: %s" % e)
                    reply = None
                if reply:
                    queue.append(("A" if to == "B" else "B", reply))
                if held is not None and rng.random() < 0.5:
                    queue.append(held)
                    held = None
            if same([A, B]):
                break
        T.check(same([A, B]), "trial %d converges despite faults" % trial)
    T.check(errors > 0, "the faults were exercised (%d stale messages)" % errors)
    checked([A, B], "faults")
    A.close()
    B.close()


# ---------------------------------------------------------------------------
# Lying, withholding, replaying, garbage.

def test_liars():
    gid = creator("liar0")
    H1 = connect(path("liar0"))                # honest
    H2 = copy("liar0", "liar1")                # honest
    L = copy("liar0", "liar2")                 # the liar's replica
    write(H1, 5, "h1")
    write(H2, 6, "h2")
    write(L, 4, "l")

    # Lying heads: L claims H1's heads in answer to H1's offer.  H1 believes
    # L holds everything: L gets nothing, and H1 is not corrupted.
    m = decode(offer(H1, "L"))
    lie = dict(m, flags=F_KNOWS_ALL, round=1, heads=hb(H1), shared=hb(H1),
               filter=None, needs=[], ops=[])
    T.eq(apply(H1, "L", encode(lie)), None, "lying heads end the session")
    T.check(nops(L) == 1 + 5 + 4, "the liar got nothing it did not ask for")

    # An all-ones filter: H1 sends nothing it has; an all-zeros filter:
    # H1 sends what L lacks, and the session still ends.
    m = decode(offer(H1, "L"))
    base = dict(m, round=1, flags=0, heads=hb(L), shared=[], needs=[], ops=[])
    r = apply(H1, "L", encode(dict(base, filter=(64, 7, bytes([1]) + bytes(7), b"\xff" * 8))))
    T.eq(len(decode(r)["ops"]), 0, "all-ones filter: nothing sent")
    m = decode(offer(H1, "L"))
    r = apply(H1, "L", encode(dict(base, session=m["session"],
                                   filter=(64, 7, bytes([1]) + bytes(7), b"\x00" * 8))))
    T.check(len(decode(r)["ops"]) >= 5, "all-zeros filter: ops sent")

    # Lying needs: unknown hashes are ignored; needing the same op again and
    # again ends in a "no progress" error after a few rounds.
    m = decode(offer(H1, "L"))
    known = bytes.fromhex(one(H1, "SELECT hash FROM bec_ops LIMIT 1"))
    rnd = 1
    err = None
    for _ in range(20):
        msg = dict(m, round=rnd, flags=0, heads=hb(L), shared=[], filter=None,
                   needs=sorted([known, os.urandom(32)]), ops=[])
        try:
            r = apply(H1, "L", encode(msg))
        except sqlite3.Error as e:
            err = str(e)
            break
        rnd += 2
    T.check(err is not None and "no progress" in err,
            "repeated needs end the session: %r" % err)

    # Withholding predecessors: L sends only the newest of its ops.
    lops = [bytes(r[0]) for r in L.execute(
        "SELECT body FROM bec_ops WHERE kind='app' ORDER BY rowid DESC LIMIT 1")]
    m = decode(offer(H1, "L"))
    err = None
    rnd = 1
    for _ in range(20):
        msg = dict(m, round=rnd, flags=0, heads=hb(L), shared=[], filter=None,
                   needs=[], ops=lops)
        try:
            r = apply(H1, "L", encode(msg))
            if r is None:
                break
            T.check(len(decode(r)["needs"]) >= 1, "the missing predecessor is needed")
        except sqlite3.Error as e:
            err = str(e)
            break
        rnd += 2
    T.check(err is not None and "no progress" in err,
            "withholding ends the session: %r" % err)
    T.check(one(H1, "SELECT count(*) FROM bec_pending") >= 1, "the op waits")
    checked([H1], "after withholding")

    # Replay: a reply replayed is refused; an offer replayed only starts a
    # new session.  Neither changes what is stored.
    old = offer(H2, "H1")
    r = apply(H1, "H2", old)
    r2 = apply(H2, "H1", r)
    n1, n2 = nops(H1), nops(H2)
    T.raises(lambda: apply(H2, "H1", r), "out of order", "a reply replayed")
    if r2:
        apply(H1, "H2", r2)
        T.raises(lambda: apply(H1, "H2", r2), "", "a reply replayed twice")
    apply(H1, "H2", old)                       # a new session, harmlessly
    T.raises(lambda: apply(H2, "H1", r), "", "a reply from an old session")
    T.eq((nops(H1), nops(H2)), (n1, n2), "replay changed nothing")

    # Garbage, truncated, oversized.
    good = offer(H2, "H1")
    for n in range(0, len(good)):
        if n < 30 or n % 7 == 0:
            T.raises(lambda: apply(H1, "H2", good[:n]), "malformed",
                     "truncated at %d" % n)
    rng = random.Random(3)
    for _ in range(200):
        junk = bytearray(good)
        for _ in range(rng.randrange(1, 6)):
            junk[rng.randrange(len(junk))] = rng.randrange(256)
        try:
            apply(H1, "H2", bytes(junk))
        except sqlite3.Error:
            pass
    for _ in range(100):
        try:
            apply(H1, "H2", os.urandom(rng.randrange(1, 300)))
        except sqlite3.Error:
            pass
    T.raises(lambda: apply(H1, "H2", b"\x01" + b"\x00" * (64 * 1024 * 1024)),
             "too large", "oversized message")
    g = decode(good)
    T.raises(lambda: apply(H1, "H2", encode(dict(g, needs=[os.urandom(32)
                                                      for _ in range(4097)]))),
             "need", "too many needs")
    bad_op = dict(g, ops=[b"\x01\x04" + os.urandom(200)])
    r = apply(H1, "H2", encode(bad_op))        # rejected op, session goes on
    T.check(one(H1, "SELECT count(*) FROM bec_rejected") >= 1, "garbage op logged")
    T.check(one(H1, "SELECT rejected FROM bec_peers WHERE peer='H2'") >= 1,
            "bec_peers counts rejections")
    many = dict(g, ops=[b"\x01\x04" + os.urandom(150) for _ in range(40)])
    T.raises(lambda: apply(H1, "H2", encode(many)), "rejected",
             "too many rejected ops end the session")
    wrong = dict(g, tag=b"\x00" * 8)
    T.raises(lambda: apply(H1, "H2", encode(wrong)), "another group", "wrong group")
    checked([H1, H2], "after garbage")

    # Honest replicas still converge through each other, and the op L
    # withheld predecessors of is released once they arrive via H2... which
    # needs L's ops: an honest relay of L's replica brings them.
    sync(H1, "H2", H2, "H1")
    T.check(same([H1, H2]), "honest replicas converge")
    sync(H2, "L-honest", L, "H2")              # L's replica synced honestly
    sync(H1, "H2", H2, "H1")
    T.check(same([H1, H2, L]), "everyone converges through honest peers")
    T.eq(one(H1, "SELECT count(*) FROM bec_pending"), 0, "pending op released")
    checked([H1, H2, L], "liars")
    for d in (H1, H2, L):
        d.close()


def test_rounds_bound():
    creator("rb0")
    A = connect(path("rb0"))
    B = copy("rb0", "rb1")
    write(B, 3, "b")
    m = decode(offer(A, "B"))
    # A peer that always answers with new, unknown heads and nothing else.
    err = None
    rnd = 1
    for i in range(100):
        msg = dict(m, round=rnd, flags=0, heads=[os.urandom(32)], shared=[],
                   filter=(0, 0, b"", b""), needs=[], ops=[])
        try:
            apply(A, "B", encode(msg))
        except sqlite3.Error as e:
            err = str(e)
            break
        rnd += 2
    T.check(err is not None and i < 20, "a peer that never converges is cut "
            "off after %d rounds: %r" % (i, err))
    st = one(A, "SELECT last_error FROM bec_peers WHERE peer='B'")
    T.check(st is not None and "progress" in st, "bec_peers shows the error")
    A.close()
    B.close()


def has_membership():
    db = connect()
    try:
        return one(db, "SELECT count(*) FROM pragma_function_list "
                       "WHERE name='bec_add_member'") > 0
    finally:
        db.close()


def test_members():
    """Replicas with their own keys, added as members by the creator."""
    if not has_membership():
        print("note: bec_add_member not registered; member topologies skipped")
        return
    rng = random.Random(11)
    gid = creator("mem0", nops=2)
    dbs = [connect(path("mem0"))]
    for i in range(1, 6):
        d = connect(path("mem%d" % i))
        pk = one(d, "SELECT bec_keygen()")
        one(d, "SELECT bec_join(?)", gid)
        one(dbs[0], "SELECT bec_add_member(?, 'member')", pk)
        dbs.append(d)
    T.eq(one(dbs[0], "SELECT count(*) FROM bec_members"), 6, "six members")
    # Star: every member learns the group from the creator, then writes.
    for i in range(1, 6):
        sync(dbs[i], "m0", dbs[0], "m%d" % i)
        T.eq(one(dbs[i], "SELECT count(*) FROM bec_members"), 6,
             "member %d sees the members" % i)
    for i, d in enumerate(dbs):
        write(d, 3, "m%d" % i)
    for i in range(1, 6):
        T.eq(one(dbs[0], "SELECT bec_sync_peer_allowed(?)",
                 one(dbs[i], "SELECT bec_pubkey()")), 1, "a member is allowed")
    # Random pairs until all agree.
    steps = 0
    while not same(dbs) and steps < 200:
        i, j = rng.sample(range(6), 2)
        sync(dbs[i], "m%d" % j, dbs[j], "m%d" % i)
        steps += 1
    T.check(same(dbs), "members converge in random pairs (%d syncs)" % steps)
    T.eq(nops(dbs[0]), 1 + 2 + 5 + 6 * 3, "every member's ops everywhere")
    T.eq(one(dbs[3], "SELECT count(*) FROM bec_ops WHERE valid=0"), 0,
         "every op valid")
    checked(dbs, "members")
    # A removed member is no longer allowed; nor is an outsider.
    pk5 = one(dbs[5], "SELECT bec_pubkey()")
    one(dbs[0], "SELECT bec_remove_member(?)", pk5)
    T.eq(one(dbs[0], "SELECT bec_sync_peer_allowed(?)", pk5), 0,
         "a removed member is refused")
    outsider = connect(path("mem_out"))
    T.eq(one(dbs[0], "SELECT bec_sync_peer_allowed(?)",
             one(outsider, "SELECT bec_keygen()")), 0, "an outsider is refused")
    for d in dbs + [outsider]:
        d.close()


test_two()
test_members()
test_first_sync()
test_topologies()
test_faults()
test_liars()
test_rounds_bound()
shutil.rmtree(TMP, ignore_errors=True)
T.done()
