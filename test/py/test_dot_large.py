"""test_dot_large.py - bec_dot() stays readable on a large DAG: three
replicas write 1000+ ops in rounds and sync after each; the newest 1000 ops
collapse into about one box per author per round, every op counted once;
the row filter and "last" draw only what they name; and graphviz renders
the 1000 ops to a PNG within 4000x4000 pixels.

Why 4000x4000: about two screens in each direction at 100 %, still
readable at a glance and as a file (the uncollapsed drawing of the same DAG
is 1000 ranks tall, tens of thousands of pixels, which is what issue 19
reported).  Collapsed, the height grows with the number of sync rounds
(about 40 here, a rank each), not with the number of ops."""
import json
import os
import random
import re
import shutil
import sqlite3
import struct
import subprocess
import tempfile
from bectest import T, connect, one

TMP = tempfile.mkdtemp()
BOUND = 4000
rng = random.Random(19)


def replica(name):
    db = connect()     # in memory: the identity's key stays in memory too
    db.execute("SELECT bec_keygen()")
    return db


a, b, c = replica("a.db"), replica("b.db"), replica("c.db")
one(a, "SELECT bec_create_group()")
a.execute("CREATE VIRTUAL TABLE todos USING bec(id TEXT PRIMARY KEY, title TEXT, n INTEGER)")
a.execute("CREATE VIRTUAL TABLE kv USING bec(k TEXT, i INTEGER, v TEXT, PRIMARY KEY(k, i))")
for r in (b, c):
    one(a, "SELECT bec_add_member(?, 'member')", one(r, "SELECT bec_pubkey()"))
    one(r, "SELECT bec_join(?)", one(a, "SELECT bec_group_id()"))
known = {id(r): set() for r in (a, b, c)}
log = []                    # (hash, body) in the order the ops were made


def collect(r):
    for h, body in r.execute("SELECT hash, body FROM bec_ops"):
        if h not in known[id(r)]:
            known[id(r)].add(h)
            log.append((h, body))


def sync_all():
    for r in (a, b, c):
        collect(r)
    for r in (a, b, c):
        for h, body in log:
            if h not in known[id(r)]:
                r.execute("SELECT bec_ingest(?)", (body,))
                known[id(r)].add(h)


sync_all()
writes_t1 = 0               # writes (upserts and deletes) to todos row 't1'
writes_kv = 0               # writes to kv row ('x', 2)
rounds = 0
while len(log) < 1040:
    rounds += 1
    for r in (a, b, c):
        for _ in range(rng.randint(4, 12)):
            x = rng.random()
            if x < 0.15:
                r.execute("INSERT OR REPLACE INTO todos VALUES ('t1', ?, ?)", ("r%d" % rounds, rounds))
                writes_t1 += 1
            elif x < 0.2:
                r.execute("INSERT OR REPLACE INTO kv VALUES ('x', 2, ?)", ("v%d" % rounds,))
                writes_kv += 1
            elif x < 0.3:
                r.execute("SELECT bec_sign(?)", (b"app",))
            else:
                r.execute("INSERT OR REPLACE INTO todos VALUES (?, 'w', 1)", ("t%d" % rng.randint(2, 200),))
    sync_all()
nops = one(a, "SELECT count(*) FROM bec_ops")
T.eq(nops, len(log), "every replica holds every op")
T.eq(one(c, "SELECT count(*) FROM bec_ops"), nops, "replica c too")

BOX = re.compile(r'^  "([0-9a-f]{8})" \[label="([^"]*)"', re.M)


def boxes(dot):
    return [(m.group(1), m.group(2)) for m in BOX.finditer(dot.split("subgraph cluster_legend")[0])]


def count_of(label):
    m = re.match(r"(\d+) (?:\w+ )?ops by ", label)
    return int(m.group(1)) if m else 1


def rows_of(label, table):
    m = re.search(r"\\nrows: (.*)$", label)
    return sum(int(n) for n in re.findall(r"(?:^|, )%s (\d+)" % table, m.group(1))) if m else 0


# --- collapse counts ------------------------------------------------------
dot = one(a, "SELECT bec_dot()")
bx = boxes(dot)
T.check("newest 1000 of %d ops" % nops in dot, "the default is the newest 1000 ops")
T.eq(sum(count_of(l) for _, l in bx), 1000, "every op in view is counted once in its box")
T.check(len(bx) <= 3 * rounds + 20, "about one box per author per round: %d boxes, %d rounds" % (len(bx), rounds))
T.check(len(bx) >= 2 * rounds, "runs are not merged across authors or syncs: %d boxes" % len(bx))
full = one(a, "SELECT bec_dot('{\"last\":100000}')")
fb = boxes(full)
T.eq(sum(count_of(l) for _, l in fb), nops, "with last above the op count, every op is counted")
nwrite_rows = one(a, "SELECT count(*) FROM bec_ops WHERE kind='write'")
T.eq(sum(rows_of(l, "todos") + rows_of(l, "kv") for _, l in fb), nwrite_rows,
     "the rows of the boxes add up to one per write op (each wrote one row)")
