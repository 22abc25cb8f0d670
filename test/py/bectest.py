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
               table="todos"):
        db = connect(self.path(name))
        db.execute("SELECT bec_keygen()")
        db.execute("SELECT bec_create_group()")
        if decl:
            db.execute("CREATE VIRTUAL TABLE %s USING bec(%s)" % (table, decl))
        return db

    def joined(self, src, name):
        db = connect(self.path(name))
        db.execute("SELECT bec_keygen()")
        db.execute("SELECT bec_join(?)", (one(src, "SELECT bec_group_id()"),))
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

    def done(self):
        print("RESULT %d %d" % (self.npass, self.nfail), flush=True)
        sys.exit(1 if self.nfail else 0)


T = _T()
