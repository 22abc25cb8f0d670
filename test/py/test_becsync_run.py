"""becsync run CONFIG (issue 14): one long-running process per replica with
live sessions to the peers of its config file.

    make && BEC_EXT=$PWD/build/bec /usr/bin/python3 test/py/test_becsync_run.py

- a relay (listen) and a replica (peer = the relay), both `run`: an op
  written on the replica's file arrives at the relay;
- a replica whose only peer is down (backs off, logs failures) gets nothing;
  after its config is edited to name the relay and SIGHUP, it dials the
  relay (the log says 1 added, 1 dropped) and receives the op;
- SIGHUP with a broken config: an ERROR line naming the line, the running
  configuration stays and keeps syncing;
- SIGTERM: every run process exits 0 within 2 s;
- bad configs (unknown key, bad number, a key twice, no database, no line
  with "=", nothing to do) exit 1 with a message naming FILE:LINE;
- relative paths are taken from the config file's directory;
- a sealed key is unlocked from the config's passphrase-file, which is
  refused (exit 2) once others may read it.
"""
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

from bectest import EXT, T, connect, free_port, log_of, one, start_logged
from bectest import wait_for as bectest_wait_for

BECSYNC = os.environ.get("BEC_BECSYNC") or os.path.join(os.path.dirname(EXT), "becsync")
TMP = tempfile.mkdtemp(prefix="bec_run_")
procs = []


def path(name):
    return os.path.join(TMP, name + ".db")


def conf(name, text):
    f = os.path.join(TMP, name + ".conf")
    with open(f, "w") as fh:
        fh.write(text)
    return f


def run(name, cfg):
    # cwd elsewhere: relative paths in the config must not depend on it.
    p = start_logged([BECSYNC, "run", cfg], os.path.join(TMP, name + ".log"), cwd="/")
    procs.append(p)
    return p


log = log_of


def wait_for(cond, limit):
    return bectest_wait_for(cond, limit, 0.01)


def has(name, h):
    c = connect(path(name), timeout=10)
    try:
        return one(c, "SELECT count(*) FROM bec_ops WHERE hash=?", h) == 1
    finally:
        c.close()


def sign(name, text):
    c = connect(path(name), timeout=10)
    try:
        return one(c, "SELECT bec_sign(?)", text.encode())
    finally:
        c.close()


c = connect(path("base"))
one(c, "SELECT bec_keygen()")
one(c, "SELECT bec_create_group()")
one(c, "SELECT bec_sign(?)", b"base")
c.close()
for n in ("relay", "a", "b"):
    shutil.copy(path("base"), path(n))
    shutil.copy(path("base") + "-bec-key", path(n) + "-bec-key")

port, dead = free_port(), free_port()
relay_cfg = conf("relay", "# the relay\ndatabase = relay.db\nlisten = 127.0.0.1:%d\n" % port)
a_cfg = conf("a", "database = a.db\n\n  peer = 127.0.0.1:%d\ninterval = 5\nkeepalive = 2\n" % port)
b_cfg = conf("b", "database=b.db\npeer=127.0.0.1:%d\ninterval=2\n" % dead)
relay = run("relay", relay_cfg)
T.check(wait_for(lambda: "serving on" in log(relay), 10), "the relay runs: " + log(relay))
pa = run("a", a_cfg)
pb = run("b", b_cfg)
T.check(wait_for(lambda: "live session with" in log(pa), 10), "a holds a live session: " + log(pa))

h = sign("a", "from a")
T.check(wait_for(lambda: has("relay", h), 2), "an op written on a's file reaches the relay")
time.sleep(1.5)
T.check(not has("b", h), "b, whose peer is down, has not got it")
T.check("cannot connect to 127.0.0.1:%d" % dead in log(pb), "b logs its failures: " + log(pb))
n_fail = log(pb).count("cannot connect")
T.check(1 <= n_fail <= 3, "b backs off (%d dials in 1.5 s)" % n_fail)

# Edit b's peers and SIGHUP.
conf("b", "database=b.db\npeer=127.0.0.1:%d\ninterval=2\n" % port)
pb.send_signal(signal.SIGHUP)
T.check(wait_for(lambda: "reloaded" in log(pb), 5), "b reloaded: " + log(pb))
T.check(re.search(r"reloaded \S+b\.conf: 1 peer \(1 added, 1 dropped\)", log(pb)) is not None,
        "the reload line counts the change: " + log(pb))
T.check(wait_for(lambda: has("b", h), 5), "after SIGHUP b dials the relay and gets a's op")
h2 = sign("b", "from b")
T.check(wait_for(lambda: has("a", h2), 2), "and b's op reaches a through the relay")

