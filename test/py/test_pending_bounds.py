"""test_pending_bounds.py - outsiders cannot fill the pending area (issue 11,
class 5).

    make && BEC_EXT=$PWD/build/bec /usr/bin/python3 test/py/test_pending_bounds.py

Ops signed by keys that are not members, naming predecessors that do not
exist, are hand-made with test/py/becwire.py and flood a replica's pending
area.  The rule (docs/sync.md, "The pending area"): at most
pending_key_max_ops ops per signing key; when the whole area is full, an op of
a known key (one that signed a stored op or was added or removed by one)
evicts ops of unknown keys, from the unknown key holding the most bytes
first, then in descending hash order; an op of an unknown key evicts
nothing.  Eviction forgets an op that was never stored, so convergence only
costs a re-fetch.
"""
import os
import sqlite3
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bectest import T, connect, one  # noqa: E402
from becwire import Key, blake, make_op  # noqa: E402

MAX_OPS, KEY_MAX = 20, 5


def replica(group=None):
    db = connect()
    one(db, "SELECT bec_keygen()")
    if group:
        one(db, "SELECT bec_join(?)", group)
    return db


def body(db, h):
    return one(db, "SELECT bec_op(?)", h)


def ingest(db, b):
    """None if stored or parked, else the error text."""
    try:
        one(db, "SELECT bec_ingest(?)", b)
        return None
    except sqlite3.Error as e:
        return str(e)


def pending(db):
    return {r[0] for r in db.execute("SELECT hex(hash) FROM bec_store_pending")}


def pending_by_key(db):
    return dict(db.execute("SELECT hex(author), count(*) FROM bec_store_pending"
                           " GROUP BY author").fetchall())


def ops(db):
    return sorted(r[0] for r in db.execute("SELECT hash FROM bec_ops"))


def limited(db):
    one(db, "SELECT bec_config('pending_max_ops', ?)", MAX_OPS)
    one(db, "SELECT bec_config('pending_key_max_ops', ?)", KEY_MAX)
    return db


# --- a group: admin A, member M; B is a replica that knows both ----------------
A = replica()
gid = one(A, "SELECT bec_create_group()")
M = replica(gid)
one(M, "SELECT bec_ingest(?)", body(A, gid))
add_m = one(A, "SELECT bec_add_member(?, 'member')", one(M, "SELECT bec_pubkey()"))
one(M, "SELECT bec_ingest(?)", body(A, add_m))
G = bytes.fromhex(gid)
base = [gid, add_m]


def fresh_b():
    b = limited(replica(gid))
    for h in base:
        one(b, "SELECT bec_ingest(?)", body(A, h))
    return b


T.eq(one(A, "SELECT bec_config('pending_key_max_ops')"), 1000, "per-key default")
T.eq(one(A, "SELECT bec_config('pending_key_max_bytes')"), 8 * 1024 * 1024,
     "per-key bytes default")
T.raises(lambda: A.execute("SELECT bec_config('pending_key_max_ops', 0)"),
         "at least 1", "per-key bound is at least 1")

# The outsiders' flood: 8 keys x 8 ops, each naming a predecessor that
# nobody has (and the create op, so it looks like part of the group).
outsiders = [Key(bytes([0x40 + i]) * 32) for i in range(8)]
flood = []
for i, k in enumerate(outsiders):
    for j in range(8):
        ghost = blake(b"ghost %d %d" % (i, j))
        flood.append((k, make_op(k, "app", [G, ghost], b"junk %d %d" % (i, j), G)))

# --- the per-key bound, and an outsider flood filling the area ----------------
B = fresh_b()
refused_key, refused_full = 0, 0
for k, b in flood:
    err = ingest(B, b)
    if err is None:
        continue
    if "pending area full for this key" in err:
        refused_key += 1
    elif "pending area full" in err:
        refused_full += 1
        T.check("unknown" in err, "an outsider's refusal says its key is unknown: %s" % err)
    else:
        T.check(False, "unexpected refusal: %s" % err)
T.eq(len(pending(B)), MAX_OPS, "the flood fills the area to its bound")
T.check(max(pending_by_key(B).values()) <= KEY_MAX, "per-key bound holds under the flood")
T.eq(refused_key, 4 * (8 - KEY_MAX), "each outsider's ops beyond its bound refused for the key")
T.eq(refused_full, 4 * 8, "once full, the other outsiders' ops are refused")
T.eq(one(B, "SELECT count(*) FROM bec_rejected WHERE reason LIKE 'pending area full%'"),
     refused_key + refused_full, "refusals logged")

# --- honest out-of-order ops of known keys still get in -----------------------
# M signs a chain; B receives it newest first, so every op but the first
# waits for its predecessor.
m_ops = [one(M, "SELECT bec_sign(?)", b"m%d" % i) for i in range(KEY_MAX + 2)]
a_ops = [one(A, "SELECT bec_sign(?)", b"a%d" % i) for i in range(3)]
before = pending(B)
for h in reversed(m_ops[1:KEY_MAX + 1]):        # KEY_MAX ops of M, out of order
    err = ingest(B, body(M, h))
    T.check(err is None, "a member's out-of-order op is never refused while an "
                         "outsider's op waits: %s" % err)
