"""bectest.py - the harness of bec's Python tests (run with Debian's
/usr/bin/python3, whose sqlite3 module can load extensions).

    from bectest import T, connect
    db = connect()                      # in-memory, bec loaded
    T.check(cond, "what")               # one assertion
    T.raises(lambda: ..., "substring")  # an sqlite3.Error whose text has it
    T.done()                            # prints RESULT <passed> <failed>, exits

The extension is the one test/run.sh names in BEC_EXT (default: build/bec).
"""
import os
import socket
import sqlite3
import sys
import time
import traceback

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXT = os.environ.get("BEC_EXT", os.path.join(ROOT, "build", "bec"))


def load_bec(db):
    """Loads the extension (BEC_EXT) into connection db; returns db."""
    db.enable_load_extension(True)
    db.load_extension(EXT)
    db.enable_load_extension(False)
    return db


def connect(path=":memory:", **kw):
    return load_bec(sqlite3.connect(path, isolation_level=None, **kw))


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Replicas:
    """File databases of one test in a temporary folder: a group's origin
    (identity, group, optionally one bec table), replicas that join it, and
    clones (the same identity: the file and its key file)."""

    def __init__(self, prefix):
        import tempfile
        self.dir = tempfile.mkdtemp(prefix=prefix)

    def path(self, name):
        p = os.path.join(self.dir, name)
        for suffix in ("", "-wal", "-shm", "-bec-key"):
            if os.path.exists(p + suffix):
                os.remove(p + suffix)
        return p

    def origin(self, name, decl="id TEXT PRIMARY KEY, title TEXT, done INTEGER",
               table="todos", encrypted=False):
        db = connect(self.path(name))
        db.execute("SELECT bec_keygen()")
        db.execute("SELECT bec_create_group('encrypted')" if encrypted
                   else "SELECT bec_create_group()")
        if decl:
            db.execute("CREATE VIRTUAL TABLE %s USING bec(%s)" % (table, decl))
        return db

    def joined(self, src, name):
        db = connect(self.path(name))
        db.execute("SELECT bec_keygen()")
        db.execute("SELECT bec_join(?)", (one(src, "SELECT bec_group_id()"),))
        return db

    def member(self, src, name, role):
        """joined(src, name), then added by src with role."""
        db = self.joined(src, name)
        src.execute("SELECT bec_add_member(?, ?)", (pub(db), role))
        return db

    def clone(self, src, name):
        import shutil
        p = self.path(name)
        dst = sqlite3.connect(p)
        src.backup(dst)
        dst.close()
        shutil.copy(src.execute("SELECT bec_key_file()").fetchone()[0], p + "-bec-key")
        return connect(p)

    def cleanup(self):
        import shutil
        shutil.rmtree(self.dir, ignore_errors=True)


def ship(src, dst, reverse=False):
    """bec_ingest every op of src into dst (in reverse if asked)."""
    bodies = [b for (b,) in src.execute("SELECT body FROM bec_ops").fetchall()]
    if reverse:
        bodies.reverse()
    for b in bodies:
        dst.execute("SELECT bec_ingest(?)", (b,))


def wait_for(cond, limit, step=0.005):
    """True once cond() is true, polling every step seconds; after limit
    seconds, cond() as it is then."""
    import time
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit:
        if cond():
            return True
        time.sleep(step)
    return cond()


def start_logged(argv, logpath, cwd=None):
    """Starts argv with stdout and stderr in the file logpath; the process's
    .logfile is that file (see log_of)."""
    import subprocess
    out = open(logpath, "w+")
    p = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, cwd=cwd)
    p.logfile = out
    return p


def log_of(p):
    """What a process started by start_logged has written so far."""
    p.logfile.seek(0)
    return p.logfile.read()


def closed_within(s, limit, step=0.05):
    """Seconds until the peer closed socket s (EOF or reset), or None after
    limit seconds."""
    import socket
    import time
    t0 = time.monotonic()
    s.settimeout(step)
    for _ in range(int(limit / step) + 1):
        try:
            if not s.recv(65536):
                return time.monotonic() - t0
        except socket.timeout:
            pass
        except OSError:
            return time.monotonic() - t0
        if time.monotonic() - t0 > limit:
            break
    return None


def pub(db):
    """db's public key (hex)."""
    return one(db, "SELECT bec_pubkey()")


def one(db, sql, *args):
    row = db.execute(sql, args).fetchone()
    return None if row is None else row[0]


class _T:
    def __init__(self):
        self.npass = 0
        self.nfail = 0

    def check(self, cond, what=""):
        if cond:
            self.npass += 1
        else:
            self.nfail += 1
            frame = traceback.extract_stack()[-2]
            print("FAIL %s:%d: %s" % (os.path.basename(frame.filename), frame.lineno, what), flush=True)
        return cond

    def eq(self, got, want, what=""):
        return self.check(got == want, "%s: got %r, want %r" % (what, got, want))

    def raises(self, fn, substring, what=""):
        try:
            fn()
        except sqlite3.Error as e:
            return self.check(substring in str(e), "%s: error %r lacks %r" % (what, str(e), substring))
        return self.check(False, "%s: no error (wanted %r)" % (what, substring))

    def run(self, fns):
        """Calls each test function; one that raises is one failure (with
        its traceback), and the others still run.  BEC_TEST_TIMES=1 prints
        each one's wall time (to find what makes a file slow)."""
        timed = os.environ.get("BEC_TEST_TIMES") == "1"
        for fn in fns:
            t0 = time.time()
            try:
                fn()
            except Exception as e:
                traceback.print_exc()
                self.check(False, "%s raised %r" % (fn.__name__, e))
            if timed:
                print("  %s took %.1fs" % (fn.__name__, time.time() - t0), flush=True)

    def done(self):
        print("RESULT %d %d" % (self.npass, self.nfail), flush=True)
        sys.exit(1 if self.nfail else 0)


