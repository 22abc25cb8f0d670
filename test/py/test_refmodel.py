# bec-test: no-extension
"""Self-test of the membership reference model (test/membership/refmodel.py).

    /usr/bin/python3 test/py/test_refmodel.py [n_scenarios]

Checks the examples E1..E13 of MEMBERSHIP.md and a few more hand-made cases,
then random scenarios from gen.py: evaluate() must not depend on the order
of its input, acceptance must not depend on the delivery order, the result
must satisfy rules 4, 7 and 9 as equations, and generated rejects must be
refused.  Prints "FAIL ..." per failed check and ends with one line
"RESULT <passed> <failed>"; exits non-zero if anything failed.
"""

import os
import random
import sys
import time

sys.dont_write_bytecode = True      # leave no __pycache__ in the tree
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "test", "membership"))

import examples  # noqa: E402
import gen  # noqa: E402
import refmodel  # noqa: E402
from refmodel import make_op  # noqa: E402

passed = 0
failed = 0


def check(cond, what):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL " + what)
    return cond


def summary(result):
    """The part of evaluate()'s result that must be equal across orders."""
    return (result["valid"], result["members"], result["dropped"])


# ---------------------------------------------------------------------------
# Examples


def run_case(name, ops, rejected, members, ignored, dropped, ranks, names):
    label = lambda ids: sorted(names.get(x, x[:8]) for x in ids)  # noqa: E731
    past = {}
    for op in ops:
        ok, why = refmodel.accepts(past, op)
        check(ok, "%s: %s not accepted (%s)" % (name, names[op["id"]], why))
        past[op["id"]] = op
    for op in rejected:
        ok, why = refmodel.accepts(past, op)
        check(not ok, "%s: %s accepted" % (name, names[op["id"]]))
    res = refmodel.evaluate(ops)
    got = {pk: m["role"] for pk, m in res["members"].items()}
    check(got == members, "%s: members %s, expected %s" % (name, got, members))
    got_ignored = {x for x, v in res["valid"].items() if not v}
    check(got_ignored == ignored, "%s: ignored %s, expected %s"
          % (name, label(got_ignored), label(ignored)))
    check(set(res["valid"]) == {o["id"] for o in ops},
          "%s: validity not given for every op" % name)
    check(res["dropped"] == dropped, "%s: dropped %s, expected %s"
          % (name, label(res["dropped"]), label(dropped)))
    for pk, r in ranks.items():
        got_rank = res["members"].get(pk, {}).get("rank")
        check(got_rank == r, "%s: rank of %s is %s, expected %s"
              % (name, pk, got_rank, r))
    rng = random.Random(name)
    for _ in range(3):
        shuffled = list(ops)
        rng.shuffle(shuffled)
        check(summary(refmodel.evaluate(shuffled)) == summary(res),
              "%s: result depends on input order" % name)


def test_examples():
    seen = set()
    for ex in examples.EXAMPLES:
        seen.add(ex["name"])
        b = examples.build(ex)
        ids = lambda ns: {b.ids[n] for n in ns}  # noqa: E731
        run_case(ex["name"], b.ops, b.rejected, ex["members"],
                 ids(ex["ignored"]), ids(ex["dropped"]), ex["ranks"], b.names)
    check(seen == {"E%d" % i for i in range(1, 14)},
          "examples: E1..E13 not all present: %s" % sorted(seen))


class Case:
    """A hand-made case: ops by name, as in examples.py."""

    def __init__(self, name):
        self.name = name
        self.ops = []
        self.ids = {}

    def op(self, name, author, kind, target=None, role=None, preds=()):
        o = make_op(author, kind, target, role, [self.ids[p] for p in preds],
                    nonce="%s/%s" % (self.name, name))
        self.ids[name] = o["id"]
        self.ops.append(o)
        return o

    def run(self, members, ignored=(), dropped=(), ranks=None, rejected=()):
        names = {v: k for k, v in self.ids.items()}
        rej = [o for o in self.ops if names[o["id"]] in rejected]
        ok = [o for o in self.ops if names[o["id"]] not in rejected]
        run_case(self.name, ok, rej, members,
                 {self.ids[n] for n in ignored},
                 {self.ids[n] for n in dropped}, ranks or {}, names)