# A broken config on SIGHUP: logged, ignored.
conf("a", "database = a.db\npeer = 127.0.0.1:%d\ncolour = blue\n" % port)
pa.send_signal(signal.SIGHUP)
T.check(wait_for(lambda: "reload:" in log(pa), 5), "a logged the failed reload")
T.check(re.search(r"ERROR - - - reload: \S+a\.conf:3: unknown key \"colour\"; the running configuration stays",
                  log(pa)) is not None, "naming file and line: " + log(pa))
h3 = sign("relay", "from the relay")
T.check(wait_for(lambda: has("a", h3) and has("b", h3), 2), "a and b still sync after it")
# A reload that changes more than peers says what needs a restart.
conf("a", "database = a.db\npeer = 127.0.0.1:%d\ninterval = 5\nkeepalive = 2\ntimeout = 60\n" % port)
pa.send_signal(signal.SIGHUP)
T.check(wait_for(lambda: "need a restart" in log(pa), 5), "a changed timeout needs a restart: " + log(pa))

# SIGTERM: prompt, clean, exit 0.
for p in (pa, pb, relay):
    t0 = time.monotonic()
    p.send_signal(signal.SIGTERM)
    try:
        rc = p.wait(5)
    except subprocess.TimeoutExpired:
        rc = None
    T.eq(rc, 0, "SIGTERM: exit 0")
    T.check(time.monotonic() - t0 < 2, "within 2 s (%.2f)" % (time.monotonic() - t0))
T.check("the peer ended it" in log(relay), "the relay saw clean ends: " + log(relay))

# Bad configs.
def bad(text, want):
    f = conf("bad", text)
    p = subprocess.run([BECSYNC, "run", f], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=10)
    out = p.stdout.decode()
    T.eq(p.returncode, 1, "bad config %r: exit 1 (%s)" % (text, out.strip()))
    T.check(want in out, "bad config %r: %r lacks %r" % (text, out, want))


bad("database = x.db\n# fine\ncolour = blue\n", "bad.conf:3: unknown key \"colour\"")
bad("database = x.db\npeer = h:1\ninterval = soon\n", "bad.conf:3: interval: want a whole number from 1 to 1000000")
bad("database = x.db\ndatabase = y.db\npeer = h:1\n", "bad.conf:2: database given twice (first on line 1)")
bad("peer = h:1\n", "bad.conf: no \"database = PATH\" line")
bad("database = x.db\npeer h:1\n", "bad.conf:2: want \"key = value\"")
bad("database = x.db\npeer = nocolon\n", "bad.conf:2: peer: want HOST:PORT")
bad("database = x.db\n", "nothing to do")
bad("database = x.db\npeer = h:1\nbacklog =\n", "bad.conf:3: backlog: no value")
p = subprocess.run([BECSYNC, "run", os.path.join(TMP, "missing.conf")], stdout=subprocess.PIPE,
                   stderr=subprocess.STDOUT, timeout=10)
T.check(p.returncode == 1 and "missing.conf" in p.stdout.decode(), "a missing config: exit 1")

# A sealed key: the passphrase-file key of the config unlocks it.
c = connect(path("locked"))
one(c, "SELECT bec_keygen('s3cret phrase')")
one(c, "SELECT bec_create_group()")
c.close()
with open(os.path.join(TMP, "locked.pass"), "w") as fh:
    fh.write("s3cret phrase\n")
os.chmod(os.path.join(TMP, "locked.pass"), 0o600)
lk = run("locked", conf("locked", "database = locked.db\nlisten = 127.0.0.1:%d\npassphrase-file = locked.pass\n"
                        % free_port()))
T.check(wait_for(lambda: "serving on" in log(lk), 10), "run unlocks a sealed key from passphrase-file: " + log(lk))
lk.send_signal(signal.SIGTERM)
T.eq(lk.wait(5), 0, "and stops with exit 0")
os.chmod(os.path.join(TMP, "locked.pass"), 0o644)
p = subprocess.run([BECSYNC, "run", os.path.join(TMP, "locked.conf")], stdout=subprocess.PIPE,
                   stderr=subprocess.STDOUT, timeout=10)
T.check(p.returncode == 2 and "open to group or others" in p.stdout.decode(),
        "a passphrase file others can read: exit 2: %r" % p.stdout)
T.check("s3cret" not in log(lk) and "s3cret" not in p.stdout.decode(), "the passphrase is in no log")

for p in procs:
    if p.poll() is None:
        p.kill()
shutil.rmtree(TMP, ignore_errors=True)
T.done()
