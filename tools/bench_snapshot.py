"""bench_snapshot.py - what a snapshot costs next to a full-history join
(issue 17, COMPACTION.md section 7).  One admin writes N ops, one row write
per op (a text of 16 bytes and an integer) over R distinct rows, and signs
a checkpoint (sealed by its own claim: k=1).  Measured: bec_snapshot() on
the provider (time, bytes), bec_snapshot_verify() on a new replica (time),
a full join of a new replica by one bec_sync_offer/bec_sync_apply
session (time, bytes of every message both ways), and the snapshot join
through sync (bec_join(group, 'snapshot'), one session: today the
snapshot is checked and the full history follows, docs/compaction.md);
then, with one op after the checkpoint, bec_snapshot() before and after
bec_prune() (the same bytes) and the bytes of the cut's pruned headers;
and the bytes of the snapshot's proofs (version 2); and the ids in the
rows' leaves, with how many repeat one already in their leaf.
N defaults to 100,000 and R to 10,000 (issue 17's figure).  Run with
Debian's python3:

    BEC_EXT=$PWD/build/bec /usr/bin/python3 tools/bench_snapshot.py [N [R]]
"""
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "py"))
from bectest import checkpointed_history, connect, one  # noqa: E402
import becwire  # noqa: E402


def run(n, nrow, tmp):
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
        m = one(f, "SELECT bec_sync_offer('a')")
        while m:
            moved += len(m)
            m = one(a, "SELECT bec_sync_apply(?, ?)", name, m)
            if not m:
                break
            moved += len(m)
            m = one(f, "SELECT bec_sync_apply('a', ?)", m)
        t = time.perf_counter() - t0
        assert one(f, "SELECT count(*) FROM t") == nrow
        snapped = one(f, "SELECT json_extract(bec_sync_state('a'), '$.snapshot')")
        assert (snapped is not None) == (how == "snapshot")
        f.close()
        return moved, t

    full, t_full = join("f", "full")
    sj, t_sj = join("s", "snapshot")
    print("N=%d ops, %d rows: snapshot %d B (%.1f B/row) in %.2f s, verified in %.2f s; "
          "full join %d B in %.1f s; snapshot/full = %.1f%% of the bytes; "
          "snapshot join (checked, then the full history) %d B in %.1f s"
          % (n, nrow, len(snap), len(snap) / nrow, t_snap, t_verify, full, t_full,
             100.0 * len(snap) / full, sj, t_sj), flush=True)
    # The proofs of version 2: K's predecessors' and the chain ops' ops
    # leaves with their audit paths.
    s = becwire.snapshot_parse(snap)
    pb = len(snap) - len(becwire.snapshot_encode(dict(s, version=1)))
    print("  proofs: %d (ops leaves with audit paths) in %d B, %.0f B each, %.2f%% of the snapshot"
          % (len(s["proofs"]), pb, pb / max(1, len(s["proofs"])), 100.0 * pb / len(snap)),
          flush=True)
    # Where a row's bytes go: the ids of its registers' candidates, and how
    # many of them repeat an id already in the same leaf (one op that wrote
    # the whole row names itself in every register): what a back-reference
    # in the message would save, the leaves (and R) unchanged.
    ids = set(bytes(r[0]) for r in a.execute("SELECT hash FROM bec_store_op"))
    rows = [bytes(r) for _, rs in s["tables"] for r in rs]
    n_id = n_rep = 0
    for r in rows:
        found = [r[i:i + 32] for i in range(len(r) - 31) if r[i:i + 32] in ids]
        n_id += len(found)
        n_rep += len(found) - len(set(found))
    print("  rows: %.1f B each, %.2f ids each of which %.2f repeat an id of the same leaf "
          "(%.1f%% of the snapshot; the snapshot without them: %.1f%% of the full join)"
          % (sum(map(len, rows)) / max(1, len(rows)), n_id / max(1, len(rows)),
             n_rep / max(1, len(rows)), 100.0 * 32 * n_rep / len(snap),
             100.0 * (len(snap) - 31 * n_rep) / full), flush=True)
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
    with tempfile.TemporaryDirectory(prefix="bec-bench-snap-") as tmp:
        run(n, nrow, tmp)


main()