def base(name):
    c = Case(name)
    c.op("c", "A", "create")
    c.op("a1", "A", "add", "B", "admin", ["c"])
    return c


def test_extra_cases():
    # Three-way removal cycle that removes the creator: C (rank 3) is least
    # senior, so C's removal is dropped; B's removal of A then stands, and
    # A's removal of C is cancelled by it.
    c = base("X1")
    c.op("b1", "B", "add", "C", "admin", ["a1"])
    c.op("rA", "A", "remove", "C", None, ["b1"])
    c.op("rC", "C", "remove", "B", None, ["b1"])
    c.op("rB", "B", "remove", "A", None, ["b1"])
    c.run({"B": "admin", "C": "admin"}, ignored={"rA", "rC"},
          dropped={"rC"}, ranks={"B": 2, "C": 3})

    # The other orientation: C's removal of A is dropped, A's removal of B
    # stands, B's removal of C is cancelled.
    c = base("X2")
    c.op("b1", "B", "add", "C", "admin", ["a1"])
    c.op("rA", "A", "remove", "B", None, ["b1"])
    c.op("rB", "B", "remove", "C", None, ["b1"])
    c.op("rC", "C", "remove", "A", None, ["b1"])
    c.run({"A": "admin", "C": "admin"}, ignored={"rB", "rC"},
          dropped={"rC"}, ranks={"A": 1, "C": 3})

    # Concurrent promote and demote end in member; an admin op on top of
    # both is ignored (the demotion cancels the promotion for it).
    c = base("X3")
    c.op("a2", "A", "add", "C", "member", ["a1"])
    c.op("p", "A", "add", "C", "admin", ["a2"])
    c.op("d", "B", "add", "C", "member", ["a2"])
    c.op("c1", "C", "add", "D", "member", ["p", "d"])
    c.op("cw", "C", "write", None, None, ["p", "d"])
    c.run({"A": "admin", "B": "admin", "C": "member"}, ignored={"c1"})

    # Promotion after a demotion works.
    c = base("X4")
    c.op("a2", "A", "add", "C", "admin", ["a1"])
    c.op("d", "B", "add", "C", "member", ["a2"])
    c.op("p", "A", "add", "C", "admin", ["d"])
    c.op("c1", "C", "add", "D", "member", ["p"])
    c.run({"A": "admin", "B": "admin", "C": "admin", "D": "member"},
          ranks={"D": 3})

    # Mutual demotion is a cycle: the less senior demotion is dropped.
    c = base("X5")
    c.op("d1", "A", "add", "B", "member", ["a1"])
    c.op("d2", "B", "add", "A", "member", ["a1"])
    c.run({"A": "admin", "B": "member"}, ignored={"d2"}, dropped={"d2"})

    # Zero admins is legal; later admin ops of the self-demoted creator are
    # accepted (potential grant: the create) but ignored.
    c = Case("X6")
    c.op("c", "A", "create")
    c.op("a1", "A", "add", "B", "member", ["c"])
    c.op("a2", "A", "add", "A", "member", ["a1"])
    c.op("a3", "A", "add", "C", "admin", ["a2"])
    c.op("aw", "A", "write", None, None, ["a3"])
    c.op("bw", "B", "write", None, None, ["a1"])
    c.run({"A": "member", "B": "member"}, ignored={"a3"})

    # Cascade: C was added only by an ignored add, so C's ops are ignored.
    c = base("X7")
    c.op("b1", "B", "add", "C", "member", ["a1"])
    c.op("r", "A", "remove", "B", None, ["a1"])
    c.op("cw", "C", "write", None, None, ["b1"])
    c.op("c2", "C", "remove", "C", None, ["cw"])
    c.run({"A": "admin"}, ignored={"b1", "cw", "c2"})

    # The creator's write concurrent with its removal is ignored.
    c = base("X8")
    c.op("b1", "B", "remove", "A", None, ["a1"])
    c.op("aw", "A", "write", None, None, ["a1"])
    c.run({"B": "admin"}, ignored={"aw"})

    # A member cannot do admin ops (rejected at acceptance); an outsider
    # cannot even write; a second create and a pred-less op are rejected.
    c = Case("X9")
    c.op("c", "A", "create")
    c.op("a1", "A", "add", "B", "member", ["c"])
    c.op("b1", "B", "add", "C", "member", ["a1"])
    c.op("b2", "B", "schema", None, None, ["a1"])
    c.op("b3", "B", "remove", "A", None, ["a1"])
    c.op("b4", "B", "remove", "B", None, ["a1"])
    c.op("e1", "E", "write", None, None, ["a1"])
    c.op("c2", "B", "create")
    c.op("n1", "A", "write")
    c.run({"A": "admin"}, rejected={"b1", "b2", "b3", "e1", "c2", "n1"})

    # Two concurrent leaves of the same user are a cycle: the larger hash is
    # dropped, the other takes effect.
    c = base("X10")
    c.op("s1", "B", "remove", "B", None, ["a1"])
    c.op("s2", "B", "remove", "B", None, ["a1"])
    big = "s1" if c.ids["s1"] > c.ids["s2"] else "s2"
    c.run({"A": "admin"}, ignored={big}, dropped={big})

    # Rule 3 only looks at removes not before the grant: a re-added user's
    # ops after the re-add are valid, ops concurrent with the removal not.
    c = base("X11")
    c.op("bw1", "B", "write", None, None, ["a1"])
    c.op("r", "A", "remove", "B", None, ["a1"])
    c.op("a2", "A", "add", "B", "admin", ["r"])
    c.op("bw2", "B", "write", None, None, ["a2", "bw1"])
    c.op("b1", "B", "add", "C", "member", ["bw2"])
    c.run({"A": "admin", "B": "admin", "C": "member"}, ignored={"bw1"},
          ranks={"B": 2, "C": 3})

    # Seniority ignores removals: B, removed and re-added by C (rank 2),
    # keeps rank 2 and key (2, a1) rather than (3, c1), so the mutual
    # removal of B and C is decided by comparing the hashes of a1 and a2.
    c = base("X12")
    c.op("a2", "A", "add", "C", "admin", ["a1"])
    c.op("r", "A", "remove", "B", None, ["a2"])
    c.op("c1", "C", "add", "B", "admin", ["r"])
    c.op("rb", "B", "remove", "C", None, ["c1"])
    c.op("rc", "C", "remove", "B", None, ["c1"])
    exp_big = max((c.ids["a1"], "B"), (c.ids["a2"], "C"))[1]
    # B's key (2, a1) vs C's key (2, a2): the larger hash is less senior.
    loser = {"B": "rb", "C": "rc"}[exp_big]
    winner_pk = "C" if exp_big == "B" else "B"
    c.run({"A": "admin", winner_pk: "admin"}, ignored={loser},
          dropped={loser}, ranks={winner_pk: 2})

    # Rank is the shortest chain of potential adds, whatever came first:
    # D is added by C (rank 3) and later by A, so D has rank 2.
    c = base("X13")
    c.op("b1", "B", "add", "C", "admin", ["a1"])
    c.op("c1", "C", "add", "D", "admin", ["b1"])
    c.op("d1", "D", "add", "E", "member", ["c1"])
    c.op("a2", "A", "add", "D", "member", ["d1"])
    c.op("r", "A", "remove", "C", None, ["a2"])
    c.run({"A": "admin", "B": "admin", "D": "member", "E": "member"},
          ranks={"A": 1, "B": 2, "D": 2, "E": 3})

    # Relays (docs/membership.md): listed with role relay, rank as usual;
    # every op a relay signs but its own leave is refused at acceptance.
    c = base("X14")
    c.op("r1", "A", "add", "R", "relay", ["a1"])
    c.op("rw", "R", "write", None, None, ["r1"])
    c.op("ra", "R", "add", "D", "member", ["r1"])
    c.op("rr", "R", "remove", "B", None, ["r1"])
    c.op("rs", "R", "schema", None, None, ["r1"])
    c.run({"A": "admin", "B": "admin", "R": "relay"}, ranks={"R": 2},
          rejected={"rw", "ra", "rr", "rs"})

    # A relay's own leave is accepted and takes effect.
    c = base("X15")
    c.op("r1", "A", "add", "R", "relay", ["a1"])
    c.op("rl", "R", "remove", "R", None, ["r1"])
    c.run({"A": "admin", "B": "admin"})

    # A member demoted to relay concurrently with its writes and adds: the
    # ops are accepted (a potential member grant in their past) but ignored,
    # like a removal's; its writes after the demotion likewise; its leave
    # stands.  Promoted back to member, it writes again.
    c = base("X16")
    c.op("a2", "A", "add", "C", "admin", ["a1"])
    c.op("d", "A", "add", "C", "relay", ["a2"])
    c.op("cw", "C", "write", None, None, ["a2"])
    c.op("ca", "C", "add", "D", "member", ["a2"])
    c.op("cw2", "C", "write", None, None, ["d", "cw"])
    c.run({"A": "admin", "B": "admin", "C": "relay"},
          ignored={"cw", "ca", "cw2"})
    c = base("X17")
    c.op("a2", "A", "add", "C", "member", ["a1"])
    c.op("d", "A", "add", "C", "relay", ["a2"])
    c.op("p", "B", "add", "C", "member", ["d"])
    c.op("cw", "C", "write", None, None, ["p"])
    c.op("cl", "C", "remove", "C", None, ["d"])
    c.run({"A": "admin", "B": "admin"}, ignored={"cw"})

    # Concurrent demotion to member and to relay end in relay (the lowest
    # role among the latest grants); a relay never counts as an admin.
    c = base("X18")
    c.op("a2", "A", "add", "C", "admin", ["a1"])
    c.op("d1", "A", "add", "C", "member", ["a2"])
    c.op("d2", "B", "add", "C", "relay", ["a2"])
    c.op("cw", "C", "write", None, None, ["d1", "d2"])
    c.run({"A": "admin", "B": "admin", "C": "relay"}, ignored={"cw"})

    # A relay-only key cannot even write on top of a later member grant it
    # has not seen: acceptance looks at the op's own past.
    c = base("X19")
    c.op("r1", "A", "add", "R", "relay", ["a1"])
    c.op("p", "A", "add", "R", "member", ["r1"])
    c.op("rw", "R", "write", None, None, ["r1"])
    c.op("rw2", "R", "write", None, None, ["p"])
    c.run({"A": "admin", "B": "admin", "R": "member"}, rejected={"rw"})