T.eq(sum(rows_of(l, "kv") for _, l in fb), writes_kv, "kv rows add up")
flat = boxes(one(a, "SELECT bec_dot('{\"last\":100000,\"collapse\":false}')"))
T.eq(len(flat), nops, "collapse:false draws one box per op")
T.check(any(l.startswith("add ") for _, l in fb), "membership ops keep their own box")
T.check(any(l.startswith("schema ") and "\\ntable kv\\n" in l for _, l in fb), "schema ops keep their own box, with the table")
pk_b = one(b, "SELECT bec_pubkey()")
T.check(('author %s' % pk_b[:8]) in full, "the legend names each author (key prefix until names exist)")
T.check('"legend run"' in full and '"legend ignored"' in full, "the legend explains the shapes")
T.check("legend" not in one(a, "SELECT bec_dot('{\"legend\":false}')"), "legend:false drops it")

# --- last N ---------------------------------------------------------------
small = one(a, "SELECT bec_dot('{\"last\":50,\"collapse\":false}')")
T.eq(len(boxes(small)), 50, "last:50 draws 50 ops")
newest = [h for h, in a.execute("SELECT substr(hash,1,8) FROM bec_ops")][-50:]
T.eq(sorted(h for h, _ in boxes(small)), sorted(newest), "the newest 50")

# --- the row filter -------------------------------------------------------
row = one(a, "SELECT bec_dot('{\"last\":100000,\"collapse\":false,\"table\":\"todos\",\"key\":\"t1\"}')")
T.eq(len(boxes(row)), writes_t1, "one box per write to todos row t1")
T.check(all(l.startswith("write ") and l.endswith("rows: todos 1") for _, l in boxes(row)), "only writes to todos")
T.check("the %d writes to todos row (t1)" % writes_t1 in row, "the title names the row")
T.check("[style=dashed]" in row, "arrows through ops not drawn are dashed")
T.check(row.count(" -> ") >= writes_t1 - 1, "each write to the row points at an earlier one")
rowc = one(a, "SELECT bec_dot('{\"last\":100000,\"table\":\"TODOS\",\"key\":\"t1\"}')")
T.eq(sum(count_of(l) for _, l in boxes(rowc)), writes_t1, "collapsed, the row's writes still add up (table name in any case)")
kv = one(a, "SELECT bec_dot('{\"last\":100000,\"collapse\":false,\"table\":\"kv\",\"key\":[\"x\",2]}')")
T.eq(len(boxes(kv)), writes_kv, "a composite key as a JSON array")
T.eq(len(boxes(one(a, "SELECT bec_dot('{\"table\":\"kv\",\"key\":[\"x\",3]}')"))), 0, "another key: nothing")
T.eq(len(boxes(one(a, "SELECT bec_dot('{\"table\":\"kv\",\"key\":\"x\"}')"))), 0, "a partial key matches nothing")
T.eq(len(boxes(one(a, "SELECT bec_dot('{\"table\":\"todos\",\"key\":2.0,\"last\":100000}')"))), 0,
     "no integer key in a text-keyed table")

# --- wrong options --------------------------------------------------------
for opt, word in (('{"nope":1}', "unknown option 'nope'"), ('{"table":"todos"}', "go together"),
                  ('{"last":0}', "positive"), ('{"last":"x"}', "positive"), ('[1]', "JSON object"),
                  ('{bad', "JSON object"), ('{"collapse":"x"}', "true or false"),
                  ('{"table":"t","key":{"a":1}}', "key must be")):
    try:
        a.execute("SELECT bec_dot(?)", (opt,)).fetchall()
        T.check(False, "bec_dot(%s): no error" % opt)
    except sqlite3.OperationalError as e:
        T.check(str(e).startswith("bec_dot: ") and word in str(e), "bec_dot(%s): %s" % (opt, e))

# --- render the 1000 newest ops to PNG ---------------------------------------
if shutil.which("dot") is None:
    print("SKIP test_dot_large: graphviz dot is missing: no PNG rendered (apt-get install graphviz)")
else:
    png = os.path.join(TMP, "dag.png")
    r = subprocess.run(["dot", "-Tpng", "-o", png], input=dot.encode(), stderr=subprocess.PIPE,
                       env=dict(os.environ, LD_PRELOAD=""))
    T.eq(r.returncode, 0, "dot renders it (%s)" % r.stderr[:200])
    with open(png, "rb") as f:
        head = f.read(24)
    T.check(head[:8] == b"\x89PNG\r\n\x1a\n", "a PNG")
    w, h = struct.unpack(">II", head[16:24])
    print("1000-op DAG: %d boxes, PNG %dx%d" % (len(bx), w, h))
    T.check(w <= BOUND and h <= BOUND, "the PNG is %dx%d, within %dx%d" % (w, h, BOUND, BOUND))
T.done()