T = _T()


def bodies(db):
    """Every op body db holds."""
    return [r[0] for r in db.execute("SELECT body FROM bec_ops")]


def deliver(db, ops):
    """bec_ingest each op; a refusal is what the state comparison shows."""
    for b in ops:
        try:
            db.execute("SELECT bec_ingest(?)", (b,))
        except sqlite3.Error:
            pass


def ops_of(db):
    """{hash: body} of every op db holds."""
    return {h: b for h, b in db.execute("SELECT hash, body FROM bec_ops")}


def ingest_all(db, ops, rng=None):
    """bec_ingest each op (in rng's order if rng), every one accepted."""
    ops = list(ops)
    if rng:
        rng.shuffle(ops)
    for b in ops:
        one(db, "SELECT bec_ingest(?)", b)


def code(fn):
    """(extended result code, message) of the sqlite3.Error fn raises;
    (0, "") if it raises none."""
    try:
        fn()
    except sqlite3.Error as e:
        return getattr(e, "sqlite_errorcode", -1), str(e)
    return 0, ""


def checkpointed_history(path, n, nrow):
    """The compaction benches' history (tools/bench_prune.py,
    bench_snapshot.py): a new group at path whose one admin writes n ops,
    one row write each (a 16-byte text and an integer) over nrow rows of
    t(id INTEGER PRIMARY KEY, v TEXT, w INTEGER), then signs a checkpoint
    (sealed by its own claim: k = 1).  Returns the connection."""
    a = connect(path)
    a.execute("PRAGMA journal_mode=WAL")
    a.execute("PRAGMA synchronous=OFF")
    a.execute("SELECT bec_keygen()")
    a.execute("SELECT bec_create_group()")
    a.execute("CREATE VIRTUAL TABLE t USING bec(id INTEGER PRIMARY KEY, v TEXT, w INTEGER)")
    for i in range(n):
        a.execute("INSERT OR REPLACE INTO t VALUES(?, ?, ?)", (i % nrow, "value %10d" % i, i))
    a.execute("SELECT bec_checkpoint()")
    return a


def sync_session(a, b, seen=None):
    """One bec_sync_offer / bec_sync_apply session in SQL, a offering to b
    (peer labels 'a' and 'b'), until one side has nothing more to say.
    seen: a list that gets every message sent, in order."""
    m = one(a, "SELECT bec_sync_offer('b')")
    for _ in range(100):
        if seen is not None:
            seen.append(m)
        m = one(b, "SELECT bec_sync_apply('a', ?)", m)
        if not m:
            return
        if seen is not None:
            seen.append(m)
        m = one(a, "SELECT bec_sync_apply('b', ?)", m)
        if not m:
            return


def sync_all(dbs, rng):
    """Every op of any of dbs to each that lacks it, in rng's order."""
    allops = {}
    for d in dbs:
        allops.update(ops_of(d))
    for d in dbs:
        have = set(ops_of(d))
        ingest_all(d, [b for h, b in allops.items() if h not in have], rng)


def root_steps(dbs, rng, rounds=8):
    """sync_all, then bec_root_step on each, until no replica has a step of
    the threshold root to take (a key generation, a request's signing)."""
    for _ in range(rounds):
        sync_all(dbs, rng)
        if sum(one(d, "SELECT bec_root_step()") for d in dbs) == 0:
            break
    sync_all(dbs, rng)


class HostileGroup:
    """A founder `a` (admin) who adds the keys of hand-made ops (members:
    (becwire.Key, role) pairs), and n-1 more replicas that joined and hold
    a's ops.  state(db) is what the test compares between replicas."""

    def __init__(self, state, members, n=3):
        self.state = state
        self.a = connect()
        self.a.execute("SELECT bec_keygen()")
        self.a.execute("SELECT bec_create_group()")
        for key, role in members:
            self.a.execute("SELECT bec_add_member(?, ?)", (key.hex, role))
        self.gid = bytes.fromhex(one(self.a, "SELECT bec_group_id()"))
        self.reps = [self.a]
        for _ in range(n - 1):
            db = connect()
            db.execute("SELECT bec_join(?)", (self.gid.hex(),))
            self.reps.append(db)
        self.catch_up()

    def catch_up(self):
        for db in self.reps[1:]:
            deliver(db, bodies(self.a))

    def op(self, kind, preds, payload, key):
        """A hand-made op of key's (preds: ids or bodies)."""
        from becwire import make_op, op_id
        return make_op(key, kind, [p if len(p) == 32 else op_id(p) for p in preds], payload, self.gid)

    def heads(self, db=None):
        return [bytes.fromhex(r[0]) for r in (db or self.a).execute("SELECT hash FROM bec_heads")]

    def spread(self, ops, seed=0):
        """Every replica gets ops, each in another order."""
        import random
        rng = random.Random(seed)
        for i, db in enumerate(self.reps):
            order = list(ops)
            if i == 1:
                order.reverse()
            elif i > 1:
                rng.shuffle(order)
            deliver(db, order)

    def converged(self, what):
        """Every replica derives what replica 0 does, and checks ok."""
        states = [self.state(db) for db in self.reps]
        for i, s in enumerate(states[1:], 1):
            T.eq(s, states[0], "%s: replica %d derives what replica 0 does" % (what, i))
        for i, db in enumerate(self.reps):
            T.eq(one(db, "SELECT bec_check()"), "ok", "%s: bec_check() on replica %d" % (what, i))
        return states[0]
