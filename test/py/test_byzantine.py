"""Byzantine simulation in CI (issue 6): test/sim/bytesim.py over many seeds.

    make && BEC_EXT=$PWD/build/bec /usr/bin/python3 test/py/test_byzantine.py
    BEC_BYZ_SEEDS=1000 BEC_BYZ_FIRST=5000 ...    more seeds, another range
    make soak                                    thousands (test/soak.sh)

Each seed is one run of 6 honest and 3 Byzantine replicas (see bytesim.py
for what they do and what is checked).  A failing seed prints FAIL lines and
the exact command that replays it.  The default is 120 seeds on the normal
build and 30 on the sanitizer build (BEC_SAN=1, set by test/run.sh), then
BEC_BYZ_ROOT_SEEDS (2; 1 under the sanitizers) runs with a threshold root
and an equivocating holder (bytesim.py --root), then
BEC_BYZ_ENC_SEEDS seeds (5; 2 on the sanitizer build) with an encrypted
group (bytesim.py --encrypted), then BEC_BYZ_CKPT_SEEDS (6; 2 on the
sanitizer build) with checkpoints, a lying attester, sealing, pruning,
a backdated removal after sealing and snapshot joiners (bytesim.py
--checkpoints).
"""
import os
import sys

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "sim"))
sys.path.insert(0, HERE)

import bytesim  # noqa: E402  (first: it makes libsodium's randomness seeded)
from bectest import T  # noqa: E402


def main():
    default = "30" if os.environ.get("BEC_SAN") == "1" else "120"
    n = int(os.environ.get("BEC_BYZ_SEEDS", default))
    first = int(os.environ.get("BEC_BYZ_FIRST", "0"))
    totals = {}

    def seeds(label, count, keep, replay, **flags):
        """Runs count seeds with bytesim's flags: every failure checked,
        the stats that keep(name) selects added to totals, a replay
        command printed for a failing seed."""
        for seed in range(first, first + count):
            sim, fails = bytesim.run_seed(seed, **flags)
            for k, v in sim.stats.items():
                if keep(k):
                    totals[k] = totals.get(k, 0) + v
            for f in fails[:6]:
                T.check(False, "%sseed %d: %s" % (label, seed, f))
            if len(fails) > 6:
                T.check(False, "%sseed %d: %d more failures" % (label, seed, len(fails) - 6))
            if fails:
                print("  replay: %s" % replay(seed), flush=True)
            else:
                T.check(True)

    def every(k):
        return k not in ("seconds", "digest")

    seeds("", n, every, bytesim.replay_command)
    # With a threshold root (bytesim.Sim.root_phase): an equivocating holder,
    # the root's removal of the creator, identical everywhere.
    nroot = int(os.environ.get("BEC_BYZ_ROOT_SEEDS", "1" if os.environ.get("BEC_SAN") == "1" else "2"))
    seeds("root ", nroot, every, bytesim.replay_root_command, root=True)
    for what in ("root.active", "root.removal", "root.checked", "byz.root.two_acks",
                 "byz.root.approve2", "byz.root.badshare"):
        T.check(totals.get(what, 0) >= nroot, "root seeds: %s %d of %d" % (what, totals.get(what, 0), nroot))
    # Encrypted groups (issue 15): fewer seeds, the same checks and the
    # encrypted ones (bytesim.py --encrypted).
    ne = int(os.environ.get("BEC_BYZ_ENC_SEEDS", "2" if os.environ.get("BEC_SAN") == "1" else "5"))
    seeds("encrypted ", ne, lambda k: k.startswith("enc."),
          lambda seed: bytesim.replay_command(seed, encrypted=True), encrypted=True)
    T.check(ne == 0 or totals.get("enc.rows", 0) > 0, "encrypted runs show rows")
    # Checkpoints (issue 17): two rounds per run, each with a lying
    # attester; sealing, pruning, a backdated removal after the first seal
    # (bytesim.py --checkpoints).
    nc = int(os.environ.get("BEC_BYZ_CKPT_SEEDS", "2" if os.environ.get("BEC_SAN") == "1" else "6"))
    seeds("checkpoint ", nc, lambda k: k.startswith("ckpt."),
          lambda seed: bytesim.replay_command(seed, checkpoints=True), checkpoints=True)
    # Each run ends with snapshot joiners (Sim.check_snapshot_join): some
    # install a snapshot, after a Byzantine provider's tampered replies.
    # Hidden state in a cut (Sim.hidden_column) on the normal build's seeds.
    for what in ("ckpt.signed", "ckpt.lie", "ckpt.disputed", "ckpt.sealed", "ckpt.prune", "ckpt.backdated",
                 "ckpt.join_byzantine", "ckpt.join_installed"):
        T.check(nc == 0 or totals.get(what, 0) > 0, "checkpoint seeds: no %s in %d seeds" % (what, nc))
    for what in ("ckpt.hidden_made", "ckpt.hidden_shown"):
        T.check(nc < 6 or totals.get(what, 0) > 0, "checkpoint seeds: no %s in %d seeds" % (what, nc))
    # The same seed gives the same run, bit for bit (what makes a replay
    # command worth printing).
    a, fa = bytesim.run_seed(first + 1)
    b, fb = bytesim.run_seed(first + 1)
    T.eq(b.stats.get("digest"), a.stats.get("digest"), "seed %d replays identically" % (first + 1))
    T.eq(b.stats.get("ops"), a.stats.get("ops"), "seed %d: same op count on replay" % (first + 1))
    # Every kind of Byzantine behaviour actually happened.
    for what in ("byz.equivocate", "byz.forge", "byz.outsider", "byz.backdate", "byz.withhold",
                 "byz.replay", "byz.flood", "net.drop", "net.dup", "net.reorder", "model.checked"):
        T.check(totals.get(what, 0) > 0 or n < 20, "no %s in %d seeds" % (what, n))
    print("byzantine: %d seeds from %d; %s" % (n, first, dict(sorted(totals.items()))))
    T.done()


main()
