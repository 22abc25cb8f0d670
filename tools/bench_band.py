"""bench_band.py - what a longer band costs next to the full join it saves
(issue 17 item 4; docs/compaction.md "A longer band").  A (the origin) writes N row
writes over R rows, each its own op; O, a member, holds all but the last
L of them (O is offline for the last L) and writes 3 ops concurrent with
the checkpoint K that A signs and A and B (an admin) seal.  A joiner installs K's snapshot from A (whose band
is empty: A never got O's ops), then syncs with B, which holds O's ops: the
joiner asks B for a longer band, installs it and stores O's ops, with no
fall-back.  Measured: the bytes the joiner receives in that session and its
time, against a full join from B (a new replica, one session: what the
fall-back to a full join would have moved), and the snapshot join from A.
N defaults to 5,000, R to 500, L to 20 (a band
of a quarter of the cut or more is refused: the history is cheaper, and
the joiner falls back; L = N shows it).  Run with Debian's python3:

    BEC_EXT=$PWD/build/bec /usr/bin/python3 tools/bench_band.py [N [R [L]]]
"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "py"))
from bectest import Replicas, connect, one, sync_session as sync  # noqa: E402


def session(x, y, y_name):
    """One session, x offering to y, which x calls y_name (y calls x 'x')."""
    m = one(x, "SELECT bec_sync_offer(?)", y_name)
    while m:
        m = one(y, "SELECT bec_sync_apply('x', ?)", m)
        m = m and one(x, "SELECT bec_sync_apply(?, ?)", y_name, m)


def timed_session(x, y, y_name):
    """session(x, y, y_name): (the bytes x received from y, seconds)."""
    t0 = time.perf_counter()
    session(x, y, y_name)
    t = time.perf_counter() - t0
    return one(x, "SELECT coalesce(sum(bytes_received), 0) FROM bec_peers WHERE peer=?",
               y_name), t


def main(n, nrow, recent):
    r = Replicas("bec-bench-band-")
    try:
        a = r.origin("a.db", decl="id INTEGER PRIMARY KEY, v TEXT")
        b = r.member(a, "b.db", "admin")
        o = r.member(a, "o.db", "member")
        a.execute("INSERT INTO todos VALUES(0, 'zero')")
        sync(a, b)
        for i in range(n):          # one op each (autocommit)
            if i == n - recent:
                # O holds the history up to here, then writes offline
                sync(a, o)
                for x in range(3):
                    o.execute("INSERT OR REPLACE INTO todos VALUES(?, ?)",
                              (10 ** 9 + x, "offline %d" % x))
            a.execute("INSERT OR REPLACE INTO todos VALUES(?, ?)", (i % nrow, "value %10d" % i))
        k = one(a, "SELECT bec_checkpoint()")
        for _ in range(3):
            sync(a, b)
        assert one(a, "SELECT sealed FROM bec_checkpoints WHERE checkpoint=?", k) == 1
        sync(o, b)                          # B holds O's ops; A never does
        gid = one(a, "SELECT bec_group_id()")
        j = connect(r.path("js.db"))
        j.execute("SELECT bec_join(?, 'snapshot')", (gid,))
        snap_bytes, t_snap = timed_session(j, a, "a")
        st = json.loads(one(j, "SELECT bec_sync_state('a')"))
        assert st["snapshot"] == k, st
        band_bytes, t_band = timed_session(j, b, "b")
        st = json.loads(one(j, "SELECT bec_sync_state('b')"))
        f = connect(r.path("f.db"))
        f.execute("SELECT bec_join(?)", (gid,))
        full_bytes, t_full = timed_session(f, b, "b")
        placed = one(j, "SELECT count(*) FROM todos WHERE id >= 1000000000")
        print("N=%d writes over R=%d rows; O offline for the last %d, its 3 ops concurrent with K"
              % (n, nrow, recent))
        print("snapshot join from A: %d B in %.2f s" % (snap_bytes, t_snap))
        print("session with B (band %s, rejoin %s, O's rows stored %d): %d B in %.3f s"
              % (st["band"], st["rejoin"], placed, band_bytes, t_band))
        print("full join from B (what a fall-back moves): %d B in %.2f s" % (full_bytes, t_full))
        print("band session / full join: %.2f%% of the bytes, %.1f%% of the time"
              % (100.0 * band_bytes / full_bytes, 100.0 * t_band / t_full))
    finally:
        r.cleanup()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5000,
         int(sys.argv[2]) if len(sys.argv) > 2 else 500,
         int(sys.argv[3]) if len(sys.argv) > 3 else 20)
