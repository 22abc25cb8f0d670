"""bytesim.py - seeded Byzantine simulation of bec replicas (issue 6).

    BEC_EXT=$PWD/build/bec /usr/bin/python3 test/sim/bytesim.py --seed 17 -v
    BEC_EXT=$PWD/build/bec /usr/bin/python3 test/sim/bytesim.py --seeds 0-999

N honest and M Byzantine replicas (default 6 + 3), every one a real bec
database in memory, run under a scheduler driven by one seeded
random.Random.  libsodium's random source is replaced, for this process, by
a stream drawn from the seed (randombytes_set_implementation), so keys,
group nonces, sync session ids and Bloom filter seeds are the same on every
run: a seed replays exactly, on the same build.

What happens in a run (see Sim.step):
  * honest replicas write to two bec tables (INSERT, UPDATE, DELETE, several
    statements in one transaction, rollbacks), sign app ops, and admins add,
    promote, demote and remove members (Byzantine ones included);
  * random pairs sync with bec_sync_offer / bec_sync_apply in process; the
    network drops, duplicates and reorders messages;
  * Byzantine replicas are members (one of them an admin) with their own
    databases, which they fork (copies made with the backup API), and:
      - equivocate: two forks sign conflicting writes / membership changes
        on the same predecessors, each shown to a different honest peer;
      - forge: flip bits of a fresh op's signature, author or payload;
      - sign as outsiders: keys nobody ever added sign app, add, remove and
        a second create op, on top of real heads;
      - back-date: after being removed, sign ops (writes, counter-removals)
        on an old snapshot of their database;
      - withhold predecessors: send ops without their parents, ignore needs;
      - lie in sync: rewrite heads, shared lists, filters, needs, flags and
        rounds of their own messages, or corrupt their bytes;
      - replay captured messages (to any peer, under any label);
      - flood: many valid ops, junk messages, many rejected or pending ops.
With --root (Sim.root_phase, run right after set-up): a 3-of-5 threshold
root held by H0..H3 and B0, who equivocates (two deals and two acks from two
forks, two nonce commitments for one request, a share with a wrong z, and
maybe two sessions); H1..H3 sign the root's removal of H0, the creator and
most senior member, while H0, cut off, keeps writing and adding.  The end
also checks that the removal acts and H0's cut-off ops are ignored on every
honest replica (the reference model, which knows no root, is skipped).
At the end every honest replica syncs with every other (a few fault-free
passes), and the run checks, for all honest replicas: identical heads, op
sets with identical valid flags, members, tables, rows and conflicts;
bec_check() is 'ok'; no op that must fail acceptance (forged, outsider,
second create, wrong group) is stored; a fault-free session between two
honest replicas ends with equal heads; a fresh replica that syncs from
scratch derives the same state; and the valid flags and members agree with
the reference model of the membership rules (test/membership/refmodel.py)
when the DAG is small enough for it.

Checkpoints (--checkpoints, issue 17; docs/compaction.md): at a third and
at two thirds of the run (Sim.ckpt_round), after a fault-free honest sync,
an honest admin signs a checkpoint and a Byzantine member signs an attest
of it with a false digest (the lying attester).  The honest replicas sync
(they attest and dispute by themselves) until it seals (k admins of the
cut); then 1-3 of them prune (bec_prune), and, after the first seal, B0
signs a removal of an honest writer of the cut, backdated on its early
snapshot, which every honest replica ingests: no row and no validity of an
op in the sealed cut may change.  The second checkpoint's cut holds the
first (nested); the pruned replicas prune again below it.  The end also
checks: the checkpoints (digest, attestations, sealed, k) agree on every
honest replica, pruned or not, and on the fresh one; every lie is listed
in bec_disputes, verified, on every replica that did not prune, and some
honest member signed a dispute op naming it; pruned replicas converge with
the others and check ok.  The reference model (which knows no sealing) is
skipped once a checkpoint is sealed.  Last, snapshot joiners
(Sim.check_snapshot_join): each meets a Byzantine provider whose messages
are tampered with, then an honest one (unpruned, and pruned when one is),
and ends with its rows, members, conflicts, heads and the validity of
every op it holds.

Encrypted groups (--encrypted, issue 15): H0 makes the group with
bec_create_group('encrypted'), so every schema and write op is an envelope,
removals rotate the key, adds hand it on and syncs heal.  Then all honest
replicas must hold the same heads, ops and members and agree on validity
under the membership rules; those holding the same seeds (bec_epochs.i_hold)
must agree on everything (reasons, rows, conflicts, bec_locked); every honest
current reader must hold every seed the others hold; the fresh replica is a
relay (no key): same ops, no table.
"""
import ctypes
import ctypes.util
import hashlib
import os
import random
import sqlite3
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "test", "membership"))
sys.dont_write_bytecode = True

# ---------------------------------------------------------------------------
# Deterministic randomness for libsodium (and so for bec) in this process.

_sodium = ctypes.CDLL(ctypes.util.find_library("sodium") or "libsodium.so.23")


class _RandImpl(ctypes.Structure):
    _fields_ = [("implementation_name", ctypes.c_void_p),
                ("random", ctypes.c_void_p),
                ("stir", ctypes.c_void_p),
                ("uniform", ctypes.c_void_p),
                ("buf", ctypes.c_void_p),
                ("close", ctypes.c_void_p)]


_rand_stream = random.Random(0)
_NAME = ctypes.CFUNCTYPE(ctypes.c_char_p)(lambda: b"bytesim")
_RANDOM = ctypes.CFUNCTYPE(ctypes.c_uint32)(lambda: _rand_stream.getrandbits(32))
_STIR = ctypes.CFUNCTYPE(None)(lambda: None)
_UNIFORM = ctypes.CFUNCTYPE(ctypes.c_uint32, ctypes.c_uint32)(
    lambda ub: _rand_stream.randrange(ub) if ub > 1 else 0)


def _buf(p, n):
    if n:
        ctypes.memmove(p, _rand_stream.getrandbits(8 * n).to_bytes(n, "little"), n)


_BUF = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_size_t)(_buf)
_CLOSE = ctypes.CFUNCTYPE(ctypes.c_int)(lambda: 0)
_impl = _RandImpl(*[ctypes.cast(f, ctypes.c_void_p) for f in
                    (_NAME, _RANDOM, _STIR, _UNIFORM, _BUF, _CLOSE)])
if os.environ.get("BEC_SIM_REAL_RANDOM") != "1":
    _sodium.randombytes_set_implementation(ctypes.byref(_impl))
if _sodium.sodium_init() < 0:
    raise SystemExit("libsodium failed to initialize")


def reseed_sodium(seed):
    _rand_stream.seed("sodium/%d" % seed)


# ---------------------------------------------------------------------------
# Ops and sync messages made by hand: test/py/becwire.py (docs/wire-format.md).
# Imported after the randomness above is installed, so that libsodium is
# initialised with it.

sys.path.insert(0, os.path.join(ROOT, "test", "py"))
from becwire import (F_FILTER, F_KNOWS_ALL, F_OFFER, F_SAME_HEADS,  # noqa: E402,F401
                     F_SHARED_IS_HEADS, KIND, Key, blake, decode_msg, decode_op,
                     encode_msg, make_op, op_id, read_varint, uvarint)
from bectest import load_bec, one  # noqa: E402


# ---------------------------------------------------------------------------
# Replicas.

def open_db(src=None):
    """A bec database in memory; a copy of src (backup API) if given."""
    db = sqlite3.connect(":memory:", isolation_level=None)
    if src is not None:
        src.backup(db)
    return load_bec(db)


class Rep:
    def __init__(self, name, honest, db=None):
        self.name = name
        self.honest = honest
        self.db = db or open_db()
        self.pub = None
        self.keyfile = None    # Byzantine replicas: their forks sign too

    def use_keyfile(self, path):
        self.keyfile = path
        self.q("SELECT bec_key_file(?)", path)

    def q(self, sql, *args):
        return one(self.db, sql, *args)


def heads(db):
    return [r[0] for r in db.execute("SELECT hash FROM bec_heads ORDER BY hash")]


def hset(db):
    return {r[0] for r in db.execute("SELECT hash FROM bec_ops")}


def table_names(db):
    return [r[0] for r in db.execute(
        "SELECT name FROM sqlite_master WHERE type='table' AND sql LIKE 'CREATE VIRTUAL TABLE%' "
        "AND name NOT LIKE 'bec_%' ORDER BY name")]


