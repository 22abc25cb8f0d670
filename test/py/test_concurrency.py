"""test_concurrency.py - two processes append ops to the same WAL database
file at once: no op is lost, each process sees the other's ops (the DAG
stays one chain, one head), bec_check() is ok.  (Crash safety under SIGKILL
is test/unit/test_crash.c.)"""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bectest import T, connect, one, EXT  # noqa: E402

PY = sys.executable
HERE = os.path.dirname(os.path.abspath(__file__))
d = tempfile.mkdtemp()

WRITER = r"""
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
db.enable_load_extension(True); db.load_extension(sys.argv[2])
for i in range(int(sys.argv[3])):
    db.execute("SELECT bec_sign(?)", (("%s-%d" % (sys.argv[4], i)).encode(),))
"""



def env():
    e = dict(os.environ)
    e["LD_PRELOAD"] = os.environ.get("BEC_PRELOAD", "")
    return e


# --- 1. two writers on one file -------------------------------------------------
path = os.path.join(d, "shared.db")
db = connect(path)
db.execute("PRAGMA journal_mode=WAL")
db.execute("SELECT bec_keygen()")
group = one(db, "SELECT bec_create_group()")
N = 150
procs = [subprocess.Popen([PY, "-c", WRITER, path, EXT, str(N), "w%d" % k], env=env())
         for k in range(2)]
rcs = [p.wait() for p in procs]
T.eq(rcs, [0, 0], "both writers finished")
T.eq(one(db, "SELECT count(*) FROM bec_ops WHERE kind='app'"), 2 * N, "no op lost")
T.eq(one(db, "SELECT count(DISTINCT CAST(payload AS TEXT)) FROM bec_ops WHERE kind='app'"), 2 * N,
     "every payload present once")
T.eq(one(db, "SELECT count(*) FROM bec_heads"), 1, "the writers saw each other's ops: one head")
T.eq(one(db, "SELECT bec_check()"), "ok", "check after concurrent writers")
db.close()

T.done()
