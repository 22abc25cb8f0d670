"""Randomized differential test of bec's membership rules against the
reference model (test/membership/refmodel.py).

    BEC_EXT=$PWD/build/bec /usr/bin/python3 test/py/test_membership_random.py
    BEC_MEMBER_SEEDS=20000 ...        # more scenarios (default: a CI-sized run)
    BEC_MEMBER_SEED=1234 ...          # replay one scenario, verbosely

Each scenario is a random DAG from test/membership/gen.py (several authors,
adds, promotions, demotions (also to relay), relays, removals, leaving, mutual removals, data ops,
ops by users removed concurrently).  The symbolic ops are re-made as real
signed ops (Ed25519 through libsodium with ctypes, BLAKE2b ids, the encoding
of docs/wire-format.md), the reference model evaluates that same set of real
ops, and several replicas ingest them, each in its own random order: some
topological, some arbitrary (ops then wait in the pending area for their
predecessors).  Every replica must end with the model's valid flags
(bec_ops.valid), members, roles and ranks (bec_members), bec_check() must
say ok, and ops that acceptance must refuse (outsiders, member-only users
doing admin ops) must be refused by every replica.
"""
import hashlib
import os
import random
import sqlite3
import sys
import time

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "test", "membership"))

from bectest import T, connect, one  # noqa: E402
from becwire import ROLE, Key, make_op, op_id  # noqa: E402
import gen  # noqa: E402
import refmodel  # noqa: E402

# ---------------------------------------------------------------------------
# Making real ops: test/py/becwire.py encodes and signs them as
# docs/wire-format.md says.

class Forge:
    """Turns symbolic ops (gen.py) into real ones, consistently."""

    def __init__(self, tag, schema_ok):
        self.tag = tag
        self.schema_ok = schema_ok
        self.keys = {}
        self.real = {}        # symbolic id -> real id
        self.enc = {}         # real id -> encoding
        self.group = None

    def key(self, user):
        if user not in self.keys:
            self.keys[user] = Key(hashlib.sha256(("%s/%s" % (self.tag, user)).encode()).digest())
        return self.keys[user]

    def kind(self, kind):
        if kind == "write" or (kind == "schema" and not self.schema_ok):
            return "app"           # same rule as write / schema (see main)
        return kind

    def op(self, sym, known=True):
        """The real op dict (refmodel form, authors as hex keys) of the
        symbolic op dict sym."""
        kind = self.kind(sym["kind"])
        key = self.key(sym["author"])
        if kind == "create":
            payload = hashlib.sha256(("nonce/" + sym["id"]).encode()).digest()[:16]
        elif kind == "add":
            payload = self.key(sym["target"]).pub + bytes([ROLE.get(sym["role"], 9)])
        elif kind == "remove":
            payload = self.key(sym["target"]).pub
        else:
            payload = ("%s %s" % (kind, sym["id"][:16])).encode()
        preds = []
        for p in sym["preds"]:
            preds.append(bytes.fromhex(self.real[p]) if p in self.real
                         else hashlib.sha256(p.encode()).digest())
        enc = make_op(key, kind, preds, payload, self.group)
        rid = op_id(enc).hex()
        if kind == "create" and self.group is None and known:
            self.group = bytes.fromhex(rid)
        if known:
            self.real[sym["id"]] = rid
            self.enc[rid] = enc
        return {"id": rid, "author": key.hex, "kind": kind,
                "target": self.key(sym["target"]).hex if sym.get("target") else None,
                "role": sym.get("role"), "preds": [p.hex() for p in preds]}, enc


# ---------------------------------------------------------------------------
# Replicas


def replica(group_hex):
    db = connect()
    one(db, "SELECT bec_join(?)", group_hex)
    return db


def state(db):
    valid = {h: bool(v) for h, v in db.execute("SELECT hash, valid FROM bec_ops")}
    members = {pk: {"role": role, "rank": rank}
               for pk, role, rank in db.execute("SELECT pubkey, role, rank FROM bec_members")}
    return valid, members


def schema_payloads_ok():
    """Does this build store a schema op with an arbitrary payload?  (The
    table layer may validate payloads; then schema ops are modelled as app
    ops, which changes nothing but the role they need.)"""
    f = Forge("probe", True)
    c, enc_c = f.op({"id": "c", "author": "A", "kind": "create", "preds": []})
    s, enc_s = f.op({"id": "s", "author": "A", "kind": "schema", "preds": ["c"]})
    db = replica(c["id"])
    try:
        one(db, "SELECT bec_ingest(?)", enc_c)
        one(db, "SELECT bec_ingest(?)", enc_s)
        return True
    except sqlite3.Error:
        return False
    finally:
        db.close()


