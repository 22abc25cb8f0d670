"""Multi-host test (issue 14): 10 replicas and 2 relays, each in its own
network namespace on one bridge, with becsync run CONFIG everywhere.

  - the relays (role 'relay' in the group, docs/membership.md) listen and
    dial each other (a mesh: both dial, both serve);
  - each replica keeps live sessions to both relays;
  - a hostile namespace holds, against each relay, an idle connection and a
    client that sends its hello one byte at a time, reconnecting whenever it
    is dropped, for the whole run;
  - replicas write rows into a replicated table throughout; two replicas are
    cut off (their link down) and write while partitioned, then healed;
  - one replica writes a large batch and relay 0 is SIGKILLed while it moves,
    then restarted;
  - everything converges within CONVERGE_S seconds after the last write:
    identical rows, members and heads on all 12 databases, bec_check() 'ok'.

Needs root and network namespaces (ip netns add); otherwise prints a SKIP
line and passes.  Traffic stays in the namespaces this test makes (a private
10.x subnet on its own bridge, no route out); namespaces, bridge, processes
and files are removed at the end, also on failure or a signal.

    BEC_EXT=$PWD/build/bec /usr/bin/python3 test/py/test_netns.py
"""
import atexit
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bectest import EXT, T, connect, one, wait_for  # noqa: E402

BECSYNC = os.environ.get("BEC_BECSYNC") or os.path.join(os.path.dirname(EXT), "becsync")
N_REPLICAS = 10
N_RELAYS = 2
PORT = 4100
CONVERGE_S = 40          # the asserted bound, after the last write
SAN = bool(os.environ.get("BEC_SAN"))

TAG = "%04d" % (os.getpid() % 10000)
NET = "10.%d.%d" % (200 + os.getpid() % 50, os.getpid() % 250)
BRIDGE = "bb" + TAG
TMP = None
NAMESPACES = []
LINKS = []
PROCS = []


