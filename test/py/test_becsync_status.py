"""The operators' view of becsync (issue 14): `becsync status DB` and
--metrics FILE.

    make && BEC_EXT=$PWD/build/bec /usr/bin/python3 test/py/test_becsync_status.py

- after two good sessions and one failed dial, `becsync status` on the
  client prints one line per peer: the server's address with 2 sessions, 0
  failures, a last success, the ops sent and received; the dead address with
  1 failure, no success and the error; on the server, the client's key
  (first 16 hex digits) with its sessions;
- the status table (becsync_peer) holds no key material, and the replicas
  still converge with identical heads and bec_check() 'ok' (it is no op);
- a status of a database with no sessions says so (exit 0);
- serve --metrics FILE keeps a Prometheus text file up to date while
  sessions run: every read of it is complete (written to a temp file and
  renamed), the counters match the sessions (started, ended ok, ops, bytes),
  a live session shows in becsync_live_sessions, and at exit becsync_up is 0;
- the metrics config key of `becsync run` writes the same file.
"""
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time

from bectest import EXT, T, connect, free_port, one
from bectest import wait_for as bectest_wait_for

BECSYNC = os.environ.get("BEC_BECSYNC") or os.path.join(os.path.dirname(EXT), "becsync")
TMP = tempfile.mkdtemp(prefix="bec_status_")


def path(name):
    return os.path.join(TMP, name + ".db")


def wait_for(cond, limit):
    return bectest_wait_for(cond, limit, 0.02)


def metrics(f):
    """The metrics file as {name{labels}: value}; None if incomplete."""
    try:
        text = open(f).read()
    except FileNotFoundError:
        return None
    if not text.rstrip().split("\n")[-1].startswith("becsync_metrics_timestamp_seconds"):
        return None
    out = {}
    for line in text.split("\n"):
        if line and not line.startswith("#"):
            k, v = line.rsplit(" ", 1)
            out[k] = float(v)
    return out


