"""bench_e2ee.py - end-to-end encryption against plaintext in the same run
(issue 15): local insert, ingest (bec_ingest's acceptance: decode, verify,
admit, store) and apply (the merge of the stored write op) on another
replica, bytes per write op, and the cost of a rekey at a few group sizes.
Run with Debian's /usr/bin/python3:

    BEC_EXT=build/bec /usr/bin/python3 tools/bench_e2ee.py [ROWS] [--count]

make bench runs it (tools/bench.sh) with --count.

Each kind (plain, encrypted) writes ROWS rows, one transaction per row
(each a write op), into a table of three columns; the two kinds alternate
in three rounds and the median of each is reported, so drift of a loaded
machine hits both alike.  Times are CPU time of this process (a loaded
machine's other processes and fsync waits do not count).  The timed apply
line is bec_ingest as a whole (ingest and apply together: no SQL call
separates them); with --count the same insert, ingest and apply are also
counted in instructions with callgrind (one run each): insert is xUpdate
and the commit's xSync; of bec_ingest, apply is what the merge's deriver
does (crdt_admit and crdt_stored: its verdict, which for an envelope
includes opening it, and the merge) and ingest the rest (decode, hash,
signature, membership, the keyless e2ee checks, storing).  A rekey is timed in a group of N
members (their keys are added without replicas; each gets a box), N = 10,
100 and 1,000.  The figures are printed as Markdown lines; nothing is
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
    t0 = time.process_time()
    for i in range(ROWS):
        a.execute("INSERT INTO t VALUES(?, ?, ?)", (i, "row number %d" % i, i * 7))
    t_insert = time.process_time() - t0
    tail = [x for (x,) in a.execute("SELECT body FROM bec_ops ORDER BY rowid")][n0:]
    writes = [len(x) for x in tail if becwire.decode_op(x)["kind"] == "write"]
    assert len(writes) == ROWS and len(tail) == ROWS, "one write op per row, nothing else"
    t0 = time.process_time()
    b.execute("BEGIN")
    for x in tail:
        b.execute("SELECT bec_ingest(?)", (x,))
    b.execute("COMMIT")
    t_apply = time.process_time() - t0
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
        t0 = time.process_time()
        h = one(a, "SELECT bec_rekey()")
        ts.append(time.process_time() - t0)
    size = one(a, "SELECT length(body) FROM bec_ops WHERE hash=?", h)
    a.close()
    return statistics.median(ts), size


def counted(enc):
    """Instructions callgrind counts in one run of ROWS rows: {insert,
    ingest, apply}, or None without valgrind."""
    import re
    import subprocess
    out = {}
    for what, fns in (("insert", ["tabUpdate", "tabSync"]), ("ingest", ["fnIngest"])):
        cg = os.path.join(TMP, "cg.%s.%d" % (what, enc))
        cmd = ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + cg] + \
            ["--toggle-collect=%s" % f for f in fns] + [sys.executable, os.path.abspath(__file__), str(ROWS)]
        try:
            r = subprocess.run(cmd, env=dict(os.environ, BENCH_E2EE_ONLY=str(enc)),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        except OSError:
            return None
        m = re.search(r"Collected : (\d+)", r.stderr)
        if not m:
            return None
        total = int(m.group(1))
        if what == "insert":
            out["insert"] = total
            continue
        # The merge's share: the inclusive counts (under fnIngest) of its
        # deriver's hooks, crdt_admit (its verdict on a plaintext op) and
        # crdt_stored (the verdict on an envelope's plaintext, the merge).
        a = subprocess.run(["callgrind_annotate", "--inclusive=yes", "--threshold=100", cg],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout
        merge = 0
        for fn in ("crdt_admit", "crdt_stored"):
            n = [int(x.replace(",", "")) for x in
                 re.findall(r"^\s*([\d,]+) .*:%s\b" % fn, a, re.M)]
            if not n:
                return None
            merge += max(n)
        out["apply"] = merge
        out["ingest"] = total - out["apply"]
    return out


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
print("| local insert, CPU time (us/row, commit included) | %.0f | %.0f | %.2fx |" % (
    med[0][0] / ROWS * 1e6, med[1][0] / ROWS * 1e6, med[1][0] / med[0][0]))
print("| ingest + apply: bec_ingest, CPU time (us/op) | %.0f | %.0f | %.2fx |" % (
    med[0][1] / ROWS * 1e6, med[1][1] / ROWS * 1e6, med[1][1] / med[0][1]))
if COUNT:
    c = [counted(enc) for enc in (0, 1)]
    for what, label in (("insert", "local insert: instructions per row"),
                        ("ingest", "ingest (verify, admit, store): instructions per op"),
                        ("apply", "apply (the merge): instructions per op")):
        if None in c:
            print("| %s | not counted (valgrind?) | | |" % label)
        else:
            print("| %s | %.0f | %.0f | %.2fx |" % (
                label, c[0][what] / ROWS, c[1][what] / ROWS, c[1][what] / c[0][what]))
print("| bytes per write op | %.0f | %.0f | %.2fx |" % (med[0][2], med[1][2], med[1][2] / med[0][2]))
for n in (10, 100, 1000):
    t, size = rekey(n)
    print("| rekey, %d members | %.1f ms | %d bytes | |" % (n, t * 1e3, size))
