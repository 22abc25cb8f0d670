"""bench_snapshot.py - what a snapshot costs next to a full-history join
(issue 17, COMPACTION.md section 7).  One admin writes N ops, one row write
per op (a text of 16 bytes and an integer) over R distinct rows, and signs
a checkpoint (sealed by its own claim: k=1).  Measured: bec_snapshot() on
the provider (time, bytes), bec_snapshot_verify() on a new replica (time),
a full join of a new replica by one bec_sync_offer/bec_sync_apply
session (time, bytes of every message both ways), and the snapshot join
through sync (bec_join(group, 'snapshot'), one session: the joiner checks
and installs the snapshot, and receives only the ops after the checkpoint,
none here; docs/compaction.md "The snapshot join"), with the time of the
provider's reply to the wish (it builds and checks the snapshot, with
the band of cut headers for the ops it holds concurrent with the
checkpoint, bec_snapshot_band);
then, with one op after the checkpoint, bec_snapshot() before and after
bec_prune() (the same bytes) and the bytes of the cut's pruned headers;
and where the snapshot's bytes go: its parts (the ops, the proofs, the
members, the rows as sent and as their leaves, the other sections), the
row leaves' references (version 4: a row leaf's repeated 32 bytes sent as
a reference to the earlier copy, docs/wire-format.md "Snapshot"), and the
same snapshot with its rows sent whole (version 3's bytes).
N defaults to 100,000 and R to 10,000 (issue 17's figure).  With B > 1,
the N row writes are made B to a transaction (one op each: N/B ops), the
rows R = N written once each in order (a batched history: one op's id in
many rows' leaves).  Run with Debian's python3:

    BEC_EXT=$PWD/build/bec /usr/bin/python3 tools/bench_snapshot.py [N [R [B]]]
"""
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "py"))
from bectest import checkpointed_history, connect, one  # noqa: E402
import becwire  # noqa: E402


def batched_history(path, n, nrow, batch):
    """checkpointed_history's table and checkpoint, its n row writes made
    batch to a transaction (one write op each)."""
    a = connect(path)
    a.execute("PRAGMA journal_mode=WAL")
    a.execute("PRAGMA synchronous=OFF")
    a.execute("SELECT bec_keygen()")
    a.execute("SELECT bec_create_group()")
    a.execute("CREATE VIRTUAL TABLE t USING bec(id INTEGER PRIMARY KEY, v TEXT, w INTEGER)")
    for s in range(0, n, batch):
        a.execute("BEGIN")
        for i in range(s, min(n, s + batch)):
            a.execute("INSERT OR REPLACE INTO t VALUES(?, ?, ?)", (i % nrow, "value %10d" % i, i))
        a.execute("COMMIT")
    a.execute("SELECT bec_checkpoint()")
    return a