def status(db):
    p = subprocess.run([BECSYNC, "status", path(db)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=10)
    return p.returncode, p.stdout.decode()


c = connect(path("base"))
one(c, "SELECT bec_keygen()")
one(c, "SELECT bec_create_group()")
PUB = one(c, "SELECT bec_pubkey()")
one(c, "SELECT bec_sign(?)", b"base")
c.close()
for n in ("s", "c", "d"):
    shutil.copy(path("base"), path(n))
    shutil.copy(path("base") + "-bec-key", path(n) + "-bec-key")
c = connect(path("c"))
for i in range(4):
    one(c, "SELECT bec_sign(?)", b"c %d" % i)
c.close()

rc, text = status("c")
T.check(rc == 0 and "no sessions recorded" in text, "no sessions yet: %r" % text)

port, dead = free_port(), free_port()
mfile = os.path.join(TMP, "serve.prom")
out = open(os.path.join(TMP, "serve.log"), "w+")
srv = subprocess.Popen([BECSYNC, "--quiet", "serve", path("s"), "--listen", "127.0.0.1:%d" % port,
                        "--metrics", mfile], stdout=out, stderr=subprocess.STDOUT)
T.check(wait_for(lambda: metrics(mfile) is not None, 5), "serve wrote its metrics file")

# A reader that checks every version of the file it sees is complete.
bad_reads, reads = [], [0]
halt = threading.Event()


def reader():
    while not halt.is_set():
        if os.path.exists(mfile):
            m = metrics(mfile)
            reads[0] += 1
            if m is None:
                bad_reads.append(1)
        time.sleep(0.001)


th = threading.Thread(target=reader, daemon=True)
th.start()


def sync(db, p):
    return subprocess.run([BECSYNC, "--quiet", "sync", path(db), "127.0.0.1:%d" % p],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30).returncode


T.eq(sync("c", port), 0, "first sync")
c = connect(path("c"))
one(c, "SELECT bec_sign(?)", b"c more")
c.close()
T.eq(sync("c", port), 0, "second sync")
T.eq(sync("c", dead), 3, "a dial to a dead port fails (exit 3)")

rc, text = status("c")
T.eq(rc, 0, "status exit 0")
lines = {l.split()[0]: l for l in text.strip().split("\n")[1:]}
good = lines.get("127.0.0.1:%d" % port, "")
f = good.split()
T.check(len(f) >= 9 and f[3] == "2" and f[4] == "0", "the server's line: 2 sessions, 0 failures: %r" % good)
T.check(re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", f[1] if len(f) > 1 else "") is not None,
        "a last success time: %r" % good)
T.check(len(f) >= 9 and int(f[5]) >= 5, "ops sent counted: %r" % good)
badl = lines.get("127.0.0.1:%d" % dead, "")
g = badl.split()
T.check(len(g) >= 5 and g[1] == "never" and g[4] == "1" and "cannot connect" in badl,
        "the dead peer's line: never a success, 1 failure, the error: %r" % badl)
rc, text = status("s")
T.check(("key:" + PUB[:16]) in text, "the server's status names the client by key: %r" % text)
T.check("key:" + PUB not in text, "shortened as in the log lines")

# No secret, no effect on convergence.
c = connect(path("c"))
cols = [r[1] for r in c.execute("PRAGMA table_info(becsync_peer)")]
T.eq(cols, ["peer", "last_success", "last_failure", "sessions", "failures", "ops_sent", "ops_received",
            "bytes_sent", "bytes_received", "last_error"], "becsync_peer's columns")
blob = b"".join(str(v).encode() for r in c.execute("SELECT * FROM becsync_peer") for v in r)
key = open(path("c") + "-bec-key", "rb").read()[-32:]
T.check(key.hex().encode() not in blob and key not in blob, "no key material in becsync_peer")
T.eq(one(c, "SELECT bec_check()"), "ok", "bec_check() ok with the status table")
hc = [r[0] for r in c.execute("SELECT hash FROM bec_heads ORDER BY 1")]
c.close()
s = connect(path("s"))
T.eq([r[0] for r in s.execute("SELECT hash FROM bec_heads ORDER BY 1")], hc, "client and server heads identical")
s.close()

# A live session shows in the metrics.
lp = subprocess.Popen([BECSYNC, "--quiet", "sync", path("d"), "127.0.0.1:%d" % port, "--live"],
                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
T.check(wait_for(lambda: (metrics(mfile) or {}).get("becsync_live_sessions") == 1, 5), "one live session counted")
lp.send_signal(signal.SIGTERM)
lp.wait(5)
T.check(wait_for(lambda: (metrics(mfile) or {}).get("becsync_live_sessions") == 0, 5), "and gone after it ended")
m = metrics(mfile)
T.eq(m.get("becsync_sessions_started_total"), 3.0, "3 sessions started on the server")
T.eq(m.get('becsync_sessions_ended_total{result="ok"}'), 3.0, "3 ended ok")
T.check(m.get('becsync_ops_total{direction="received"}', 0) >= 5, "ops received counted: %r" % m)
T.check(m.get('becsync_bytes_total{direction="received"}', 0) > 1000, "bytes received counted")
T.check(m.get("becsync_up") == 1 and "becsync_write_queue" in m and "becsync_pending_ops" in m,
        "up, write queue and pending ops (queue depth) are there")
srv.send_signal(signal.SIGTERM)
T.eq(srv.wait(5), 0, "serve exits 0 on SIGTERM")
halt.set()
th.join()
T.check(reads[0] > 20 and not bad_reads, "every read of the metrics file was whole (%d reads, %d torn)"
        % (reads[0], len(bad_reads)))
T.eq(metrics(mfile).get("becsync_up"), 0.0, "at exit the file says becsync_up 0")
T.check(not os.path.exists(mfile + ".tmp"), "no temp file left")

# The config key.
rfile = os.path.join(TMP, "run.prom")
cfg = os.path.join(TMP, "run.conf")
open(cfg, "w").write("database = d.db\nlisten = 127.0.0.1:%d\nmetrics = run.prom\n" % free_port())
rp = subprocess.Popen([BECSYNC, "run", cfg], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
T.check(wait_for(lambda: metrics(rfile) is not None, 5), "run's metrics key writes the file (relative to the config)")
rp.send_signal(signal.SIGTERM)
T.eq(rp.wait(5), 0, "run exits 0")
shutil.rmtree(TMP, ignore_errors=True)
T.done()