def snapshot(db, encrypted=False):
    """Everything that must agree between honest replicas holding the same
    ops (and, in an encrypted group, the same seeds), as comparable Python
    values."""
    s = {}
    if encrypted:
        s["reasons"] = sorted(db.execute("SELECT hash, reason FROM bec_ops"))
        s["locked"] = sorted(db.execute("SELECT op, epochs, reason FROM bec_locked"))
        s["held"] = sorted(db.execute("SELECT epoch FROM bec_epochs WHERE i_hold"))
    s["heads"] = heads(db)
    s["ops"] = sorted(db.execute("SELECT hash, valid FROM bec_ops"))
    s["members"] = sorted(db.execute("SELECT pubkey, role, rank, added_by, added_in FROM bec_members"))
    s["tables"] = {}
    for t in table_names(db):
        try:
            s["tables"][t] = sorted(db.execute('SELECT * FROM "%s"' % t), key=repr)
        except sqlite3.Error as e:
            s["tables"][t] = "error: %s" % e
    s["conflicts"] = sorted(db.execute("SELECT * FROM bec_conflicts"), key=repr)
    s["checkpoints"] = sorted(db.execute(
        "SELECT checkpoint, digest, attestations, sealed, k FROM bec_checkpoints"))
    return s


def past_of(db, h):
    """The hashes (hex) of the causal past of op h, without h: its cut."""
    import json
    deps = {x: json.loads(d) for x, d in db.execute("SELECT hash, deps FROM bec_ops")}
    seen, todo = set(), list(deps.get(h, []))
    while todo:
        x = todo.pop()
        if x not in seen:
            seen.add(x)
            todo.extend(deps.get(x, []))
    return seen


def describe_diff(a, b):
    out = []
    for k in a:
        if a[k] != b[k]:
            if k == "tables":
                for t in sorted(set(a[k]) | set(b[k])):
                    if a[k].get(t) != b[k].get(t):
                        out.append("table %s: %r != %r" % (t, str(a[k].get(t))[:300], str(b[k].get(t))[:300]))
            elif k == "ops":
                da = dict(a[k])
                db_ = dict(b[k])
                diff = [(h[:12], da.get(h), db_.get(h)) for h in sorted(set(da) | set(db_))
                        if da.get(h) != db_.get(h)]
                out.append("ops (hash, valid, valid): %r" % diff[:8])
            else:
                out.append("%s: %r != %r" % (k, str(a[k])[:300], str(b[k])[:300]))
    return "; ".join(out)


# ---------------------------------------------------------------------------
# The simulation.