def sh(*args, check=True):
    p = subprocess.run(list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if check and p.returncode:
        raise RuntimeError("%s: %s" % (" ".join(args), p.stderr.decode(errors="replace")))
    return p.returncode


def cleanup():
    """Everything this test made: processes (by their pid), namespaces,
    links, bridge, files.  Safe to run twice."""
    for p in PROCS:
        if p.poll() is None:
            try:
                p.kill()
            except OSError:
                pass
    for p in PROCS:
        try:
            p.wait(5)
        except Exception:
            pass
    del PROCS[:]
    for ns in NAMESPACES:
        sh("ip", "netns", "del", ns, check=False)
    del NAMESPACES[:]
    for link in LINKS:
        sh("ip", "link", "del", link, check=False)
    del LINKS[:]
    sh("ip", "link", "del", BRIDGE, check=False)
    if TMP:
        shutil.rmtree(TMP, ignore_errors=True)


def on_signal(signum, frame):
    cleanup()
    sys.exit(1)


def can_run():
    if SAN and not os.environ.get("BEC_NETNS_SAN"):
        # Processes and namespaces, not memory: the sanitizer pass runs the
        # same binaries in test_becsync_* (BEC_NETNS_SAN=1 runs it anyway).
        return "on the sanitizer build (BEC_NETNS_SAN=1 to run it)"
    if os.geteuid() != 0:
        return "not root"
    if not shutil.which("ip"):
        return "no iproute2"
    probe = "becprobe" + TAG
    if sh("ip", "netns", "add", probe, check=False):
        return "network namespaces unavailable (ip netns add failed)"
    sh("ip", "netns", "del", probe, check=False)
    return None


def ns_name(i):
    return "bec%s_%d" % (TAG, i)


def addr(i):
    return "%s.%d" % (NET, i + 10)


def make_net(n):
    sh("ip", "link", "add", BRIDGE, "type", "bridge")
    sh("ip", "link", "set", BRIDGE, "up")
    for i in range(n):
        ns = ns_name(i)
        host, peer = "bv%s_%d" % (TAG, i), "bp%s_%d" % (TAG, i)
        sh("ip", "netns", "add", ns)
        NAMESPACES.append(ns)
        sh("ip", "link", "add", host, "type", "veth", "peer", "name", peer)
        LINKS.append(host)
        sh("ip", "link", "set", peer, "netns", ns)
        sh("ip", "link", "set", host, "master", BRIDGE)
        sh("ip", "link", "set", host, "up")
        sh("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")
        sh("ip", "netns", "exec", ns, "ip", "addr", "add", addr(i) + "/24", "dev", peer)
        sh("ip", "netns", "exec", ns, "ip", "link", "set", peer, "up")


def dbpath(name):
    return os.path.join(TMP, name + ".db")


def start(i, name, peers, listen=None):
    conf = os.path.join(TMP, name + ".conf")
    with open(conf, "w") as f:
        f.write("database = %s\n" % dbpath(name))
        for p in peers:
            f.write("peer = %s:%d\n" % (p, PORT))
        if listen:
            f.write("listen = %s:%d\n" % (listen, PORT))
        f.write("interval = 5\ntimeout = 10\nhandshake-timeout = 3\n")
    log = open(os.path.join(TMP, name + ".log"), "a")
    p = subprocess.Popen(["ip", "netns", "exec", ns_name(i), BECSYNC, "--quiet", "run", conf],
                         stdout=log, stderr=subprocess.STDOUT)
    PROCS.append(p)
    return p


HOSTILE = r"""
import socket, sys, time
relays = sys.argv[1:]
idle, slow, n_re = {}, {}, 0
hello = b"BECS\x01C" + bytes(96)
pos = {}
while True:
    for r in relays:
        for d in (idle, slow):
            s = d.get(r)
            if s is None:
                try:
                    s = socket.create_connection((r, %d), timeout=2)
                    s.setblocking(False)
                    d[r] = s
                    pos[(id(d), r)] = 0
                    n_re += 1
                except OSError:
                    continue
            try:
                if d is slow:
                    i = pos[(id(d), r)] %% len(hello)
                    s.send(hello[i:i+1])
                    pos[(id(d), r)] += 1
                if s.recv(1) == b"":
                    raise OSError("closed")
            except BlockingIOError:
                pass
            except OSError:
                s.close()
                d[r] = None
    print("connections", n_re, flush=True)
    time.sleep(0.5)
""" % PORT


def rows(db):
    return [tuple(r) for r in db.execute("SELECT k, v FROM kv ORDER BY k")]


def snapshot(name):
    c = connect(dbpath(name), timeout=20)
    try:
        heads = tuple(r[0] for r in c.execute("SELECT hash FROM bec_heads ORDER BY hash"))
        members = tuple(c.execute("SELECT pubkey, role FROM bec_members ORDER BY pubkey"))
        n = one(c, "SELECT count(*) FROM bec_ops")
        try:
            r = tuple(rows(c))
        except Exception:
            r = None
        return heads, members, n, r
    finally:
        c.close()


def write(name, n, tag, big=False):
    c = connect(dbpath(name), timeout=20)
    try:
        c.execute("BEGIN IMMEDIATE")
        for k in range(n):
            c.execute("INSERT INTO kv VALUES(?, ?)",
                      ("%s-%s-%d" % (name, tag, k), ("x" * 200) if big else tag))
        c.execute("COMMIT")
    finally:
        c.close()


def main():
    global TMP
    why = can_run()
    if why:
        print("SKIP test_netns: %s" % why)
        T.done()
    atexit.register(cleanup)
    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(s, on_signal)
    TMP = tempfile.mkdtemp(prefix="bec_netns_")
    t_begin = time.monotonic()
    names = ["r%d" % i for i in range(N_REPLICAS)] + ["relay%d" % i for i in range(N_RELAYS)]
    idx = {n: i for i, n in enumerate(names)}
    relay_addr = [addr(idx["relay%d" % i]) for i in range(N_RELAYS)]
    hostile_i = len(names)
    try:
        make_net(len(names) + 1)
        # The group: r0 creates it, adds the replicas as members and the
        # relays as relays, and makes the table; every database starts
        # from those ops (as if invited), the relays too.
        c0 = connect(dbpath("r0"))
        one(c0, "SELECT bec_keygen()")
        one(c0, "SELECT bec_create_group()")
        group = one(c0, "SELECT bec_group_id()")
        for n in names[1:]:
            c = connect(dbpath(n))
            pub = one(c, "SELECT bec_keygen()")
            one(c, "SELECT bec_join(?)", group)
            c.close()
            one(c0, "SELECT bec_add_member(?, ?)", pub,
                "relay" if n.startswith("relay") else "member")
        c0.execute("CREATE VIRTUAL TABLE kv USING bec(k TEXT PRIMARY KEY, v TEXT)")
        ops = [one(c0, "SELECT bec_op(?)", h) for (h,) in
               c0.execute("SELECT hash FROM bec_ops ORDER BY depth, hash").fetchall()]
        c0.close()
        for n in names[1:]:
            c = connect(dbpath(n))
            for o in ops:
                one(c, "SELECT bec_ingest(?)", o)
            c.execute("PRAGMA journal_mode=WAL")
            c.close()
        T.eq(snapshot("relay1")[1], snapshot("r0")[1], "members seeded everywhere")

        relays = []
        for i in range(N_RELAYS):
            others = [a for j, a in enumerate(relay_addr) if j != i]
            relays.append(start(idx["relay%d" % i], "relay%d" % i, others, listen=relay_addr[i]))
        hostile_log = open(os.path.join(TMP, "hostile.log"), "w")
        hostile = subprocess.Popen(["ip", "netns", "exec", ns_name(hostile_i), sys.executable,
                                    "-c", HOSTILE] + relay_addr,
                                   stdout=hostile_log, stderr=subprocess.STDOUT)
        PROCS.append(hostile)
        time.sleep(0.5)
        for i in range(N_REPLICAS):
            start(idx["r%d" % i], "r%d" % i, relay_addr)

        # Phase 1: everyone writes.
        for i in range(N_REPLICAS):
            write("r%d" % i, 5, "p1")
        time.sleep(2)
        # Phase 2: r8 and r9 are cut off and write; a big batch on r3 while
        # relay 0 is killed; the others write too.
        cut = ["bv%s_%d" % (TAG, idx["r8"]), "bv%s_%d" % (TAG, idx["r9"])]
        for link in cut:
            sh("ip", "link", "set", link, "down")
        for n in ("r8", "r9"):
            write(n, 10, "cut")
        # The big batch: 40 commits of 100 rows (200 B each), pushed while
        # they are made; relay 0 dies in the middle of it.
        # (paced, and the kill waits for its first commits: a fixed sleep
        # raced a fast machine, which wrote all 40 before the kill)
        made = []

        def batch():
            for b in range(40):
                write("r3", 100, "big%d" % b, big=True)
                made.append(b)
                time.sleep(0.02)
        big = threading.Thread(target=batch)
        big.start()
        wait_for(lambda: len(made) >= 3 or not big.is_alive(), 30)
        relays[0].send_signal(signal.SIGKILL)
        at_kill = len(made)
        relays[0].wait()
        T.check(3 <= at_kill < 40, "relay 0 killed while the batch was being written "
                "(after %d of its 40 commits)" % at_kill)
        big.join()
        for i in range(N_REPLICAS - 2):
            write("r%d" % i, 5, "p2")
        time.sleep(2)
        relays[0] = start(idx["relay0"], "relay0", relay_addr[1:], listen=relay_addr[0])
        time.sleep(3)
        for link in cut:
            sh("ip", "link", "set", link, "up")
        for i in range(N_REPLICAS):
            write("r%d" % i, 3, "p3")
        t_last = time.monotonic()

        # Convergence.
        bound = CONVERGE_S * (3 if SAN else 1)
        snaps = None
        while time.monotonic() - t_last < bound:
            time.sleep(1)
            snaps = {n: snapshot(n) for n in names}
            if len({s for s in snaps.values()}) == 1:
                break
        t_conv = time.monotonic() - t_last
        distinct = len({s for s in snaps.values()})
        T.eq(distinct, 1, "all 12 databases converge within %d s" % bound)
        print("# converged %.1f s after the last write (%d ops, %d rows; whole test %.1f s)"
              % (t_conv, snaps["r0"][2], len(snaps["r0"][3] or []), time.monotonic() - t_begin))
        if distinct != 1:
            for n, s in sorted(snaps.items()):
                print("#   %s: %d ops, %d heads, %s rows" % (n, s[2], len(s[0]),
                                                            len(s[3]) if s[3] else s[3]))
        want_rows = N_REPLICAS * 5 + 20 + (N_REPLICAS - 2) * 5 + N_REPLICAS * 3 + 4000
        T.eq(len(snaps["r0"][3] or []), want_rows, "every row everywhere")
        T.eq(dict(snaps["r0"][1]).get(one(connect(dbpath("relay0")), "SELECT bec_pubkey()")),
             "relay", "relay 0 is listed as a relay")
        for n in names:
            c = connect(dbpath(n), timeout=20)
            T.eq(one(c, "SELECT bec_check()"), "ok", "bec_check on " + n)
            c.close()
        for i, p in enumerate(relays):
            T.check(p.poll() is None, "relay %d still running" % i)
        hostile_log.flush()
        with open(os.path.join(TMP, "hostile.log")) as f:
            lines = f.read().split()
        T.check(len(lines) > 10, "the hostile clients ran the whole time")
    finally:
        if T.nfail:
            for n in ("relay0", "relay1"):
                try:
                    with open(os.path.join(TMP, n + ".log")) as f:
                        print("# %s log tail:\n%s" % (n, "".join(f.readlines()[-15:])))
                except OSError:
                    pass
        cleanup()
    T.check(sh("ip", "link", "show", BRIDGE, check=False) != 0, "bridge removed")
    T.done()


if __name__ == "__main__":
    main()
