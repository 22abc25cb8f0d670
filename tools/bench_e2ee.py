"""bench_e2ee.py - end-to-end encryption against plaintext in the same run
(issue 15): local insert, apply of the ops on another replica (bec_ingest,
which verifies, stores and merges), bytes per write op, and the cost of a
rekey at a few group sizes.  Run with Debian's /usr/bin/python3:

    BEC_EXT=build/bec /usr/bin/python3 tools/bench_e2ee.py [ROWS] [--count]

make bench runs it (tools/bench.sh) with --count.

Each kind (plain, encrypted) writes ROWS rows, one transaction per row
(each a write op), into a table of three columns; the two kinds alternate
in three rounds and the median of each is reported, so drift of a loaded
machine hits both alike.  A rekey is timed in a group of N members (their
keys are added without replicas; each gets a box), N = 10, 100 and 1,000.
With --count the same insert and apply are also counted in instructions
with callgrind (one run each, only the ROWS inserts: xUpdate and the
commit's xSync; only the apply: bec_ingest), which a loaded machine does
not disturb.  The figures are printed as Markdown lines; nothing is
asserted.
"""
import os
import statistics
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "test", "py"))
from bectest import connect, one  # noqa: E402
import becwire  # noqa: E402

ARGS = [a for a in sys.argv[1:] if not a.startswith("--")]
ROWS = int(ARGS[0]) if ARGS else 500
COUNT = "--count" in sys.argv
ONLY = os.environ.get("BENCH_E2EE_ONLY")   # "0" or "1": one run, no rekey (under callgrind)
TMP = tempfile.mkdtemp(prefix="bench_e2ee_")


def fresh(name):
    p = os.path.join(TMP, name)
    for s in ("", "-wal", "-shm", "-bec-key"):
        if os.path.exists(p + s):
            os.remove(p + s)
    return p


def one_run(encrypted, k):
    a = connect(fresh("a%d%d" % (encrypted, k)))
    a.execute("PRAGMA journal_mode=WAL")
    a.execute("SELECT bec_keygen()")
    a.execute("SELECT bec_create_group(%s)" % ("'encrypted'" if encrypted else ""))
    b = connect(fresh("b%d%d" % (encrypted, k)))
    b.execute("PRAGMA journal_mode=WAL")
    b.execute("SELECT bec_keygen()")
    b.execute("SELECT bec_join(?)", (one(a, "SELECT bec_group_id()"),))
    # b is a member (it holds the keys) before a writes.
    a.execute("SELECT bec_add_member(?, 'member')", (one(b, "SELECT bec_pubkey()"),))
    a.execute("CREATE VIRTUAL TABLE t USING bec(id INTEGER PRIMARY KEY, title TEXT, n INTEGER)")
    head = [x for (x,) in a.execute("SELECT body FROM bec_ops ORDER BY rowid")]
    b.execute("BEGIN")
    for x in head:
        b.execute("SELECT bec_ingest(?)", (x,))
    b.execute("COMMIT")
    n0 = one(a, "SELECT count(*) FROM bec_ops")
    t0 = time.perf_counter()
    for i in range(ROWS):
        a.execute("INSERT INTO t VALUES(?, ?, ?)", (i, "row number %d" % i, i * 7))
    t_insert = time.perf_counter() - t0
    tail = [x for (x,) in a.execute("SELECT body FROM bec_ops ORDER BY rowid")][n0:]
    writes = [len(x) for x in tail if becwire.decode_op(x)["kind"] == "write"]
    assert len(writes) == ROWS and len(tail) == ROWS, "one write op per row, nothing else"
    t0 = time.perf_counter()
    b.execute("BEGIN")
    for x in tail:
        b.execute("SELECT bec_ingest(?)", (x,))
    b.execute("COMMIT")
    t_apply = time.perf_counter() - t0
    assert one(b, "SELECT count(*) FROM t") == ROWS, "b reads every row"
    assert one(b, "SELECT count(*) FROM bec_locked") == 0, "nothing locked"
    a.close()
    b.close()
    return t_insert, t_apply, statistics.mean(writes)


def rekey(n):
    a = connect(fresh("rk%d" % n))
    a.execute("SELECT bec_keygen()")
    a.execute("SELECT bec_create_group('encrypted')")
    a.execute("BEGIN")
    for i in range(n - 1):
        k = becwire.Key(os.urandom(32))
        a.execute("SELECT bec_add_member(?, 'member')", (k.hex,))
    a.execute("COMMIT")
    ts = []
    for _ in range(3):
        t0 = time.perf_counter()
        h = one(a, "SELECT bec_rekey()")
        ts.append(time.perf_counter() - t0)
    size = one(a, "SELECT length(body) FROM bec_ops WHERE hash=?", h)
    a.close()
    return statistics.median(ts), size


def counted(enc, what):
    """Instructions callgrind counts in the functions named (what: insert or
    apply) of one run of ROWS rows."""
    import re
    import subprocess
    fns = {"insert": ["tabUpdate", "tabSync"], "apply": ["fnIngest"]}[what]
    cmd = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"] + \
        ["--toggle-collect=%s" % f for f in fns] + [sys.executable, os.path.abspath(__file__), str(ROWS)]
    r = subprocess.run(cmd, env=dict(os.environ, BENCH_E2EE_ONLY=str(enc)), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True)
    m = re.search(r"Collected : (\d+)", r.stderr)
    return int(m.group(1)) if m else None


if ONLY is not None:
    one_run(int(ONLY), 0)
    sys.exit(0)

res = {0: [], 1: []}
for k in range(3):
    for enc in (0, 1):
        res[enc].append(one_run(enc, k))
med = {enc: [statistics.median(r[i] for r in res[enc]) for i in range(3)] for enc in (0, 1)}
print("| e2ee, %d rows, one write op each | plain | encrypted | ratio |" % ROWS)
print("|---|---|---|---|")
print("| local insert (us/row) | %.0f | %.0f | %.2fx |" % (
    med[0][0] / ROWS * 1e6, med[1][0] / ROWS * 1e6, med[1][0] / med[0][0]))
print("| apply: bec_ingest of the write ops (us/op) | %.0f | %.0f | %.2fx |" % (
    med[0][1] / ROWS * 1e6, med[1][1] / ROWS * 1e6, med[1][1] / med[0][1]))
print("| bytes per write op | %.0f | %.0f | %.2fx |" % (med[0][2], med[1][2], med[1][2] / med[0][2]))
if COUNT:
    for what in ("insert", "apply"):
        c = [counted(enc, what) for enc in (0, 1)]
        if None in c:
            print("| %s, instructions (callgrind) | not counted (valgrind?) | | |" % what)
        else:
            print("| %s, instructions per row (callgrind) | %.0f | %.0f | %.2fx |" % (
                what, c[0] / ROWS, c[1] / ROWS, c[1] / c[0]))
for n in (10, 100, 1000):
    t, size = rekey(n)
    print("| rekey, %d members | %.1f ms | %d bytes | |" % (n, t * 1e3, size))
