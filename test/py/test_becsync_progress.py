"""becsync's progress line (issue 19): a client that syncs from a peer
holding many ops it lacks shows the ops received of an estimate (the
peer's op count, sent in its 'K' frame, minus its own), a percentage and an
ETA while ops move; the estimate never drops below what arrived.  Shown on
a terminal, or with BEC_PROGRESS=1 (as here).

    BEC_EXT=$PWD/build/bec /usr/bin/python3 test/py/test_becsync_progress.py
"""
import os
import re
import shutil
import subprocess
import tempfile
import time

from bectest import EXT, T, connect, free_port, one

BECSYNC = os.environ.get("BEC_BECSYNC") or os.path.join(os.path.dirname(EXT), "becsync")
TMP = tempfile.mkdtemp(prefix="bec_progress_")
N = 600                                  # x 8 KiB: more than one 4 MiB message


def path(name):
    return os.path.join(TMP, name + ".db")


a = connect(path("a"))
one(a, "SELECT bec_keygen()")
one(a, "SELECT bec_create_group()")
b = connect(path("b"))
bpk = one(b, "SELECT bec_keygen()")
one(b, "SELECT bec_join(?)", one(a, "SELECT bec_group_id()"))
one(a, "SELECT bec_add_member(?, 'member')", bpk)
a.execute("BEGIN")
for i in range(N):
    a.execute("SELECT bec_sign(?)", (os.urandom(8192),))
a.execute("COMMIT")
total = one(a, "SELECT bec_sync_op_count()")
T.eq(total, N + 2, "bec_sync_op_count counts the stored ops")
T.eq(one(b, "SELECT bec_sync_op_count()"), 0, "and 0 on a replica that only joined")
a.close()
b.close()

port = free_port()
srv = subprocess.Popen([BECSYNC, "--quiet", "serve", path("a"), "--listen", "127.0.0.1:%d" % port],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
try:
    p = None
    for _ in range(50):
        p = subprocess.run([BECSYNC, "sync", path("b"), "127.0.0.1:%d" % port],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60,
                           env=dict(os.environ, BEC_PROGRESS="1"))
        if p.returncode != 3:
            break
        time.sleep(0.1)
    err = p.stderr.decode(errors="replace")
    T.eq(p.returncode, 0, "the sync ends in sync: " + err[-300:])
    lines = [l.strip() for l in err.split("\r") if "round" in l]
    T.check(len(lines) >= 2, "progress lines as rounds go: %r" % lines)
    got = [re.search(r"received (\d+) ops of ~(\d+) \((\d+)%\)", l) for l in lines]
    got = [(int(m.group(1)), int(m.group(2)), int(m.group(3))) for m in got if m]
    T.check(any(0 < r < w for r, w, _ in got), "a line mid-way, received < estimate: %r" % lines)
    T.check(all(w == total for r, w, _ in got), "the estimate is the peer's count: %r" % got)
    T.check(any("ETA" in l for l in lines if "of ~" in l and "100%" not in l), "an ETA while ops move: %r" % lines)
    T.check(got and got[-1][0] == total and got[-1][2] == 100, "the last line says 100%%: %r" % got)
finally:
    srv.terminate()
    srv.wait(10)
b = connect(path("b"))
T.eq(one(b, "SELECT count(*) FROM bec_ops"), total, "everything arrived")
b.close()
shutil.rmtree(TMP, ignore_errors=True)
T.done()
