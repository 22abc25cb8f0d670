"""becsync before authentication (issue 11, class 8): a peer with no key
cannot hold either side of a session, nor make it allocate a large frame.

    make && BEC_EXT=$PWD/build/bec /usr/bin/python3 test/py/test_becsync_preauth.py

Raw sockets on 127.0.0.1 play the hostile peer, against `becsync serve` and
against `becsync sync`, both run with `--handshake-timeout 1` (the whole
handshake has one total deadline; docs/sync.md, "becsync"):
- a server peer that sends nothing is closed at the deadline;
- a hello sent one byte every 200 ms is cut off at the deadline, and an
  honest client connecting meanwhile (serve runs sessions concurrently;
  test_becsync_server.py holds it to a tighter bound) completes
  within the deadline plus a small margin;
- a frame header announcing 64 MiB before authentication is refused at
  once (the log names the pre-auth bound of 1024 bytes), and the server's
  peak RSS does not grow while 16 MiB follow the header;
- a hostile server that stays silent or trickles its hello makes the client
  give up at the deadline (exit 3); one that announces a 64 MiB frame makes it
  give up at once (exit 5) with no growth of its peak RSS.
Every loop is bounded; the test takes a few seconds.
"""
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time

from bectest import EXT, T, closed_within, connect, free_port, one

BECSYNC = os.path.join(os.path.dirname(EXT), "becsync")
TMP = tempfile.mkdtemp(prefix="bec_preauth_")
DEADLINE = 1.0          # --handshake-timeout of every becsync below
MARGIN = 0.6            # scheduling slack (sanitizer build, shared machine)
HELLO = 4 + 1 + 1 + 32 + 32 + 32
HEADER = 24             # crypto_secretstream header
HUGE = 64 * 1024 * 1024 + 1 + 17    # the largest frame after authentication
FOLLOW = 16 * 1024 * 1024           # bytes sent after the huge frame's header
PREAUTH_MAX = 1024


def note(fmt, *args):
    """A measured value, for the record (not an assertion)."""
    print("# " + fmt % tuple("never" if a is None else a for a in args), flush=True)


def path(name):
    return os.path.join(TMP, name + ".db")