# ---------------------------------------------------------------------------
# Random scenarios


def properties(name, ops, res, a):
    """Rules 4, 7, 8 and 9 hold as equations on the final result."""
    ops_n = {o["id"]: refmodel.norm(o) for o in ops}
    anc, into, valid, dropped = a["anc"], a["into"], a["valid"], a["dropped"]
    create = [x for x, o in ops_n.items() if o.kind == "create"][0]
    check(valid[create], "%s: create invalid" % name)
    check(all(not valid[x] for x in dropped), "%s: a dropped op is valid" % name)
    alive = set(ops_n) - dropped
    check(not refmodel.nontrivial_sccs(alive, into),
          "%s: authority graph cyclic after rule 7" % name)
    bad = [x for x in ops_n if x not in dropped and
           refmodel.rule4_valid(x, ops_n, anc, valid, dropped) != valid[x]]
    check(not bad, "%s: rule 4 does not hold for %d ops" % (name, len(bad)))
    for pk, m in res["members"].items():
        grants = [g for g, o in ops_n.items()
                  if refmodel.is_grant_of(o, pk) and valid[g]]
        check(grants and m["rank"] == a["rank"][pk],
              "%s: member %s without valid grant or rank" % (name, pk))
    # rule 5 as equations: rank is the least rank(author) + 1 over the
    # potential adds of pk, key the least hash among those achieving it
    rank, key = a["rank"], a["key"]
    adds = [o for x, o in ops_n.items()
            if o.kind == "add" and x in a["potential"]]
    ok = True
    for pk in rank:
        if pk == ops_n[create].author:
            ok = ok and rank[pk] == 1 and key[pk] == (1, create)
            continue
        cands = [(rank[o.author] + 1, o.id) for o in adds
                 if o.target == pk and o.author in rank]
        ok = ok and cands and (rank[pk], key[pk]) == (min(cands)[0], min(cands))
    check(ok, "%s: rule 5 ranks or keys wrong" % name)
    # valid ops have potential authority (valid implies potential)
    check(all(x in a["potential"] for x, o in ops_n.items()
              if o.kind == "add" and valid[x]),
          "%s: a valid add is not potential" % name)