def run(n, nrow, tmp, batch=1):
    if batch > 1:
        a = batched_history(os.path.join(tmp, "a.db"), n, nrow, batch)
    else:
        a = checkpointed_history(os.path.join(tmp, "a.db"), n, nrow)
    gid = one(a, "SELECT bec_group_id()")
    t0 = time.perf_counter()
    snap = one(a, "SELECT bec_snapshot()")
    t_snap = time.perf_counter() - t0
    j = connect(os.path.join(tmp, "j.db"))
    j.execute("SELECT bec_join(?)", (gid,))
    t0 = time.perf_counter()
    one(j, "SELECT bec_snapshot_verify(?)", snap)
    t_verify = time.perf_counter() - t0
    def join(name, how):
        """A new replica joined by one session it offers: (bytes, s)."""
        f = connect(os.path.join(tmp, name + ".db"))
        f.execute("PRAGMA journal_mode=WAL")
        f.execute("PRAGMA synchronous=OFF")
        f.execute("SELECT bec_join(?, ?)", (gid, how))
        t0 = time.perf_counter()
        moved = 0
        t_reply = None
        m = one(f, "SELECT bec_sync_offer('a')")
        while m:
            moved += len(m)
            t1 = time.perf_counter()
            m = one(a, "SELECT bec_sync_apply(?, ?)", name, m)
            if t_reply is None:
                t_reply = time.perf_counter() - t1
            if not m:
                break
            moved += len(m)
            m = one(f, "SELECT bec_sync_apply('a', ?)", m)
        t = time.perf_counter() - t0
        assert one(f, "SELECT count(*) FROM t") == nrow
        snapped = one(f, "SELECT json_extract(bec_sync_state('a'), '$.snapshot')")
        assert (snapped is not None) == (how == "snapshot")
        cut = one(f, "SELECT count(*) FROM sqlite_schema WHERE name='bec_store_cut'") and one(
            f, "SELECT count(*) FROM bec_store_cut")
        assert (cut > 0) == (how == "snapshot"), "the snapshot joiner installed it"
        ops = one(f, "SELECT count(*) FROM bec_ops")
        f.close()
        return moved, t, t_reply, ops

    full, t_full, _, ops_full = join("f", "full")
    sj, t_sj, t_reply, ops_sj = join("s", "snapshot")
    print("N=%d %s, %d rows: snapshot %d B (%.1f B/row) in %.2f s, verified in %.2f s; "
          "full join %d B in %.1f s (%d ops stored); snapshot/full = %.1f%% of the bytes; "
          "snapshot join (installed) %d B in %.2f s (%d ops stored; the provider's reply to "
          "the wish %.2f s), %.1f%% of the full join's bytes"
          % (n, "ops" if batch == 1 else "row writes, %d to an op" % batch, nrow, len(snap),
             len(snap) / nrow, t_snap, t_verify, full, t_full, ops_full,
             100.0 * len(snap) / full, sj, t_sj, ops_sj, t_reply, 100.0 * sj / full), flush=True)
    # Where the bytes go: each part of the message (docs/wire-format.md
    # "Snapshot"), the rows as sent (tokens) and as their leaves, and the
    # references in them; then the same snapshot with its rows sent whole
    # (version 3).
    s = becwire.snapshot_parse(snap)
    whole = len(becwire.snapshot_encode(dict(s, version=3)))
    fl = becwire.flist
    parts = {
        "ops": len(becwire.frame(s["checkpoint"]) + fl(s["claims"]) + fl(s["chain"])),
        "proofs": sum(32 + len(becwire.uvarint(i)) + len(becwire.uvarint(d)) + 1
                      + len(becwire.uvarint(len(p))) + 32 * len(p)
                      for _, i, d, _, p in s["proofs"]),
        "members": len(fl(s["members"])),
        "table heads": sum(len(becwire.frame(h)) for h, _ in s["tables"]),
        "rows": sum(len(fl([becwire.row_encode(r) for r in rows])) for _, rows in s["tables"]),
        "other sections": sum(len(fl(s[x])) for x in becwire.SNAPSHOT_SECTIONS),
    }
    print("  parts: " + ", ".join("%s %d B (%.1f%%)" % (k, v, 100.0 * v / len(snap))
                                  for k, v in parts.items()), flush=True)
    rows = [r for _, rs in s["tables"] for r in rs]
    sent = sum(len(becwire.row_encode(r)) for r in rows)
    n_ref = 0
    for r in rows:
        t, i = becwire.row_encode(r), 0
        while i < len(t):
            c, i = becwire.read_varint(t, i)
            if c & 1:
                n_ref += 1
            else:
                i += c >> 1
    print("  rows: %.1f B each as sent, %.1f B as leaves, %.2f references each; "
          "the rows sent whole (version 3): %d B, %.1f%% of the full join"
          % (sent / max(1, len(rows)), sum(map(len, rows)) / max(1, len(rows)),
             n_ref / max(1, len(rows)), whole, 100.0 * whole / full), flush=True)
    # A pruned provider: one op after K (so S(K) is a replay of the cut),
    # the snapshot before and after bec_prune(), and what the cut's headers
    # weigh as a pruned replica stores them.
    a.execute("INSERT INTO t VALUES(-1, 'after K', 0)")
    t0 = time.perf_counter()
    s1 = one(a, "SELECT bec_snapshot()")
    t_un = time.perf_counter() - t0
    one(a, "SELECT bec_prune()")
    t0 = time.perf_counter()
    s2 = one(a, "SELECT bec_snapshot()")
    t_pr = time.perf_counter() - t0
    assert s1 == s2, "a pruned replica gives the same snapshot"
    hb, hn = a.execute("SELECT sum(length(body)), count(*) FROM bec_ops"
                       " WHERE payload IS NULL").fetchone()
    print("  one op after K: bec_snapshot() in %.2f s unpruned (a replay of the cut), "
          "%.2f s pruned (the same bytes); the cut's %d pruned headers %d B (%.1f B/op, "
          "%.1f%% of the full join)" % (t_un, t_pr, hn, hb, hb / hn, 100.0 * hb / full),
          flush=True)


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100000
    nrow = int(sys.argv[2]) if len(sys.argv) > 2 else 10000
    batch = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    with tempfile.TemporaryDirectory(prefix="bec-bench-snap-") as tmp:
        run(n, nrow, tmp, batch)


main()