def hwm_kib(pid):
    """Peak resident set size of a running process, in KiB."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def hello(role, group):
    return b"BECS\x01" + role + group + os.urandom(32) + os.urandom(32)


def recv_exact(s, n):
    """n bytes from s, or fewer if it closes; s has a timeout."""
    out = b""
    for _ in range(n):  # at most n reads
        if len(out) >= n:
            break
        try:
            k = s.recv(n - len(out))
        except OSError:
            break
        if not k:
            break
        out += k
    return out


def send_huge(s):
    """A frame header announcing HUGE bytes, then FOLLOW bytes of it (the
    peer may close meanwhile)."""
    try:
        s.sendall(HUGE.to_bytes(4, "big"))
        chunk = b"\0" * (1024 * 1024)
        for _ in range(FOLLOW // len(chunk)):
            s.sendall(chunk)
    except OSError:
        pass


# ---------------------------------------------------------------------------
# Replicas: c serves, b (a copy, so a member) is the honest client.

a = connect(path("a"))
one(a, "SELECT bec_keygen()")
one(a, "SELECT bec_create_group()")
GROUP = bytes.fromhex(one(a, "SELECT bec_group_id()"))
for i in range(10):
    one(a, "SELECT bec_sign(?)", b"op %d" % i)
a.close()
for copy in ("b", "c"):
    # A copy of the database and of its key file (docs/reference.md, "Where
    # the secret key lives"): the same identity.
    shutil.copy(path("a"), path(copy))
    shutil.copy(path("a") + "-bec-key", path(copy) + "-bec-key")
db = connect(path("b"))
one(db, "SELECT bec_sign(x'0b')")
db.close()

PORT = free_port()
slog = open(os.path.join(TMP, "serve.log"), "w+")
serr = open(os.path.join(TMP, "serve.err"), "w+")
server = subprocess.Popen([BECSYNC, "--quiet", "serve", path("c"), "--listen", "127.0.0.1:%d" % PORT,
                           "--handshake-timeout", "1", "--timeout", "10"],
                          stdout=slog, stderr=serr)
for _ in range(100):
    serr.seek(0)
    if "serving on" in serr.read() or server.poll() is not None:
        break
    time.sleep(0.05)
serr.seek(0)
T.check("serving on" in serr.read(), "the server listens")


def log():
    slog.seek(0)
    return slog.read()


def honest_sync(db_name, port, limit):
    """Runs becsync sync; (exit code or None if killed, seconds, output)."""
    t0 = time.monotonic()
    p = subprocess.Popen([BECSYNC, "--quiet", "sync", path(db_name), "127.0.0.1:%d" % port],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        out, _ = p.communicate(timeout=limit)
        return p.returncode, time.monotonic() - t0, out.decode(errors="replace")
    except subprocess.TimeoutExpired:
        p.kill()
        out, _ = p.communicate()
        return None, time.monotonic() - t0, out.decode(errors="replace")


# ---------------------------------------------------------------------------
# Server side.

def test_server_idle():
    """A connection that sends nothing is closed at the deadline."""
    s = socket.create_connection(("127.0.0.1", PORT), timeout=5)
    t = closed_within(s, DEADLINE + 4, 0.1)
    s.close()
    note("server: idle peer closed after %s s", t and round(t, 3))
    T.check(t is not None and DEADLINE - 0.2 <= t <= DEADLINE + MARGIN,
            "an idle peer is closed at the %.1f s deadline (after %s s)" % (DEADLINE, t))


def test_server_trickle():
    """A hello one byte every 200 ms is cut off at the deadline; an honest
    client queued behind it is served within the deadline and a margin."""
    s = socket.create_connection(("127.0.0.1", PORT), timeout=5)
    s.setblocking(False)
    t0 = time.monotonic()
    res = {}
    th = threading.Thread(target=lambda: res.update(r=honest_sync("b", PORT, DEADLINE + 6)))
    t_start = None
    data = hello(b"C", GROUP)
    t_eof = None
    started = False
    for i in range(len(data)):      # at most 102 bytes, 20 s
        try:
            s.send(data[i:i + 1])
        except OSError:
            break                   # the server is gone: a hostile peer stops here
        for _ in range(4):          # 4 x 50 ms
            try:
                if not s.recv(4096) and t_eof is None:
                    t_eof = time.monotonic() - t0
            except BlockingIOError:
                pass
            except OSError:
                if t_eof is None:
                    t_eof = time.monotonic() - t0
            time.sleep(0.05)
            if not started and time.monotonic() - t0 >= 0.1:
                th.start()          # connects while the server is held
                started = True
                t_start = time.monotonic() - t0
    s.close()
    th.join(DEADLINE + 8)
    T.check(t_eof is not None and t_eof <= DEADLINE + MARGIN,
            "a trickled hello is cut off at the deadline (after %s s)" % t_eof)
    rc, t, out = res.get("r", (None, 0, "no result"))
    T.check(rc == 0, "the honest client queued behind it syncs: exit %s: %s" % (rc, out))
    done = (t_start or 0) + t
    note("server: trickler cut off after %s s; honest client done %.2f s after it connected", t_eof and round(t_eof, 3), done)
    T.check(done <= DEADLINE + 2 * MARGIN,
            "the honest client completes %.2f s after the trickler connected (deadline %.1f s)"
            % (done, DEADLINE))


def test_server_huge_frame():
    """A pre-auth frame header announcing 64 MiB is refused at once, without
    the server growing; 16 MiB that follow it change nothing."""
    before = hwm_kib(server.pid)
    s = socket.create_connection(("127.0.0.1", PORT), timeout=5)
    s.sendall(hello(b"C", GROUP))
    T.eq(len(recv_exact(s, HELLO)), HELLO, "the server's hello")
    s.sendall(os.urandom(HEADER))
    T.eq(len(recv_exact(s, HEADER)), HEADER, "the server's stream header")
    t0 = time.monotonic()
    send_huge(s)
    t = closed_within(s, DEADLINE + 4, 0.1)
    s.close()
    T.check(t is not None and time.monotonic() - t0 < DEADLINE / 2,
            "the server closes at once after the huge header (%.2f s)" % (time.monotonic() - t0))
    grew = hwm_kib(server.pid) - before
    note("server: huge frame refused, closed after %.3f s, peak RSS %d KiB (+%d KiB)",
         time.monotonic() - t0, before + grew, grew)
    T.check(grew < 4096, "the server's peak RSS grew by %d KiB (16 MiB sent)" % grew)
    for _ in range(20):
        if "before authentication" in log():
            break
        time.sleep(0.05)
    T.check("exceeds the limit of %d before authentication" % PREAUTH_MAX in log(),
            "the server logs the pre-auth bound: %s" % log()[-400:])


# ---------------------------------------------------------------------------
# Client side: a hostile server.

def hostile_server(behaviour):
    """Listens on a fresh port; one connection gets behaviour(sock)."""
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(1)
    ls.settimeout(5)

    def run():
        try:
            c, _ = ls.accept()
        except OSError:
            return
        c.settimeout(5)
        try:
            behaviour(c)
        finally:
            c.close()
            ls.close()
    th = threading.Thread(target=run)
    th.start()
    return ls.getsockname()[1], th


def run_client(port, limit):
    """becsync sync against port; (exit code or None if killed, seconds,
    output, peak RSS in KiB).  Reaped with wait4 for its own rusage."""
    t0 = time.monotonic()
    p = subprocess.Popen([BECSYNC, "--quiet", "sync", path("b"), "127.0.0.1:%d" % port,
                          "--handshake-timeout", "1"],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    status, ru = None, None
    for _ in range(int(limit / 0.02)):
        pid, st, r = os.wait4(p.pid, os.WNOHANG)
        if pid:
            status, ru = st, r
            break
        time.sleep(0.02)
    t = time.monotonic() - t0
    if status is None:
        p.kill()
        os.wait4(p.pid, 0)
    p.returncode = -1           # reaped here, not by Popen
    out = p.stdout.read().decode(errors="replace")
    p.stdout.close()
    rc = None if status is None else os.waitstatus_to_exitcode(status)
    return rc, t, out, (ru.ru_maxrss if ru else 0)


def silent(c):
    c.settimeout(DEADLINE + 3)
    for _ in range(HELLO + 2):      # reads the hello, then waits for the close
        try:
            if not c.recv(4096):
                return
        except OSError:
            return


def trickle(c):
    data = hello(b"S", GROUP)
    c.settimeout(0.2)
    for i in range(len(data)):      # at most 102 bytes, 20 s
        try:
            c.send(data[i:i + 1])
            if c.recv(4096) == b"":
                return              # the client closed
        except socket.timeout:
            pass
        except OSError:
            return


def huge(c):
    theirs = recv_exact(c, HELLO)
    c.sendall(b"BECS\x01S" + theirs[6:38] + os.urandom(64))
    recv_exact(c, HEADER)
    c.sendall(os.urandom(HEADER))
    send_huge(c)


def test_client():
    port, th = hostile_server(silent)
    rc, t, out, _ = run_client(port, DEADLINE + 5)
    th.join(DEADLINE + 5)
    T.check(rc == 3 and t <= DEADLINE + MARGIN,
            "a silent server: the client gives up at the deadline: exit %s after %.2f s: %s" % (rc, t, out))
    T.check("--handshake-timeout" in out, "the client says which deadline: %s" % out)

    port, th = hostile_server(trickle)
    rc, t, out, rss_base = run_client(port, DEADLINE + 5)
    th.join(DEADLINE + 5)
    T.check(rc == 3 and t <= DEADLINE + MARGIN,
            "a trickling server: the client gives up at the deadline: exit %s after %.2f s: %s" % (rc, t, out))

    port, th = hostile_server(huge)
    rc, t, out, rss = run_client(port, DEADLINE + 5)
    th.join(DEADLINE + 5)
    note("client: silent and trickling servers, gave up at the deadline; huge frame refused "
         "after %.3f s, peak RSS %d KiB (trickled session: %d KiB)", t, rss, rss_base)
    T.check(rc == 5 and t < DEADLINE,
            "a 64 MiB frame from the server: the client refuses it at once: exit %s after %.2f s: %s"
            % (rc, t, out))
    T.check("exceeds the limit of %d before authentication" % PREAUTH_MAX in out,
            "the client names the pre-auth bound: %s" % out)
    T.check(rss_base > 0 and rss < rss_base + 4096,
            "the client's peak RSS %d KiB stays near a trickled session's %d KiB" % (rss, rss_base))


try:
    test_server_idle()
    test_server_trickle()
    test_server_huge_frame()
    # The server is still in service.
    rc, t, out = honest_sync("b", PORT, DEADLINE + 6)
    T.check(rc == 0, "an honest client after all that: exit %s: %s" % (rc, out))
    test_client()
finally:
    server.terminate()
    try:
        server.wait(5)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()
    shutil.rmtree(TMP, ignore_errors=True)
T.done()