def test_scenarios(n):
    rng = random.Random(12345)
    t0 = time.time()
    for i in range(n):
        n_users = rng.randint(2, 7)
        n_ops = rng.randint(3, 70)
        seed = rng.randrange(1 << 30)
        name = "scenario seed=%d users=%d ops=%d" % (seed, n_users, n_ops)
        ops = gen.random_scenario(seed, n_users=n_users, n_ops=n_ops)
        check(ops == gen.random_scenario(seed, n_users=n_users, n_ops=n_ops),
              "%s: generator not deterministic" % name)
        # acceptance, in generation order
        past = {}
        bad = []
        for op in ops:
            if not refmodel.accepts(past, op)[0]:
                bad.append(op["id"])
            past[op["id"]] = op
        check(not bad, "%s: %d generated ops not accepted" % (name, len(bad)))
        a = refmodel.analyze(ops)
        res = refmodel.evaluate(ops)
        check(summary(res) == (a["valid"], a["members"], a["dropped"]),
              "%s: evaluate and analyze differ" % name)
        properties(name, ops, res, a)
        # order independence of evaluate
        for k in range(2):
            shuffled = list(ops)
            rng.shuffle(shuffled)
            if k == 1:
                shuffled += shuffled[: len(shuffled) // 3]   # duplicates
            check(summary(refmodel.evaluate(shuffled)) == summary(res),
                  "%s: result depends on input order" % name)
        # acceptance does not depend on delivery order
        if i % 5 == 0:
            for order in gen.random_delivery_orders(ops, rng, 1):
                got = {}
                bad = []
                for op in order:
                    if not refmodel.accepts(got, op)[0]:
                        bad.append(op["id"])
                    got[op["id"]] = op
                check(not bad, "%s: %d ops refused in a delivery order"
                      % (name, len(bad)))
        # rejects are refused
        for op, what in gen.random_rejects(ops, rng, 3):
            ok, why = refmodel.accepts(past, op)
            check(not ok, "%s: %s op accepted" % (name, what))
    return time.time() - t0


def test_speed():
    ops = gen.random_scenario(7, n_users=8, n_ops=300)
    t0 = time.time()
    refmodel.evaluate(ops)
    dt = time.time() - t0
    check(len(ops) == 300, "speed: generator made %d ops, not 300" % len(ops))
    check(dt < 1.0, "speed: evaluate of 300 ops took %.2fs" % dt)


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    tests = [test_examples, test_extra_cases, lambda: test_scenarios(n),
             test_speed]
    for t in tests:
        try:
            t()
        except Exception as e:  # a crash counts as one failure
            import traceback
            traceback.print_exc()
            check(False, "exception %s: %s" % (type(e).__name__, e))
    print("RESULT %d %d" % (passed, failed))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
