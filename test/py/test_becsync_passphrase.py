"""becsync with a passphrase-locked identity (issue 14): the passphrase comes
from a file descriptor, a file only its owner can read, or a prompt on the
terminal, never from the command line.

    make && BEC_EXT=$PWD/build/bec /usr/bin/python3 test/py/test_becsync_passphrase.py

- serve unlocks its key from --passphrase-file (mode 0600) and a client from
  --passphrase-fd: the session ends in sync and the client's ops arrive;
- a client asked on a terminal (a pty, echo off) syncs, and the passphrase
  typed is not echoed back;
- a passphrase file that group or others may read is refused (exit 2, the
  message names the mode), before any network traffic;
- a wrong passphrase fails clearly (exit 2, "wrong passphrase");
- no source and no terminal: exit 2, saying which options to use;
- the passphrase is in no process's command line (/proc/PID/cmdline of serve)
  and in no log line of either side.
"""
import os
import pty
import select
import shutil
import subprocess
import tempfile
import time

from bectest import EXT, T, connect, free_port, one

BECSYNC = os.environ.get("BEC_BECSYNC") or os.path.join(os.path.dirname(EXT), "becsync")
TMP = tempfile.mkdtemp(prefix="bec_pass_")
PASS = "correct horse battery staple 42"


def path(name):
    return os.path.join(TMP, name + ".db")


def ops(name):
    c = connect(path(name), timeout=10)
    try:
        return one(c, "SELECT count(*) FROM bec_ops")
    finally:
        c.close()


def write_pass(name, text, mode):
    f = os.path.join(TMP, name)
    with open(f, "w") as fh:
        fh.write(text)
    os.chmod(f, mode)
    return f


# A creator whose key is sealed (no key file), and a copy of it: the same
# identity, so both sides need the passphrase.
c = connect(path("s"))
one(c, "SELECT bec_keygen(?)", PASS)
one(c, "SELECT bec_create_group()")
for i in range(5):
    one(c, "SELECT bec_sign(?)", b"s %d" % i)
c.close()
T.check(not os.path.exists(path("s") + "-bec-key"), "a sealed key has no key file")
shutil.copy(path("s"), path("c"))
c = connect(path("c"))
one(c, "SELECT bec_unlock(?)", PASS)
for i in range(3):
    one(c, "SELECT bec_sign(?)", b"c %d" % i)
c.close()

good = write_pass("good.pass", PASS + "\n", 0o600)
port = free_port()
out = open(os.path.join(TMP, "serve.out"), "w+")
err = open(os.path.join(TMP, "serve.err"), "w+")
srv = subprocess.Popen([BECSYNC, "--quiet", "serve", path("s"), "--listen", "127.0.0.1:%d" % port,
                        "--passphrase-file", good], stdout=out, stderr=err)
for _ in range(100):
    err.seek(0)
    if "serving on" in err.read() or srv.poll() is not None:
        break
    time.sleep(0.05)
T.check(srv.poll() is None, "serve unlocked its key from --passphrase-file and runs")
with open("/proc/%d/cmdline" % srv.pid, "rb") as fh:
    T.check(PASS.encode() not in fh.read(), "the passphrase is not on serve's command line")


def client(*extra, stdin=None, fds=()):
    p = subprocess.run([BECSYNC, "--quiet", "sync", path("c"), "127.0.0.1:%d" % port] + list(extra),
                       stdin=stdin if stdin is not None else subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, pass_fds=fds,
                       timeout=30, start_new_session=True)
    return p.returncode, p.stdout.decode(errors="replace")


# --passphrase-fd: a pipe, written with a trailing newline.
r, w = os.pipe()
os.write(w, (PASS + "\n").encode())
os.close(w)
rc, text = client("--passphrase-fd", str(r), fds=(r,))
os.close(r)
T.eq(rc, 0, "sync with --passphrase-fd: " + text)
T.check("in sync with" in text, "the session ended in sync: " + text)
T.eq(ops("s"), ops("c"), "the client's ops reached the server")
T.eq(ops("s"), 9, "create + 5 + 3 ops")

# A prompt on a terminal: a pty with echo off.
pid, fd = pty.fork()
if pid == 0:
    os.execv(BECSYNC, [BECSYNC, "--quiet", "sync", path("c"), "127.0.0.1:%d" % port])
seen = b""
t0 = time.monotonic()
while b"passphrase for" not in seen and time.monotonic() - t0 < 10:
    if select.select([fd], [], [], 0.2)[0]:
        seen += os.read(fd, 1024)
T.check(b"passphrase for" in seen, "becsync asked on the terminal: %r" % seen)
os.write(fd, (PASS + "\n").encode())
after = b""
while time.monotonic() - t0 < 20:
    if select.select([fd], [], [], 0.2)[0]:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        after += chunk
_, status = os.waitpid(pid, 0)
os.close(fd)
T.eq(os.waitstatus_to_exitcode(status), 0, "sync after the prompt: %r" % after)
T.check(PASS.encode() not in seen + after, "the passphrase typed was not echoed")
T.check(b"in sync with" in after, "the prompted session ended in sync: %r" % after)

# A passphrase file that group members may read: refused.
loose = write_pass("loose.pass", PASS + "\n", 0o640)
rc, text = client("--passphrase-file", loose)
T.eq(rc, 2, "a group-readable passphrase file: exit 2")
T.check("open to group or others (mode 0640): refused" in text, "the refusal names the mode: " + text)

# A wrong passphrase (a file without its trailing newline: the same rule).
bad = write_pass("bad.pass", "not it", 0o600)
rc, text = client("--passphrase-file", bad)
T.eq(rc, 2, "a wrong passphrase: exit 2")
T.check("cannot unlock the identity key" in text and "wrong passphrase" in text,
        "a wrong passphrase says so: " + text)
r, w = os.pipe()
os.write(w, b"also wrong\n")
os.close(w)
rc, text = client("--passphrase-fd", str(r), fds=(r,))
os.close(r)
T.check(rc == 2 and "wrong passphrase" in text, "a wrong passphrase from a descriptor: %r %s" % (rc, text))

# The passphrase file without a newline works too (one trailing newline is
# stripped, not required).
exact = write_pass("exact.pass", PASS, 0o600)
rc, text = client("--passphrase-file", exact)
T.eq(rc, 0, "a passphrase file without a trailing newline: " + text)

# No source, no terminal: exit 2 and what to do.
rc, text = client()
T.eq(rc, 2, "locked key, no source, no terminal: exit 2")
T.check("--passphrase-fd" in text and "--passphrase-file" in text, "it says what to give: " + text)

# A passphrase on the command line is not an option at all.
rc, text = client("--passphrase", PASS)
T.eq(rc, 1, "--passphrase PASS is a usage error")

srv.terminate()
srv.wait(10)
out.seek(0)
err.seek(0)
logs = out.read() + err.read()
T.check("in sync with" in logs, "serve logged the sessions")
T.check(PASS not in logs, "the passphrase is in no log line of serve")
shutil.rmtree(TMP, ignore_errors=True)
T.done()