for h in reversed(a_ops[1:]):                   # and A's, out of order
    err = ingest(B, body(A, h))
    T.check(err is None, "the admin's out-of-order op is parked: %s" % err)
held = pending(B)
T.eq(len(held), MAX_OPS, "the area stays at its bound")
T.check({h.upper() for h in m_ops[1:KEY_MAX + 1] + a_ops[1:]} <= held,
        "the known keys' ops wait in the area")
T.eq(len(before - held), KEY_MAX + 2, "exactly as many outsider ops evicted")
T.check(max(pending_by_key(B).values()) <= KEY_MAX, "per-key bound holds")
T.eq(one(B, "SELECT count(*) FROM bec_store_pending_missing m WHERE NOT EXISTS"
            " (SELECT 1 FROM bec_store_pending p WHERE p.hash=m.hash)"), 0,
     "an evicted op leaves no missing link behind")
# A known key's own bound still holds: M's next op is refused for its key,
# without evicting anything (a refusal is no verdict: it may come again).
err = ingest(B, body(M, m_ops[KEY_MAX + 1]))
T.check(err is not None and "for this key" in err, "a member's own bound holds: %s" % err)
T.eq(pending(B), held, "a refusal evicts nothing")

# --- the predecessors arrive: everything converges -----------------------------
one(B, "SELECT bec_ingest(?)", body(M, m_ops[0]))
one(B, "SELECT bec_ingest(?)", body(A, a_ops[0]))
one(B, "SELECT bec_ingest(?)", body(M, m_ops[KEY_MAX + 1]))   # comes again
T.eq(pending(B) & {h.upper() for h in m_ops + a_ops}, set(), "nothing honest waits")
C = replica(gid)                      # a replica that got everything in order
for h in base + m_ops:
    one(C, "SELECT bec_ingest(?)", body(M, h))
for h in a_ops:
    one(C, "SELECT bec_ingest(?)", body(A, h))
T.eq(ops(B), ops(C), "same op set as a replica that saw no flood")
T.eq(one(B, "SELECT bec_check()"), "ok", "bec_check after the flood")
T.eq(len(pending(B)), MAX_OPS - (KEY_MAX + 2), "only outsider ops still wait")
T.check(all(v <= KEY_MAX for v in pending_by_key(B).values()), "all remaining under the bound")

# --- eviction is a function of what waits, not of arrival order ----------------
# Two replicas get the same 20 outsider ops (4 keys x 5) in opposite orders,
# then the same honest ops: the same outsider ops survive.
fits = [b for k, b in flood if k in outsiders[:4]]
fits = [b for i, b in enumerate(fits) if i % 8 < KEY_MAX]
survivors = []
for order in (fits, list(reversed(fits))):
    r = fresh_b()
    for b in order:
        T.check(ingest(r, b) is None, "an outsider op within the bounds is parked")
    for h in reversed(m_ops[1:4]):
        T.check(ingest(r, body(M, h)) is None, "honest op parked")
    survivors.append(pending(r))
T.eq(survivors[0], survivors[1], "the same ops are evicted whatever the arrival order")

# An outsider's op whose missing predecessor is an honest op waits, is
# released when that op arrives, and is then refused as unauthorized.
r = fresh_b()
o = outsiders[0]
ob = make_op(o, "app", [bytes.fromhex(a_ops[0])], b"outsider on honest", G)
T.check(ingest(r, ob) is None, "outsider op parked on a missing honest op")
one(r, "SELECT bec_ingest(?)", body(A, a_ops[0]))
T.eq(len(pending(r)), 0, "released when the predecessor arrives")
T.check(one(r, "SELECT count(*) FROM bec_rejected WHERE reason LIKE 'unauthorized%'") >= 1,
        "then refused as unauthorized")
T.eq(one(r, "SELECT bec_check()"), "ok", "bec_check")

# --- opening an up-to-date database writes nothing ----------------------------
# A relay's new connections read while another session writes: setting up
# bec's storage (the pending area's column and indexes included) must not
# need the write lock, or those reads fail with "database is locked".
import tempfile  # noqa: E402
path = os.path.join(tempfile.mkdtemp(prefix="bec_pend_"), "r.db")
r = connect(path)
one(r, "SELECT bec_keygen()")
one(r, "SELECT bec_create_group()")
r.execute("PRAGMA journal_mode=WAL")
T.eq(one(r, "SELECT count(*) FROM pragma_index_list('bec_store_pending')"
            " WHERE name='bec_store_pending_author'"), 1, "the pending area's author index")
r.execute("BEGIN IMMEDIATE")          # another session holds the write lock
r2 = connect(path)
try:
    T.eq(one(r2, "SELECT count(*) FROM bec_members"), 1,
         "a new connection reads bec_members while another holds the write lock")
except sqlite3.Error as e:
    T.check(False, "a new connection reads without the write lock: %s" % e)
r.execute("ROLLBACK")
r2.close()
r.close()

T.done()