def run_scenario(seed, schema_ok, verbose=False):
    """One scenario; returns a list of failure descriptions."""
    rng = random.Random(seed)
    n_users = rng.randint(2, 6)
    n_ops = rng.randint(8, 70)
    sym = gen.random_scenario(seed, n_users=n_users, n_ops=n_ops)
    forge = Forge("seed%d" % seed, schema_ok)
    ops = [forge.op(o)[0] for o in sym]
    want = refmodel.evaluate(ops)
    names = {o["id"]: "%s:%s(%s)" % (sym[i]["kind"], sym[i]["author"], sym[i].get("target") or "")
             for i, o in enumerate(ops)}
    who = {forge.key(u).hex: u for u in forge.keys}
    fails = []
    want_members = {pk: m for pk, m in want["members"].items()}
    rejects = gen.random_rejects(sym, rng, k=4)
    n_rep = 3
    orders = gen.random_delivery_orders(sym, rng, n_rep)
    for r in range(n_rep):
        order = [o["id"] for o in orders[r]]
        if r == n_rep - 1 and rng.random() < 0.5:
            rest = order[1:]                # arbitrary order: pending area
            rng.shuffle(rest)
            order = order[:1] + rest
        db = replica(forge.group.hex())
        try:
            for i, x in enumerate(order):
                one(db, "SELECT bec_ingest(?)", forge.enc[forge.real[x]])
                if i and rng.random() < 0.03:
                    # A refused op in the middle rolls back and drops the
                    # caches: the state is then reloaded from storage.
                    _, benc = forge.op({"id": "x%d" % i, "author": "X%d" % i,
                                        "kind": "app", "preds": [sym[0]["id"]]},
                                       known=False)
                    try:
                        one(db, "SELECT bec_ingest(?)", benc)
                        fails.append("replica %d: an outsider's op was accepted" % r)
                    except sqlite3.Error:
                        pass
        except sqlite3.Error as e:
            fails.append("replica %d: ingest failed: %s" % (r, e))
            db.close()
            continue
        # Ops acceptance must refuse.
        for bad, what in rejects:
            if what not in ("outsider", "member-admin", "relay-op", "nopreds",
                            "create"):
                continue
            if bad["kind"] == "schema" and not schema_ok:
                continue                    # modelled as app: not an admin op
            bop, benc = forge.op(bad, known=False)
            try:
                one(db, "SELECT bec_ingest(?)", benc)
                fails.append("replica %d: %s op %s was accepted" % (r, what, bop["id"][:12]))
            except sqlite3.Error as e:
                if what in ("outsider", "member-admin", "relay-op") \
                        and "unauthorized" not in str(e):
                    fails.append("replica %d: %s op refused for another reason: %s" % (r, what, e))
        valid, members = state(db)
        if valid != want["valid"]:
            for x in sorted(want["valid"]):
                if valid.get(x) != want["valid"][x]:
                    fails.append("replica %d: op %s %s: valid=%s, model says %s" % (
                        r, x[:12], names.get(x), valid.get(x), want["valid"][x]))
        if members != want_members:
            fails.append("replica %d: members %s, model says %s" % (
                r, {who.get(k, k[:8]): v for k, v in members.items()},
                {who.get(k, k[:8]): v for k, v in want_members.items()}))
        chk = one(db, "SELECT bec_check()")
        if chk != "ok":
            fails.append("replica %d: bec_check: %s" % (r, chk))
        if r == 0 and rng.random() < 0.2:
            # A rebuild from scratch must change nothing.
            n = one(db, "SELECT bec_member_rebuild()")
            if n != 0:
                fails.append("replica %d: bec_member_rebuild changed %d ops" % (r, n))
        db.close()
    if verbose:
        print("seed %d: %d users, %d ops, %d dropped, members %s" % (
            seed, n_users, len(ops), len(want["dropped"]),
            {who.get(k, k[:8]): v["role"] for k, v in want_members.items()}))
        for o, s in zip(ops, sym):
            print("  %s %-7s %-3s -> %-3s %-6s valid=%s preds=%s" % (
                o["id"][:10], s["kind"], s["author"], s.get("target") or "",
                s.get("role") or "", want["valid"][o["id"]],
                [p[:10] for p in o["preds"]]))
    return fails


def main():
    schema_ok = schema_payloads_ok()
    if not schema_ok:
        print("note: schema payloads are validated by the table layer; "
              "schema ops are modelled as app ops")
    one_seed = os.environ.get("BEC_MEMBER_SEED")
    if one_seed is not None:
        seeds = [int(one_seed)]
    else:
        base = int(os.environ.get("BEC_MEMBER_SEED_BASE", "1"))
        default = 100 if os.environ.get("BEC_SAN") else 600
        seeds = range(base, base + int(os.environ.get("BEC_MEMBER_SEEDS", default)))
    t0 = time.time()
    n_ops = 0
    for seed in seeds:
        fails = run_scenario(seed, schema_ok, verbose=one_seed is not None)
        if fails:
            for f in fails[:10]:
                T.check(False, "seed %d: %s" % (seed, f))
            print("  replay: BEC_MEMBER_SEED=%d BEC_EXT=%s /usr/bin/python3 %s"
                  % (seed, os.environ.get("BEC_EXT", "build/bec"), os.path.relpath(__file__, ROOT)))
        else:
            T.check(True)
        n_ops += 1
    print("%d scenarios in %.1fs" % (n_ops, time.time() - t0))
    T.done()


if __name__ == "__main__":
    main()
