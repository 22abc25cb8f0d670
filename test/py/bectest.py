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