class Sim:
    def __init__(self, seed, n_honest=6, n_byz=3, steps=None, verbose=False, root=False, encrypted=False,
                 checkpoints=False):
        self.seed = seed
        self.root = root       # run root_phase (a threshold root) after set-up
        self.encrypted = encrypted
        self.checkpoints = checkpoints   # ckpt_round twice (issue 17)
        salt = (1000003 if root else 0) + (2000003 if checkpoints else 0)
        self.rng = random.Random(seed + salt)
        reseed_sodium(seed + salt)
        self.ckpts = []        # checkpoint hashes signed (hex)
        self.lies = {}         # lying attest hash (hex) -> its checkpoint
        self.pruned = set()    # names of the honest replicas that pruned
        self.verbose = verbose
        self.n_honest = n_honest
        self.n_byz = n_byz
        self.steps = steps if steps is not None else (
            self.rng.randint(15, 35) if root else self.rng.randint(40, 110))
        self.fails = []
        self.stats = {}
        self.bad = {}          # hash hex -> why it must never be stored
        self.must = set()      # hash hex of ops every honest replica must store
        self.pool = []         # captured sync messages (for replays)
        self.errors = {}       # error text (truncated) -> count

    # -- helpers --------------------------------------------------------
    def log(self, *a):
        if self.verbose:
            print("  " + " ".join(str(x) for x in a))

    def count(self, what, n=1):
        self.stats[what] = self.stats.get(what, 0) + n

    def err(self, e, where=""):
        self.last_error = str(e)
        k = str(e)[:70]
        self.log("error%s:" % (" at " + where if where else ""), str(e)[:120])
        self.errors[k] = self.errors.get(k, 0) + 1
        for bad in ("disk image is malformed", "SQL logic error", "misuse", "out of memory",
                    "unable to open", "no such table: bec_store", "interrupted", "constraint failed"):
            if bad in str(e):
                self.fail("unexpected error: %s" % e)

    def fail(self, what):
        self.fails.append(what)
        if self.verbose:
            print("  FAIL " + what)

    def honest_reps(self):
        return self.reps[:self.n_honest]

    # -- set-up ---------------------------------------------------------
    def setup(self):
        rng = self.rng
        self.reps = [Rep("H%d" % i, True) for i in range(self.n_honest)]
        self.byz = [Rep("B%d" % i, False) for i in range(self.n_byz)]
        h0 = self.reps[0]
        # A Byzantine replica's key goes to a key file (never in its
        # database): its forks, copies of the database, sign with it, and
        # the simulation reads it to hand-make ops.
        self.keydir = tempfile.TemporaryDirectory(prefix="bec_sim_")
        for b in self.byz:
            b.use_keyfile(os.path.join(self.keydir.name, b.name + ".key"))
        for r in self.reps + self.byz:
            r.pub = r.q("SELECT bec_keygen()")
        self.group_hex = h0.q("SELECT bec_create_group(%s)" % ("'encrypted'" if self.encrypted else ""))
        self.group = bytes.fromhex(self.group_hex)
        h0.db.execute("CREATE VIRTUAL TABLE t USING bec(k TEXT PRIMARY KEY, v INTEGER, w TEXT)")
        if rng.random() < 0.5:
            h0.db.execute("CREATE VIRTUAL TABLE u USING bec(id INTEGER PRIMARY KEY, x BLOB)")
        for r in self.reps[1:] + self.byz:
            r.q("SELECT bec_join(?)", self.group_hex)
        # Roles: one or two honest admins besides the creator, one
        # Byzantine admin (B0), the rest members.
        admins = set(rng.sample(range(1, self.n_honest), min(2, self.n_honest - 1)))
        for i, r in enumerate(self.reps[1:], 1):
            h0.q("SELECT bec_add_member(?, ?)", r.pub, "admin" if i in admins else "member")
        for i, r in enumerate(self.byz):
            h0.q("SELECT bec_add_member(?, ?)", r.pub, "admin" if i == 0 else "member")
        self.log("group", self.group_hex[:16], "admins H0", sorted(admins))
        # Byzantine state: the seed (their own secret), the forks, an early
        # snapshot (for back-dating), outsiders' keys nobody ever adds.
        for b in self.byz:
            with open(b.keyfile, "rb") as kf:
                b.key = Key(kf.read()[len(b"bec-key-v1\n"):])
            b.snap = None
            b.label_as = b.name
        self.outsiders = [Key(hashlib.sha256(b"outsider/%d/%d" % (self.seed, i)).digest())
                          for i in range(3)]
        # Deliver the group to everybody once, honestly, so the run starts
        # with a shared history.
        for r in self.reps[1:] + self.byz:
            self.session(h0, r, faults=False)
        for b in self.byz:
            b.snap = open_db(b.db)

    # -- sync -----------------------------------------------------------
    def session(self, a, b, faults=True, tamper_a=None, tamper_b=None, label_a=None,
                label_b=None, limit=60, must_end=True):
        """One session, a offers to b.  a and b are Reps (or objects with .db
        and .name).  tamper_x(msg) -> msg rewrites what x sends.  Returns
        'done', 'error' or 'cut'.  A session longer than limit messages is
        a failure, unless must_end is False (then it is cut there)."""
        rng = self.rng
        la = label_a or a.name     # how b calls a
        lb = label_b or b.name     # how a calls b
        try:
            m = one(a.db, "SELECT bec_sync_offer(?)", lb)
        except sqlite3.Error as e:
            self.err(e)
            return "error"
        send, recv, slabel = a, b, la
        n = 0
        while m is not None:
            n += 1
            if n > limit:
                if must_end:
                    self.fail("session %s -> %s did not end in %d messages" % (a.name, b.name, limit))
                else:
                    self.count("net.long_cut")
                return "cut"
            tam = tamper_a if send is a else tamper_b
            if tam:
                m = tam(m)
                if m is None:
                    return "cut"
            if len(self.pool) < 400 and rng.random() < 0.3:
                self.pool.append((send.name, recv.name, m))
            deliver = [m]
            if faults:
                x = rng.random()
                if x < 0.04:
                    self.count("net.drop")
                    return "cut"
                elif x < 0.08:
                    self.count("net.dup")
                    deliver = [m, m]
                elif x < 0.11 and self.pool:
                    # reordered: an old message of another session arrives first
                    self.count("net.reorder")
                    deliver = [rng.choice(self.pool)[2], m]
            reply = None
            ok = False
            for k, d in enumerate(deliver):
                try:
                    r = one(recv.db, "SELECT bec_sync_apply(?, ?)", slabel, d)
                    if d is m:
                        reply, ok = r, True
                except sqlite3.Error as e:
                    self.err(e, "%s applying msg %d from %s" % (recv.name, n, send.name))
            if not ok:
                return "error"
            m = reply
            send, recv = recv, send
            slabel = lb if send is b else la
        return "done"

    def honest_sync(self, a, b, faults=True):
        self.count("sync.honest")
        return self.session(a, b, faults=faults)

    # -- honest actions -------------------------------------------------
    def key_value(self):
        return "k%d" % self.rng.randrange(12)

    def honest_write(self, r):
        rng = self.rng
        db = r.db
        stmts = []
        for _ in range(rng.choice([1, 1, 1, 2, 3])):
            x = rng.random()
            k = self.key_value()
            if x < 0.4:
                stmts.append(("INSERT OR REPLACE INTO t(k, v, w) VALUES(?, ?, ?)",
                              (k, rng.randrange(1000), rng.choice(["a", "b", None, "x" * rng.randrange(40)]))))
            elif x < 0.65:
                stmts.append(("UPDATE t SET v = coalesce(v, 0) + ? WHERE k = ?", (rng.randrange(1, 9), k)))
            elif x < 0.72:
                stmts.append(("UPDATE t SET w = ? WHERE k >= ?", (r.name, k)))
            elif x < 0.75:
                # an added column, if this replica shows it (honest_schema)
                stmts.append(("UPDATE t SET %s = ? WHERE k = ?" % rng.choice(["y", "z"]), (r.name, k)))
            elif x < 0.87:
                stmts.append(("DELETE FROM t WHERE k = ?", (k,)))
            elif x < 0.95:
                stmts.append(("INSERT OR REPLACE INTO u VALUES(?, ?)",
                              (rng.randrange(20), bytes(rng.randrange(256) for _ in range(rng.randrange(8))))))
            else:
                stmts.append(("SELECT bec_sign(?)", (b"app %d" % rng.randrange(10 ** 6),)))
        txn = len(stmts) > 1
        try:
            if txn:
                db.execute("BEGIN")
            for s, a in stmts:
                db.execute(s, a).fetchall()
            if txn:
                db.execute("ROLLBACK" if rng.random() < 0.1 else "COMMIT")
            self.count("honest.write")
        except sqlite3.Error as e:
            self.err(e)
            if db.in_transaction:
                try:
                    db.execute("ROLLBACK")
                except sqlite3.Error:
                    pass

    def honest_member(self, r):
        rng = self.rng
        everyone = self.reps + self.byz
        target = rng.choice(everyone)
        try:
            if rng.random() < 0.55:
                r.q("SELECT bec_remove_member(?)", target.pub)
                self.log(r.name, "removes", target.name)
            else:
                r.q("SELECT bec_add_member(?, ?)", target.pub, rng.choice(["admin", "member", "member"]))
                self.log(r.name, "adds", target.name)
            self.count("honest.member")
        except sqlite3.Error as e:
            self.err(e)

    def honest_schema(self, r):
        rng = self.rng
        try:
            x = rng.random()
            if x < 0.35:
                r.db.execute("DROP TABLE IF EXISTS u")
            elif x < 0.7:
                r.db.execute("CREATE VIRTUAL TABLE IF NOT EXISTS u USING bec(id INTEGER PRIMARY KEY, x BLOB)")
            else:
                # alters of t: concurrent ADDs of one name hide one of the
                # columns, a rename shows it again (hidden state)
                col = rng.choice(["y", "z"])
                if rng.random() < 0.6:
                    r.db.execute("SELECT bec_alter('t', 'ADD COLUMN %s TEXT')" % col)
                else:
                    r.db.execute("SELECT bec_alter('t', 'RENAME COLUMN %s TO %s')"
                                 % (col, col + str(rng.randrange(3))))
                self.count("honest.alter")
            self.count("honest.schema")
        except sqlite3.Error as e:
            self.err(e)

    # -- Byzantine actions ----------------------------------------------
    def fork(self, b, src=None):
        f = Rep(b.name, False, open_db(src or b.db))
        f.pub, f.key, f.snap = b.pub, b.key, None
        if b.keyfile:
            f.use_keyfile(b.keyfile)
        return f

    def honest_peer(self):
        return self.rng.choice(self.honest_reps())

    def push(self, fork, victim, tamper=None, faults=False):
        """The fork syncs with an honest victim, possibly lying."""
        return self.session(fork, victim, faults=faults, tamper_a=tamper, label_a=fork.name)

    def write_on(self, rep, tag):
        rng = self.rng
        try:
            x = rng.random()
            if x < 0.6:
                rep.db.execute("INSERT OR REPLACE INTO t VALUES(?, ?, ?)", (self.key_value(), rng.randrange(1000), tag))
            elif x < 0.8:
                rep.db.execute("DELETE FROM t WHERE k = ?", (self.key_value(),))
            elif x < 0.9:
                rep.q("SELECT bec_sign(?)", tag.encode())
            else:
                target = rng.choice(self.reps + self.byz)
                if rng.random() < 0.6:
                    rep.q("SELECT bec_remove_member(?)", target.pub)
                else:
                    rep.q("SELECT bec_add_member(?, ?)", target.pub, rng.choice(["admin", "member"]))
        except sqlite3.Error as e:
            self.err(e)

    def new_ops(self, before, db):
        """Bodies of the ops of db not in the hash set before, in seq order."""
        return [(h, body) for h, body in db.execute("SELECT hash, body FROM bec_ops") if h not in before]

    def byz_equivocate(self, b):
        rng = self.rng
        forks = [self.fork(b) for _ in range(rng.choice([2, 2, 3]))]
        for i, f in enumerate(forks):
            for _ in range(rng.randint(1, 3)):
                self.write_on(f, "%s-fork%d" % (b.name, i))
        victims = rng.sample(self.honest_reps(), len(forks))
        for f, v in zip(forks, victims):
            self.push(f, v)
        self.count("byz.equivocate")
        for f in forks:
            f.db.close()

    def byz_forge(self, b):
        """Ops that carry a broken signature or body: must be rejected
        everywhere.  A broken signature or body keeps the id of the real op
        (op format 2: the id is the hash of the header), so such a copy must
        not keep the real op out: sometimes the real ops follow, and then
        every honest replica must end up storing them."""
        rng = self.rng
        f = self.fork(b)
        before = hset(f.db)
        self.write_on(f, "forge")
        new = self.new_ops(before, f.db)
        bad = []
        same_id = []
        for h, body in new:
            m = decode_op(body)
            nh = len(m["header"])
            pred_end = nh - 32 - len(uvarint(m["payload_len"]))
            body = bytearray(body)
            how = rng.choice(["sig", "author", "payload", "pred"])
            if how == "sig":
                body[nh + rng.randrange(64)] ^= 1 << rng.randrange(8)
            elif how == "author":
                body[10:42] = bytes.fromhex(rng.choice(self.reps).pub)
            elif how == "payload" and len(body) > nh + 64:
                body[rng.randrange(nh + 64, len(body))] ^= 1 << rng.randrange(8)
            else:
                how = "pred"
                body[pred_end - 1 - rng.randrange(32 * len(m["preds"]))] ^= 1 << rng.randrange(8)
            body = bytes(body)
            if op_id(body).hex() == h:
                same_id.append(h)
            else:
                self.bad[op_id(body).hex()] = "forged (%s)" % how
            bad.append(body)
        if bad:
            v = self.honest_peer()
            self.deliver_ops(b, v, bad)
            if same_id and rng.random() < 0.5:
                # the real ops after their broken copies
                if self.push(f, v) == "done":
                    self.must.update(same_id)
                    self.count("byz.forge.real_after")
        f.db.close()
        self.count("byz.forge")

    def outsider_ops(self, b):
        rng = self.rng
        hs = [bytes.fromhex(h) for h in heads(b.db)]
        o = rng.choice(self.outsiders)
        preds = rng.sample(hs, rng.randint(1, len(hs))) if hs else [self.group]
        ops = []
        kinds = ["app", "add", "remove", "create", "wrong-group", "add-other"]
        for kind in rng.sample(kinds, rng.randint(1, 3)):
            if kind == "app":
                body = make_op(o, "app", preds, b"outsider %d" % rng.randrange(10 ** 6), self.group)
            elif kind == "add":
                body = make_op(o, "add", preds, o.pub + bytes([1]), self.group)
            elif kind == "add-other":
                body = make_op(o, "add", preds, rng.choice(self.outsiders).pub + bytes([2]), self.group)
            elif kind == "remove":
                body = make_op(o, "remove", preds, bytes.fromhex(self.reps[0].pub), self.group)
            elif kind == "create":
                # a second create op, signed by a member: never part of this group
                body = make_op(b.key, "create", [], bytes(rng.randrange(256) for _ in range(16)), None)
            else:
                other = blake(b"other group %d" % rng.randrange(1000))
                body = make_op(b.key, "app", preds, b"elsewhere", other)
            self.bad[op_id(body).hex()] = "outsider (%s)" % kind
            ops.append(body)
        return ops

    def byz_outsider(self, b):
        ops = self.outsider_ops(b)
        v = self.honest_peer()
        if self.rng.random() < 0.3:
            for body in ops:
                try:
                    v.q("SELECT bec_ingest(?)", body)
                except sqlite3.Error as e:
                    self.err(e)
        else:
            # mixed with valid ops of a fork, in one message
            f = self.fork(b)
            before = hset(f.db)
            self.write_on(f, "mixed")
            good = [body for _, body in self.new_ops(before, f.db)]
            f.db.close()
            mixed = good + ops
            self.rng.shuffle(mixed)
            self.deliver_ops(b, v, mixed)
        self.count("byz.outsider")

    def offer_with(self, b, ops, heads_=None, needs=(), flags=F_OFFER):
        m = {"flags": flags, "tag": self.group[:8],
             "session": bytes(self.rng.randrange(256) for _ in range(8)), "round": 0,
             "heads": list(heads_ if heads_ is not None else [bytes.fromhex(h) for h in heads(b.db)]),
             "shared": [], "filter": None, "needs": list(needs), "ops": list(ops)}
        return encode_msg(m)

    def deliver_ops(self, b, v, ops):
        """A hand-made offer carrying ops; the victim's replies go nowhere."""
        msg = self.offer_with(b, ops)
        try:
            one(v.db, "SELECT bec_sync_apply(?, ?)", b.name, msg)
        except sqlite3.Error as e:
            self.err(e)

    def byz_backdate(self, b):
        """Sign on an old snapshot (taken when b was a member), typically
        after b was removed: writes, counter-removals, adds."""
        rng = self.rng
        if b.snap is None:
            return
        f = self.fork(b, b.snap)
        for _ in range(rng.randint(1, 3)):
            self.write_on(f, "backdated")
        if rng.random() < 0.4:
            # a hand-signed op on the create op itself (the oldest point)
            body = make_op(b.key, rng.choice(["app", "remove"]), [self.group],
                           bytes.fromhex(self.reps[0].pub), self.group)
            try:
                f.q("SELECT bec_ingest(?)", body)
            except sqlite3.Error as e:
                self.err(e)
        self.push(f, self.honest_peer(), faults=rng.random() < 0.3)
        f.db.close()
        self.count("byz.backdate")

    def byz_withhold(self, b):
        """Ops sent without their predecessors; needs are ignored."""
        rng = self.rng
        f = self.fork(b)
        before = hset(f.db)
        for _ in range(rng.randint(2, 5)):
            self.write_on(f, "orphan")
        new = [body for _, body in self.new_ops(before, f.db)]
        if len(new) >= 2:
            cut = rng.randint(1, len(new) - 1)
            v = self.honest_peer()
            self.deliver_ops(b, v, new[cut:])
            if rng.random() < 0.3:
                # later, maybe, the rest arrives through someone else
                b.db.close()
                b.db = f.db
                self.count("byz.withhold.release")
                return
        f.db.close()
        self.count("byz.withhold")

    def make_tamper(self, b):
        rng = self.rng
        mode = rng.choice(["heads", "shared", "filter", "needs", "flags", "round", "ops",
                           "bytes", "truncate", "session", "mix"])
        known = [bytes.fromhex(h) for h in hset(b.db)]

        def randh():
            return bytes(rng.randrange(256) for _ in range(32))

        def tamper(msg):
            if rng.random() < 0.2:
                return msg
            if mode == "bytes":
                x = bytearray(msg)
                for _ in range(rng.randint(1, 4)):
                    i = rng.randrange(len(x))
                    x[i] = rng.randrange(256)
                return bytes(x)
            if mode == "truncate":
                return msg[:rng.randrange(len(msg))]
            m = decode_msg(msg)
            if m is None:
                return msg
            md = rng.choice(["heads", "shared", "filter", "needs", "flags", "round", "ops", "session"]) \
                if mode == "mix" else mode
            if md == "heads":
                c = rng.random()
                if c < 0.3:
                    m["heads"] = []
                elif c < 0.6:
                    m["heads"] = [randh() for _ in range(rng.randint(1, 4))]
                else:
                    m["heads"] = rng.sample(known, min(len(known), rng.randint(1, 6)))
            elif md == "shared":
                if rng.random() < 0.5:
                    m["shared"] = rng.sample(known, min(len(known), rng.randint(1, 8)))
                else:
                    m["shared"] = [randh() for _ in range(rng.randint(1, 4))]
            elif md == "filter":
                c = rng.random()
                nbit = 8 * rng.randint(1, 64)
                if c < 0.35:
                    m["filter"] = [nbit, rng.randint(1, 32), randh()[:8], b"\xff" * (nbit // 8)]
                elif c < 0.6:
                    m["filter"] = [0, 0, b"", b""]
                elif c < 0.8:
                    m["filter"] = [nbit, rng.randint(1, 32), randh()[:8],
                                   bytes(rng.randrange(256) for _ in range(nbit // 8))]
                else:
                    m["filter"] = None
            elif md == "needs":
                c = rng.random()
                if c < 0.4:
                    m["needs"] = rng.sample(known, min(len(known), rng.randint(1, 50)))
                elif c < 0.7:
                    m["needs"] = [randh() for _ in range(rng.randint(1, 30))]
                else:
                    m["needs"] = []
            elif md == "flags":
                m["flags"] ^= rng.choice([F_KNOWS_ALL, F_OFFER, F_KNOWS_ALL | F_OFFER])
                if rng.random() < 0.3:
                    m["heads"] = None
            elif md == "round":
                m["round"] = rng.choice([0, m["round"] + 1, max(0, m["round"] - 1), 4096, 5000])
            elif md == "ops":
                c = rng.random()
                if c < 0.3:
                    m["ops"] = m["ops"][1:]
                elif c < 0.5:
                    m["ops"] = list(reversed(m["ops"]))
                elif c < 0.7:
                    m["ops"] = m["ops"] + m["ops"]
                else:
                    m["ops"] = m["ops"] + self.outsider_ops(b)
            elif md == "session":
                m["session"] = randh()[:8]
            return encode_msg(m)
        return tamper, mode

    def byz_lie(self, b):
        rng = self.rng
        f = self.fork(b)
        if rng.random() < 0.6:
            self.write_on(f, "liar")
        tamper, mode = self.make_tamper(f)
        v = self.honest_peer()
        if rng.random() < 0.5:
            self.session(f, v, faults=False, tamper_a=tamper, label_a=b.name)
        else:
            self.session(v, f, faults=False, tamper_b=tamper, label_b=b.name)
        if rng.random() < 0.5:
            b.db.close()
            b.db = f.db
        else:
            f.db.close()
        self.count("byz.lie." + mode)

    def byz_replay(self, b):
        rng = self.rng
        if not self.pool:
            return
        for _ in range(rng.randint(1, 4)):
            src, dst, msg = rng.choice(self.pool)
            v = self.honest_peer()
            label = src if rng.random() < 0.5 else b.name
            try:
                one(v.db, "SELECT bec_sync_apply(?, ?)", label, msg)
            except sqlite3.Error as e:
                self.err(e)
        self.count("byz.replay")

    def byz_flood(self, b):
        rng = self.rng
        c = rng.random()
        v = self.honest_peer()
        if c < 0.3:
            # many valid ops (it is allowed to write): stored, merged, relayed
            f = self.fork(b)
            try:
                f.db.execute("BEGIN")
                for i in range(rng.randint(30, 120)):
                    f.q("SELECT bec_sign(?)", b"flood %d" % i)
                f.db.execute("COMMIT")
            except sqlite3.Error as e:
                self.err(e)
                if f.db.in_transaction:
                    f.db.execute("ROLLBACK")
            self.push(f, v)
            b.db.close()
            b.db = f.db
        elif c < 0.55:
            # junk messages
            for _ in range(rng.randint(5, 30)):
                junk = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200)))
                if rng.random() < 0.8:
                    junk = bytes([1, F_OFFER]) + self.group[:8] + junk
                try:
                    one(v.db, "SELECT bec_sync_apply(?, ?)", b.name, junk)
                except sqlite3.Error as e:
                    self.err(e)
        elif c < 0.8:
            # more rejected ops in one session than the bound allows
            ops = []
            while len(ops) < 40:
                ops += self.outsider_ops(b)
            self.deliver_ops(b, v, ops)
        else:
            # signed ops whose predecessors do not exist: the pending area
            ops = [make_op(b.key, "app", [bytes(rng.randrange(256) for _ in range(32))],
                           b"dangling %d" % i, self.group) for i in range(rng.randint(20, 80))]
            self.deliver_ops(b, v, ops)
            # needs that name ops nobody has, and heads nobody has
            msg = self.offer_with(b, [], heads_=[blake(b"x%d" % i) for i in range(50)],
                                  needs=[blake(b"y%d" % i) for i in range(200)])
            try:
                one(v.db, "SELECT bec_sync_apply(?, ?)", b.name, msg)
            except sqlite3.Error as e:
                self.err(e)
        self.count("byz.flood")

    def byz_relay(self, b):
        """Behave: sync honestly (this is how Byzantine replicas learn)."""
        v = self.honest_peer()
        if self.rng.random() < 0.5:
            self.session(v, b, faults=True)
        else:
            self.session(b, v, faults=True)
        self.count("byz.relay")

    # -- the threshold root (docs/root.md) ---------------------------------
    def all_sync(self, reps):
        for a in reps:
            for b in reps:
                if a is not b:
                    self.session(a, b, faults=False)

    def root_phase(self):
        """A 3-of-5 root held by H0..H3 and B0 (the Byzantine admin), who
        equivocates: two forks of B0 deal two different deals and post two
        different acks, approve one request twice (two nonce commitments)
        and send a share with a wrong z.  Then H1..H3 (and B0) sign a root
        removal of H0, the creator and most senior member, while H0, cut
        off, keeps writing and adding: its concurrent ops must be ignored,
        identically on every honest replica (checked in check())."""
        import json
        rng = self.rng
        hs = self.honest_reps()
        b = self.byz[0]
        holders = hs[:4] + [b]
        self.all_sync(hs)
        self.session(hs[0], b, faults=False)
        hs[0].q("SELECT bec_root_open(3, ?)", json.dumps([r.pub for r in holders]))
        self.all_sync(hs)
        for r in hs[:4]:
            r.q("SELECT bec_root_step()")          # the honest deals
        self.all_sync(hs)
        # B0's two forks each deal, then ack what they see: two deals and two
        # different acks from one holder.
        f2 = self.fork(b)
        for f in (b, f2):
            self.session(hs[0], f, faults=False)
            f.q("SELECT bec_root_step()")
            f.q("SELECT bec_root_step()")
        self.push(b, hs[1])
        self.push(f2, hs[2])
        self.count("byz.root.dkg")
        for _ in range(4):
            self.all_sync(hs)
            if sum(r.q("SELECT bec_root_step()") for r in hs[:4]) == 0:
                break
        self.all_sync(hs)
        nd, na = [hs[0].q("SELECT count(*) FROM bec_ops WHERE author=? AND kind=?", b.pub, k)
                  for k in ("dkg-deal", "dkg-ack")]
        if (nd, na) == (2, 2):
            self.count("byz.root.two_acks")          # two deals and two acks by B0
        st = [r.q("SELECT group_concat(state) FROM bec_root") for r in hs]
        if st != ["active"] * len(hs):
            self.fail("root: not active on every honest replica: %r" % st)
            return
        self.count("root.active")
        # H0 is cut off from here on; H1 proposes its removal.
        signers = hs[1:4]
        req = signers[0].q("SELECT bec_root_propose('remove', ?)", hs[0].pub)
        for r in signers[1:]:
            self.session(signers[0], r, faults=False)
            r.q("SELECT bec_root_approve(?)", req)
        for f in (b, f2):                          # two commitments of B0
            self.session(signers[0], f, faults=False)
            try:
                f.q("SELECT bec_root_approve(?)", req)
            except sqlite3.Error as e:
                self.err(e)
        self.push(b, signers[1])
        self.push(f2, signers[2])
        self.count("byz.root.approve2")
        cut_off = hs[0]
        before = hset(cut_off.db)
        for _ in range(rng.randint(1, 3)):
            self.honest_write(cut_off)
        try:
            cut_off.q("SELECT bec_add_member(?, 'member')", self.outsiders[0].pub.hex())
        except sqlite3.Error as e:
            self.err(e)
        self.cut_off_ops = hset(cut_off.db) - before
        others = hs[1:]
        forged = False
        for _ in range(8):
            self.all_sync(others)
            for f in (b, f2):
                self.session(signers[0], f, faults=False)
                try:
                    f.q("SELECT bec_root_step()")
                except sqlite3.Error as e:
                    self.err(e)
                self.push(f, rng.choice(signers))
            made = sum(r.q("SELECT bec_root_step()") for r in signers)
            sess = signers[0].db.execute("SELECT hash FROM bec_ops WHERE kind='root-session'").fetchone()
            if sess and not forged:
                # A share with a wrong z: refused, never stored.
                payload = bytes([1]) + bytes.fromhex(sess[0]) + bytes([
                    sorted(r.pub for r in holders).index(b.pub) + 1]) + bytes([7]) + bytes(31)
                body = make_op(b.key, "root-share", [bytes.fromhex(h) for h in heads(signers[0].db)],
                               payload, self.group)
                self.bad[op_id(body).hex()] = "a root share with a wrong z"
                self.deliver_ops(b, signers[0], [body])
                forged = True
                self.count("byz.root.badshare")
            if made == 0 and signers[0].q("SELECT count(*) FROM bec_ops WHERE kind='root'"):
                break
            if made == 0:
                # A stalled signing (B0's forks posted two sessions naming the
                # same honest commitments, each signed in one): holders whose
                # commitments are spent approve again (docs/root.md).
                for r in signers:
                    try:
                        r.q("SELECT bec_root_approve(?)", req)
                        self.count("root.reapprove")
                    except sqlite3.Error as e:
                        self.err(e)
        self.all_sync(others)
        done = [r.q("SELECT state FROM bec_root_requests WHERE id=?", req) for r in others]
        if done != ["done"] * len(others):
            self.fail("root: the removal is not done everywhere: %r" % done)
        out = [r.q("SELECT count(*) FROM bec_members WHERE pubkey=?", hs[0].pub) for r in others]
        if out != [0] * len(others):
            self.fail("root: the creator is still a member after the root's removal: %r" % out)
        f2.db.close()
        self.root_target = hs[0].pub
        self.count("root.removal")

    # -- checkpoints (docs/compaction.md) ---------------------------------
    def role_of(self, r):
        return r.q("SELECT role FROM bec_members WHERE pubkey=?", r.pub)

    def ckpt_round(self, j):
        """Round j (0, 1): a fault-free honest sync; an honest admin signs a
        checkpoint; a Byzantine member attests it falsely; honest syncs
        until it seals; some honest replicas prune; after the first seal a
        backdated removal that must change nothing behind the checkpoint."""
        rng = self.rng
        hs = self.honest_reps()
        hidden = j == 0 and rng.random() < 0.5 and self.hidden_column(hs)
        self.all_sync(hs)
        admins = [r for r in hs if self.role_of(r) == "admin"]
        if not admins:
            self.count("ckpt.no_admin")
            return
        r = rng.choice(admins)
        try:
            k = r.q("SELECT bec_checkpoint()")
        except sqlite3.Error as e:
            self.err(e, "bec_checkpoint on %s" % r.name)
            self.count("ckpt.refused")
            return
        self.ckpts.append(k)
        self.count("ckpt.signed")
        self.log(r.name, "signs checkpoint", k[:12], "round", j)
        # The lying attester: a Byzantine member signs an attest of K with a
        # digest that is not K's (preds: K, which the attest must descend
        # from), and hands it to one honest replica.
        b = rng.choice(self.byz)
        lie = make_op(b.key, "attest", [bytes.fromhex(k)],
                      b"\x01" + bytes.fromhex(k) + bytes(rng.randrange(256) for _ in range(32)), self.group)
        v = rng.choice(hs)
        try:
            v.q("SELECT bec_ingest(?)", lie)
            self.lies[op_id(lie).hex()] = k
            self.count("ckpt.lie")
        except sqlite3.Error as e:
            self.err(e, "the lying attest on %s" % v.name)
        # Honest replicas attest (and dispute) after each sync they apply.
        for _ in range(3):
            self.all_sync(hs)
            if all(x.q("SELECT sealed FROM bec_checkpoints WHERE checkpoint=?", k) for x in hs):
                break
        sealed = [x.name for x in hs if x.q("SELECT sealed FROM bec_checkpoints WHERE checkpoint=?", k)]
        if len(sealed) < len(hs):
            self.log("checkpoint", k[:12], "sealed on", sealed, "of", len(hs))
            self.count("ckpt.unsealed")
            return
        self.count("ckpt.sealed")
        # Pruning: 1-3 honest replicas (never the last, which the fresh
        # replica syncs from); the ones that pruned before prune again.
        pool = [x for x in hs[:-1] if x.name not in self.pruned]
        chosen = rng.sample(pool, min(len(pool), rng.randint(1, 3))) + [x for x in hs if x.name in self.pruned]
        if os.environ.get("BEC_SIM_NO_PRUNE") == "1":     # to tell sealing's bugs from pruning's
            chosen = []
        for x in chosen:
            try:
                n = x.q("SELECT bec_prune()")
                self.pruned.add(x.name)
                self.count("ckpt.pruned_bodies", n)
                self.count("ckpt.prune")
                self.log(x.name, "prunes", n, "bodies below", k[:12])
            except sqlite3.Error as e:
                self.err(e, "bec_prune on %s" % x.name)
                self.count("ckpt.prune_refused")
        if j == 0:
            self.backdated_removal(k)
        if hidden:
            # the shown h renamed: the hidden one shows, with the values
            # its writes in the cut gave it, on the pruned replicas too
            r = rng.choice([x for x in hs if self.role_of(x) == "admin"] or hs)
            try:
                r.q("SELECT bec_alter('t', 'RENAME COLUMN h TO h2')")
                self.count("ckpt.hidden_shown")
            except sqlite3.Error as e:
                self.err(e, "the rename of h on %s" % r.name)

    def hidden_column(self, hs):
        """Hidden state in the coming cut: two honest admins, not synced,
        each add a column h to t and write it; after their sync one of the
        two columns is hidden by the other's name.  True if made."""
        admins = [r for r in hs if self.role_of(r) == "admin"]
        if len(admins) < 2:
            return False
        for r in self.rng.sample(admins, 2):
            try:
                r.q("SELECT bec_alter('t', 'ADD COLUMN h TEXT')")
                r.db.execute("INSERT OR REPLACE INTO t(k, v, w, h) VALUES('kh', 1, 'h', ?)", (r.name,))
            except sqlite3.Error as e:
                self.err(e, "hidden column on %s" % r.name)
                return False
        self.count("ckpt.hidden_made")
        return True

    def backdated_removal(self, k):
        """B0, an admin when its early snapshot was taken, signs there a
        removal of an honest key that wrote in K's cut.  Every honest
        replica holds the same ops (the round synced them), all of them in
        the cut but the checkpoint's attests and disputes, so every row
        shown is behind the checkpoint: none may change, nor the validity
        of any op of the cut."""
        rng = self.rng
        hs = self.honest_reps()
        b = self.byz[0]
        if b.snap is None:
            return
        writers = {a for (a,) in hs[0].db.execute(
            "SELECT DISTINCT author FROM bec_ops WHERE kind='write' AND valid")}
        targets = [r for r in hs if r.pub in writers]
        if not targets:
            return
        t = rng.choice(targets)
        f = self.fork(b, b.snap)
        before = hset(f.db)
        try:
            f.q("SELECT bec_remove_member(?)", t.pub)
        except sqlite3.Error as e:
            self.err(e, "backdated removal")
            f.db.close()
            return
        new = [body for _, body in self.new_ops(before, f.db)]
        f.db.close()
        self.log(b.name, "backdates a removal of", t.name, "below", k[:12])
        cut = past_of(hs[0].db, k)
        for r in hs:
            cut_valid = sorted((h, v) for h, v in r.db.execute("SELECT hash, valid FROM bec_ops") if h in cut)
            tables = snapshot(r.db)["tables"]
            for body in new:
                try:
                    r.q("SELECT bec_ingest(?)", body)
                except sqlite3.Error as e:
                    self.err(e, "backdated removal on %s" % r.name)
            if snapshot(r.db)["tables"] != tables:
                self.fail("%s: a removal backdated below sealed checkpoint %s changed rows" % (r.name, k[:12]))
            got = dict(r.db.execute("SELECT hash, valid FROM bec_ops"))
            changed = [h[:12] for h, v in cut_valid if got.get(h) != v]
            if changed:
                self.fail("%s: a removal backdated below sealed checkpoint %s changed the validity of %r"
                          % (r.name, k[:12], changed[:4]))
            if r.q("SELECT count(*) FROM bec_ops WHERE hash=?", op_id(new[-1]).hex()) != 1:
                self.fail("%s did not store the backdated removal" % r.name)
        self.count("ckpt.backdated")
        if hs[0].q("SELECT valid FROM bec_ops WHERE hash=?", op_id(new[-1]).hex()):
            self.count("ckpt.backdated.valid")
        if hs[0].q("SELECT count(*) FROM bec_ops WHERE author=? AND kind='write' AND valid", t.pub):
            self.count("ckpt.backdated.writes_kept")

    def check_checkpoints(self, hs):
        """Every lie listed, verified, on every replica that did not prune
        (a pruned one cannot recompute a cut below its prune point), and
        disputed by some honest member."""
        for lie, k in sorted(self.lies.items()):
            disputed = False
            for r in hs:
                rows_ = r.db.execute("SELECT verified, disputer FROM bec_disputes WHERE attestation=?",
                                     (lie,)).fetchall()
                if not rows_:
                    self.fail("%s does not list the lying attestation %s of %s" % (r.name, lie[:12], k[:12]))
                    continue
                disputed = disputed or any(d is not None for _, d in rows_)
                if r.name not in self.pruned and not all(v == 1 for v, _ in rows_):
                    self.fail("%s: the dispute of lie %s is not verified: %r" % (r.name, lie[:12], rows_))
            if disputed:
                self.count("ckpt.disputed")
            else:
                self.fail("no honest member signed a dispute of the lie %s" % lie[:12])
        for r in hs:
            if r.name in self.pruned and not r.q("SELECT count(*) FROM bec_ops WHERE payload IS NULL"):
                self.fail("%s pruned and holds every body" % r.name)

    def check_snapshot_join(self, hs):
        """Snapshot joiners (issue 17 item 4): a replica marked by
        bec_join(.., 'snapshot') first offers to a Byzantine provider whose
        replies are tampered with, then to an honest replica (the last,
        never pruned, and a pruned one when there is one; a pruned replica
        that cannot serve the history sends the joiner to the last).  The
        joiner offers: a provider that offers first carries a short history
        in its offer, which the joiner stores, and joins by the history
        (docs/compaction.md).  It installs the latest sealed checkpoint's
        snapshot (or falls back, or replays), and must end with its last
        peer's rows, members, conflicts and heads, and for every op it
        holds the same validity; bec_check() ok."""
        rng = self.rng
        if not hs[-1].q("SELECT count(*) FROM bec_checkpoints WHERE sealed"):
            return
        providers = [hs[-1]] + [x for x in hs if x.name in self.pruned][:1]
        for n, p in enumerate(providers):
            j = Rep("S%d" % n, True)
            j.q("SELECT bec_keygen()")
            j.q("SELECT bec_join(?, 'snapshot')", self.group_hex)
            b = rng.choice(self.byz)
            tamper, _ = self.make_tamper(b)
            # (a peer that withholds predecessors keeps a session going
            # while each round parks new ops, up to bec's bound of parked
            # ops per session: long, not endless; cut here)
            self.session(j, b, faults=False, tamper_b=tamper, label_a="S", label_b="B",
                         must_end=False)
            self.count("ckpt.join_byzantine")
            peer, res = p, None
            for _ in range(4):
                res = self.session(j, peer, faults=False, label_a="S", label_b="P", limit=200)
                if res == "done" and heads(j.db) == heads(peer.db):
                    break
                peer = hs[-1]       # (a pruned provider answered 'pruned')
            if res != "done":
                self.fail("snapshot joiner from %s: sync ended with %s" % (peer.name, res))
                if self.verbose:
                    for h in sorted(set(heads(peer.db)) - set(heads(j.db))):
                        self.log("  the peer's head", h[:12], peer.db.execute(
                            "SELECT kind, author, valid, reason, deps FROM bec_ops WHERE hash=?", (h,)).fetchall())
                    for r in j.db.execute("SELECT hex(hash), reason FROM bec_store_rejected"):
                        self.log("  the joiner rejected", r[0][:12], r[1])
            installed = j.q("SELECT count(*) FROM bec_store_config WHERE key='cut_top'")
            self.count("ckpt.join_installed" if installed else "ckpt.join_replayed")
            if installed and p.name in self.pruned:
                self.count("ckpt.join_from_pruned")
            self.log("snapshot joiner from", p.name, "installed" if installed else "replayed",
                     j.q("SELECT bec_sync_state('P')"))
            if not installed and self.verbose:
                # why the install refused (a verbose replay says it)
                x = Rep("X", True)
                x.q("SELECT bec_keygen()")
                x.q("SELECT bec_join(?)", self.group_hex)
                try:
                    x.q("SELECT bec_snapshot_install(?)", p.q("SELECT bec_snapshot()"))
                    self.log("  (the snapshot installs by itself)")
                except sqlite3.Error as e:
                    self.log("  why:", e)
                x.db.close()
            a, s = snapshot(peer.db), snapshot(j.db)
            for what in ("heads", "members", "tables", "conflicts"):
                if a[what] != s[what]:
                    self.fail("snapshot joiner from %s (%s) differs in %s: %s" % (
                        peer.name, "installed" if installed else "replayed", what,
                        describe_diff({what: a[what]}, {what: s[what]})))
            valid = dict(a["ops"])
            d = [h[:12] for h, v in s["ops"] if valid.get(h) != v]
            if d:
                self.fail("snapshot joiner from %s: validity differs on %d op(s): %s" % (peer.name, len(d), d[:6]))
            chk = j.q("SELECT bec_check()")
            if chk != "ok":
                self.fail("snapshot joiner from %s: bec_check: %s" % (peer.name, chk))
            j.db.close()

    # -- the run ----------------------------------------------------------
    def step(self):
        rng = self.rng
        x = rng.random()
        hs = self.honest_reps()
        if x < 0.30:
            r = rng.choice(hs)
            self.log(r.name, "writes")
            self.honest_write(r)
        elif x < 0.37:
            self.honest_member(rng.choice(hs))
        elif x < 0.42:
            # (an admin where there is one: members' schema ops are refused)
            admins = [h for h in hs if self.role_of(h) == "admin"]
            r = rng.choice(admins or hs)
            self.log(r.name, "changes the schema")
            self.honest_schema(r)
        elif x < 0.62:
            a, b = rng.sample(hs, 2)
            self.log("sync", a.name, "->", b.name)
            self.honest_sync(a, b)
        else:
            b = rng.choice(self.byz)
            act = rng.choice([self.byz_equivocate, self.byz_forge, self.byz_outsider,
                              self.byz_backdate, self.byz_withhold, self.byz_lie,
                              self.byz_lie, self.byz_replay, self.byz_flood, self.byz_relay,
                              self.byz_relay])
            self.log(b.name, act.__name__)
            act(b)

    def finish(self):
        """Fault-free honest all-pairs sync, then the checks."""
        hs = self.honest_reps()
        for p in range(4):
            for i in range(len(hs)):
                for j in range(i + 1, len(hs)):
                    a, b = (hs[i], hs[j]) if (i + j + p) % 2 else (hs[j], hs[i])
                    res = self.session(a, b, faults=False)
                    if res != "done":
                        self.fail("final sync %s -> %s ended with %s: %s" % (a.name, b.name, res, self.last_error))
                    elif heads(a.db) != heads(b.db) and not self.late_claims(a, b):
                        self.fail("session %s -> %s ended 'done' with different heads: %d vs %d heads"
                                  % (a.name, b.name, len(heads(a.db)), len(heads(b.db))))
            if len({tuple(heads(r.db)) for r in hs}) == 1:
                break
        self.check(hs)

    def late_claims(self, a, b):
        """A session can end with one side holding attests or disputes it
        signed after applying the last message (sync signs them once the
        reply is built: they travel in the next session).  True if that is
        all that differs."""
        if not self.checkpoints:
            return False
        for x, y in ((a, b), (b, a)):
            extra = hset(x.db) - hset(y.db)
            for h in extra:
                kind, author = x.db.execute("SELECT kind, author FROM bec_ops WHERE hash=?", (h,)).fetchone()
                if kind not in ("attest", "dispute") or author != x.pub:
                    return False
        self.count("ckpt.late_claims")
        return True

    def check_encrypted(self, hs, snaps):
        """Same ops, heads, members and membership validity everywhere; the
        same everything among replicas holding the same seeds; every current
        reader holds every seed."""
        def keyless(s):
            return {"heads": s["heads"], "ops": [h for h, _ in s["ops"]], "members": s["members"]}

        def mvalid(s):
            return {h: (w or "").startswith("membership:") for h, w in s["reasons"]
                    if not (w or "").startswith("locked:")}
        for r, s in zip(hs[1:], snaps[1:]):
            if keyless(s) != keyless(snaps[0]):
                self.fail("%s differs from %s: %s" % (r.name, hs[0].name,
                                                      describe_diff(keyless(snaps[0]), keyless(s))))
            m0, m = mvalid(snaps[0]), mvalid(s)
            d = [h[:12] for h in sorted(set(m0) & set(m)) if m0[h] != m[h]]
            if d:
                self.fail("%s and %s differ on membership validity: %s" % (r.name, hs[0].name, d[:6]))
        groups = {}
        for r, s in zip(hs, snaps):
            groups.setdefault(repr(s["held"]), []).append((r, s))
        for g in groups.values():
            for r, s in g[1:]:
                if s != g[0][1]:
                    self.fail("%s differs from %s (same seeds): %s" % (r.name, g[0][0].name,
                                                                       describe_diff(g[0][1], s)))
        readers = {p for (p,) in hs[0].db.execute("SELECT pubkey FROM bec_members WHERE role IN ('admin', 'member')")}
        cur = [(r, s) for r, s in zip(hs, snaps) if r.pub in readers]
        valid = {(e,) for (e,) in hs[0].db.execute("SELECT epoch FROM bec_epochs WHERE valid")}
        every = set().union(*[set(s["held"]) for _, s in zip(hs, snaps)]) & valid
        for r, s in cur:
            if every - set(s["held"]):
                lack = sorted(every - set(s["held"]))
                self.fail("%s, a current reader, lacks %d valid epoch(s) others hold: %s %s" % (
                    r.name, len(lack), lack[0][0][:12], r.db.execute(
                        "SELECT author, holders, current FROM bec_epochs WHERE epoch=?", lack[0]).fetchone()))
        self.count("enc.groups", len(groups))
        self.count("enc.readers", len(cur))
        self.count("enc.rows", sum(len(t) for t in snaps[0]["tables"].values() if isinstance(t, list)))

    def check(self, hs):
        snaps = [snapshot(r.db, self.encrypted) for r in hs]
        self.stats["digest"] = hashlib.sha256(repr(snaps[0]).encode()).hexdigest()[:16]
        if self.encrypted:
            self.check_encrypted(hs, snaps)
        for r, s in ([] if self.encrypted else zip(hs[1:], snaps[1:])):
            if s != snaps[0]:
                self.fail("%s differs from %s: %s" % (r.name, hs[0].name, describe_diff(snaps[0], s)))
        for r in hs:
            chk = r.q("SELECT bec_check()")
            if chk != "ok":
                self.fail("%s: bec_check: %s" % (r.name, chk))
            stored = hset(r.db)
            for h in sorted(set(self.bad) & stored):
                self.fail("%s stores an op that must fail acceptance: %s %s" % (r.name, h[:16], self.bad[h]))
            for h in sorted(self.must - stored):
                self.fail("%s lacks an op sent after a broken copy of it: %s" % (r.name, h[:16]))
        if self.checkpoints:
            self.check_checkpoints(hs)
        # A fresh replica, synced from scratch, derives the same state.
        fresh = Rep("F", True)
        fresh.q("SELECT bec_keygen()")
        fresh.q("SELECT bec_join(?)", self.group_hex)
        res = self.session(hs[-1], fresh, faults=False, label_a="H", label_b="F", limit=200)
        if res != "done":
            self.fail("fresh replica: sync ended with %s" % res)
        s = snapshot(fresh.db, self.encrypted)
        if self.encrypted:
            # A relay: no key, so the same ops and members, and no table.
            if (s["heads"], [h for h, _ in s["ops"]], s["members"]) != \
                    (snaps[0]["heads"], [h for h, _ in snaps[0]["ops"]], snaps[0]["members"]):
                self.fail("a fresh relay synced from scratch holds other ops or members")
            if s["tables"] or s["held"]:
                self.fail("a fresh relay shows a table or holds a seed")
        elif s != snaps[0]:
            self.fail("a fresh replica synced from scratch differs: %s" % describe_diff(snaps[0], s))
        fresh.db.close()
        # The root's removal of the creator acts everywhere, and the ops the
        # creator made cut off (concurrent with it) are ignored.
        if getattr(self, "root_target", None):
            for r in hs:
                if r.q("SELECT count(*) FROM bec_members WHERE pubkey=?", self.root_target) and not r.q(
                        "SELECT count(*) FROM bec_ops WHERE kind='add' AND target=? AND valid",
                        self.root_target):
                    self.fail("%s: the root's removal of the creator does not act" % r.name)
                if r.q("SELECT count(*) FROM bec_ops WHERE kind='root' AND valid") < 1:
                    self.fail("%s: no valid root op" % r.name)
                valid = dict(r.db.execute("SELECT hash, valid FROM bec_ops"))
                late = [h[:12] for h in sorted(self.cut_off_ops) if valid.get(h)]
                if late:
                    self.fail("%s: ops the creator made cut off are valid: %r" % (r.name, late[:4]))
            x = self.outsiders[0].pub.hex()
            if hs[1].q("SELECT count(*) FROM bec_ops WHERE kind='add' AND target=? AND valid", x):
                self.fail("the cut-off creator's concurrent add is valid")
            self.count("root.checked")
        # The reference model of the membership rules, on small DAGs (it
        # knows no root ops).
        ops = list(hs[0].db.execute("SELECT hash, author, kind, target, role, deps, valid FROM bec_ops"))
        if self.encrypted:
            # valid under the membership rules alone (the model knows no
            # keys): not invalid by membership; ops locked here are left out.
            why = dict(hs[0].db.execute("SELECT hash, reason FROM bec_ops"))
            ops = [o[:6] + (not (why[o[0]] or "").startswith("membership:"),) for o in ops]
        self.stats["ops"] = len(ops)
        sealed = hs[0].q("SELECT count(*) FROM bec_checkpoints WHERE sealed")
        if not self.root and not sealed and len(ops) <= int(os.environ.get("BEC_SIM_MODEL_MAX", "400")):
            import json
            import refmodel
            # The model knows the kinds of MEMBERSHIP.md; the encryption
            # kinds are judged like one of them (encrypt needs an admin
            # like a schema op; rekey and keyshare a member like app).
            as_kind = {"encrypt": "schema", "rekey": "app", "keyshare": "app",
                       "checkpoint": "schema", "config": "schema", "attest": "app", "dispute": "app"}
            ops = [(h, a, as_kind.get(k, k)) + tuple(o) for h, a, k, *o in ops]
            model = refmodel.evaluate([{"id": h, "author": a, "kind": k,
                                        "target": t if k in ("add", "remove") else None,
                                        "role": ro if k == "add" else None,
                                        "preds": json.loads(d)} for h, a, k, t, ro, d, _ in ops])
            got = {h: bool(v) for h, _, _, _, _, _, v in ops}
            skip = {h for h, w in hs[0].db.execute("SELECT hash, reason FROM bec_ops WHERE reason LIKE 'locked:%'")} \
                if self.encrypted else set()
            bad = [(h[:12], got[h], model["valid"][h]) for h in sorted(got)
                   if h not in skip and got[h] != model["valid"][h]]
            if bad:
                self.fail("valid flags differ from the reference model (hash, bec, model): %r" % bad[:6])
            members = {pk: {"role": ro, "rank": rk} for pk, ro, rk in
                       hs[0].db.execute("SELECT pubkey, role, rank FROM bec_members")}
            if members != model["members"]:
                self.fail("members differ from the reference model: %r vs %r" % (members, model["members"]))
            self.count("model.checked")
        if self.checkpoints and not self.encrypted:
            # last: the joiner's sessions may hand the provider ops that a
            # Byzantine peer gave the joiner
            self.check_snapshot_join(hs)

    def run(self):
        t0 = time.time()
        try:
            self.setup()
            if self.root:
                self.root_phase()
            for i in range(self.steps):
                if self.checkpoints and i in (self.steps // 3, 2 * self.steps // 3):
                    self.ckpt_round(0 if i == self.steps // 3 else 1)
                self.step()
            self.finish()
        except Exception as e:       # a harness error is a failure too
            import traceback
            self.fail("exception: %s\n%s" % (e, traceback.format_exc()))
        self.stats["seconds"] = round(time.time() - t0, 2)
        for r in getattr(self, "reps", []) + getattr(self, "byz", []):
            try:
                r.db.close()
                if not r.honest and r.snap is not None:
                    r.snap.close()
            except Exception:
                pass
        return self.fails

    def digest(self):
        return self.stats.get("digest")


def replay_command(seed, encrypted=False, checkpoints=False):
    ext = os.environ.get("BEC_EXT", os.path.join(ROOT, "build", "bec"))
    pre = os.environ.get("LD_PRELOAD", "")
    env = ("LD_PRELOAD=%s " % pre if pre else "") + "BEC_EXT=%s " % ext
    return "%s/usr/bin/python3 %s --seed %d -v%s%s" % (env, os.path.join("test", "sim", "bytesim.py"), seed,
                                                       " --encrypted" if encrypted else "",
                                                       " --checkpoints" if checkpoints else "")


def replay_root_command(seed):
    return replay_command(seed) + " --root"


def run_seed(seed, verbose=False, root=False, encrypted=False, checkpoints=False):
    sim = Sim(seed, verbose=verbose, root=root, encrypted=encrypted, checkpoints=checkpoints)
    fails = sim.run()
    return sim, fails


def main(argv):
    import argparse
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int)
    ap.add_argument("--seeds", default="0-19", help="A-B (inclusive)")
    ap.add_argument("-v", action="store_true")
    ap.add_argument("--root", action="store_true", help="with a threshold root (Sim.root_phase)")
    ap.add_argument("--progress", action="store_true", help="one updating progress line")
    ap.add_argument("--list", action="store_true", help="one line per seed (test/soak.sh)")
    ap.add_argument("--encrypted", action="store_true", help="an encrypted group (issue 15)")
    ap.add_argument("--checkpoints", action="store_true",
                    help="checkpoints, a lying attester, pruning (issue 17; Sim.ckpt_round)")
    a = ap.parse_args(argv)
    if a.seed is not None:
        seeds = [a.seed]
    else:
        lo, hi = (int(x) for x in a.seeds.split("-"))
        seeds = range(lo, hi + 1)
    nfail = 0
    t0 = time.time()
    total = {}
    for n, s in enumerate(seeds, 1):
        sim, fails = run_seed(s, a.v, a.root, a.encrypted, a.checkpoints)
        for k, v in sim.stats.items():
            if k not in ("seconds", "digest"):
                total[k] = total.get(k, 0) + v
        if a.v:
            print("seed %d: %s" % (s, sim.stats))
            for k, v in sorted(sim.errors.items(), key=lambda kv: -kv[1]):
                print("    %4d x %s" % (v, k))
        if fails:
            nfail += 1
            for f in fails:
                print("FAIL seed %d: %s" % (s, f), flush=True)
            print("  replay: %s" % (replay_root_command(s) if a.root
                                    else replay_command(s, a.encrypted, a.checkpoints)),
                  flush=True)
        if a.list:
            print("seed %d %s %d ops %.2fs" % (s, "FAILED" if fails else "ok", sim.stats.get("ops", 0),
                                                sim.stats.get("seconds", 0)), flush=True)
        if a.progress:
            el = time.time() - t0
            sys.stderr.write("\rseeds %d/%d  failed %d  %.0fs (%.2fs/seed)   " % (
                n, len(seeds), nfail, el, el / n))
            sys.stderr.flush()
    if a.progress:
        sys.stderr.write("\n")
    print("bytesim: %d seeds, %d failed, %.0fs; totals %s" % (
        len(seeds), nfail, time.time() - t0, dict(sorted(total.items()))))
    return 1 if nfail else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
