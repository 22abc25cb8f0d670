"""bench_relay.py - one relay (`becsync serve`) on loopback under many
simultaneous clients, with and without 10 idle hostile connections held
open (issue 14).  Run by `make bench` (tools/bench.sh) with Debian's
/usr/bin/python3:

    BEC_EXT=build/bec /usr/bin/python3 tools/bench_relay.py [ROUNDS]

Each client is its own replica (a copy of one group's history) and a
`becsync sync` process; before every round each client signs one new op,
so every session moves ops both ways.  A session's time is its process's
wall time, start to exit (clients get --timeout 120: on a loaded machine
200 processes starve each other of CPU).  For 50 and 200 clients, ROUNDS rounds with and
ROUNDS without the idle connections run interleaved (plain, hostile,
plain, ...), so drift of the machine hits both alike; the figures are the
median and 99th percentile of all session times of a kind, and the ratio
hostile/plain of each (goal <= 1.2x).  The relay's per-address bound is
raised for it (everything comes from 127.0.0.1).  BENCH_SIZES=50,200 and
BENCH_DIR (where the replicas live; /dev/shm takes the disk out) change the
defaults.
"""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "test", "py"))
from bectest import EXT, connect, free_port, one  # noqa: E402

BECSYNC = os.environ.get("BEC_BECSYNC") or os.path.join(os.path.dirname(EXT), "becsync")
ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 3
SIZES = tuple(int(x) for x in os.environ.get("BENCH_SIZES", "50,200").split(","))
IDLE = 10
TMP = tempfile.mkdtemp(prefix="bench_relay_", dir=os.environ.get("BENCH_DIR"))


def path(name):
    return os.path.join(TMP, name + ".db")


def pct(a, q):
    a = sorted(a)
    return a[min(len(a) - 1, int(q * len(a)))]


class Idle(threading.Thread):
    """IDLE connections that send nothing, reopened whenever the relay
    closes one (at its handshake deadline), until stopped."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port, self.halt = port, threading.Event()
        self.socks = [self.open() for _ in range(IDLE)]

    def open(self):
        s = socket.create_connection(("127.0.0.1", self.port))
        s.setblocking(False)
        return s

    def run(self):
        while not self.halt.wait(0.2):
            for i, s in enumerate(self.socks):
                try:
                    if s.recv(1) == b"":
                        raise OSError
                except BlockingIOError:
                    continue
                except OSError:
                    s.close()
                    self.socks[i] = self.open()

    def stop(self):
        self.halt.set()
        self.join()
        for s in self.socks:
            s.close()


def round_(n, port):
    """One round of n simultaneous clients: their session times."""
    for i in range(n):
        c = connect(path("c%d" % i))
        one(c, "SELECT bec_sign(?)", os.urandom(16))
        c.close()
    t0 = [0.0] * n
    t1 = [None] * n
    procs = []
    for i in range(n):
        t0[i] = time.monotonic()
        procs.append(subprocess.Popen([BECSYNC, "--quiet", "--timeout", "120", "sync", path("c%d" % i),
                                       "127.0.0.1:%d" % port],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    left = set(range(n))
    fails = 0
    deadline = time.monotonic() + 300
    while left and time.monotonic() < deadline:
        for i in list(left):
            rc = procs[i].poll()
            if rc is not None:
                t1[i] = time.monotonic()
                fails += rc != 0
                left.discard(i)
        time.sleep(0.002)
    for i in left:
        procs[i].kill()
        procs[i].wait()
        fails += 1
    return [t1[i] - t0[i] for i in range(n) if t1[i] is not None], fails


def main():
    a = connect(path("a"))
    one(a, "SELECT bec_keygen()")
    one(a, "SELECT bec_create_group()")
    for i in range(100):
        one(a, "SELECT bec_sign(?)", os.urandom(100))
    a.close()
    print("bench_relay: one relay on loopback, N simultaneous `becsync sync` clients (own replicas, "
          "one new op each per round), %d rounds of each kind interleaved, %d idle connections when "
          "hostile" % (ROUNDS, IDLE))
    print("%-8s %-8s %10s %10s %10s %7s" % ("clients", "hostile", "median s", "p99 s", "round s", "failed"))
    ratios = []
    for n in SIZES:
        shutil.copy(path("a"), path("r%d" % n))
        for i in range(n):
            shutil.copy(path("a"), path("c%d" % i))
        port = free_port()
        log = open(os.path.join(TMP, "serve.log"), "w")
        srv = subprocess.Popen([BECSYNC, "--quiet", "serve", path("r%d" % n), "--listen", "127.0.0.1:%d" % port,
                                "--max-per-addr", str(n + 2 * IDLE), "--max-conns", str(n + 2 * IDLE),
                                "--backlog", "512"], stdout=log, stderr=log)
        time.sleep(0.5)
        round_(n, port)                     # warm-up: everyone catches up
        times = {False: [], True: []}
        walls = {False: [], True: []}
        fails = {False: 0, True: 0}
        for r in range(ROUNDS):
            for hostile in ((False, True) if r % 2 == 0 else (True, False)):
                idle = None
                if hostile:
                    idle = Idle(port)
                    idle.start()
                    time.sleep(0.1)
                t = time.monotonic()
                ts, f = round_(n, port)
                walls[hostile].append(time.monotonic() - t)
                times[hostile] += ts
                fails[hostile] += f
                if idle:
                    idle.stop()
        srv.terminate()
        srv.wait()
        log.close()
        for hostile in (False, True):
            print("%-8d %-8s %10.3f %10.3f %10.2f %7d" % (n, "10 idle" if hostile else "none",
                  pct(times[hostile], 0.5), pct(times[hostile], 0.99),
                  sorted(walls[hostile])[len(walls[hostile]) // 2], fails[hostile]))
        rm = pct(times[True], 0.5) / pct(times[False], 0.5)
        rp = pct(times[True], 0.99) / pct(times[False], 0.99)
        ratios.append((n, rm, rp))
    for n, rm, rp in ratios:
        print("%d clients: hostile/plain median %.2fx, p99 %.2fx (goal <= 1.2x)" % (n, rm, rp))
    shutil.rmtree(TMP, ignore_errors=True)


main()
