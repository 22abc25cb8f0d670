"""Random membership scenarios for the reference model (refmodel.py).

random_scenario(seed, n_users=5, n_ops=60) -> list of op dicts
    A simulation of n_users replicas "U0".."U<n-1>" (U0 creates the group).
    Each replica holds a causally closed set of ops; a user appends ops with
    its local heads as predecessors, and replicas now and then merge each
    other's ops (all of them, or a causally closed prefix).  The mix has
    adds (admin/member/relay, so promotions and demotions, also to and from
    relay), removes (including
    mutual removes issued without syncing in between, and leaving), data
    ops (write/app/schema), and ops by users who have been removed
    concurrently or (rarely) who ignore their own removal.  Every op is
    checked with refmodel.accepts against its causal past; only accepted ops
    are returned, in the order they were made (a topological order).

random_rejects(ops, rng, k=8) -> list of (op, category)
    Ops that acceptance must refuse on top of `ops`: an outsider's op, a
    member-only user's admin op, a missing predecessor, a second create, a
    non-create without predecessors, malformed shapes.

random_delivery_orders(ops, rng, k) -> list of k lists of ops
    k random topological orders of ops.
"""

import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import refmodel  # noqa: E402
from refmodel import ADMIN, LEVEL, MEMBER, RELAY  # noqa: E402


class _Sim:
    def __init__(self, rng, users, tag):
        self.rng = rng
        self.users = users
        self.tag = tag
        self.ops = []            # every accepted op, in creation order
        self.by_id = {}          # id -> op dict
        self.anc = {}            # id -> frozenset of ids before it
        self.potential = set()   # potential grants (rule 5)
        self.view = {u: [] for u in users}       # ids, in a topological order
        self.known = {u: {} for u in users}      # id -> op dict
        self.heads = {u: set() for u in users}
        self.counter = 0

    # -- replicas -----------------------------------------------------------

    def _learn(self, u, x):
        op = self.by_id[x]
        self.view[u].append(x)
        self.known[u][x] = op
        self.heads[u] -= set(op["preds"])
        self.heads[u].add(x)

    def sync(self, dst, src, partial):
        """dst receives src's ops: all, or a causally closed prefix."""
        ids = self.view[src]
        if partial and ids:
            ids = ids[:self.rng.randint(1, len(ids))]
        for x in ids:
            if x not in self.known[dst]:
                self._learn(dst, x)

    # -- making ops ---------------------------------------------------------

    def emit(self, u, kind, target=None, role=None, preds=None):
        """u signs an op on top of its heads (or the given preds).  Returns
        the op if it was accepted, else None."""
        if preds is None:
            preds = sorted(self.heads[u])
        self.counter += 1
        op = refmodel.make_op(u, kind, target, role, preds,
                              nonce="%s/%d" % (self.tag, self.counter))
        ok, _why = refmodel.accepts(self.known[u], op)
        if not ok:
            return None
        x = op["id"]
        past = set()
        for p in op["preds"]:
            past.add(p)
            past |= self.anc[p]
        self.anc[x] = frozenset(past)
        if kind == "create":
            self.potential.add(x)
        elif kind == "add" and self._has_grant(u, past, True, potential=True):
            self.potential.add(x)
        self.ops.append(op)
        self.by_id[x] = op
        self._learn(u, x)
        return op

    # -- what a user believes (cheap approximations, only to pick actions) --

    def _grants(self, u, within):
        return [x for x in within if refmodel.is_grant_of(refmodel.norm(self.by_id[x]), u)]

    def _has_grant(self, u, within, admin, potential):
        """admin: True (an admin grant), False (member or admin) or a role."""
        need = admin if isinstance(admin, str) else (ADMIN if admin else MEMBER)
        for g in self._grants(u, within):
            if potential and g not in self.potential:
                continue
            if refmodel.gives(refmodel.norm(self.by_id[g]), need):
                return True
        return False

    def believed_role(self, u):
        """u's role in its own view by rule 9, ignoring the validity of the
        ops (a cheap stand-in for what the local API would say)."""
        view = self.known[u]
        live = []
        for g in self._grants(u, view):
            if any(self.by_id[r]["kind"] == "remove"
                   and self.by_id[r]["target"] == u
                   and r not in self.anc[g] for r in view):
                continue
            live.append(g)
        if not live:
            return None
        maximal = [g for g in live if not any(g in self.anc[h] for h in live)]
        return min((refmodel.grant_role(refmodel.norm(self.by_id[g]))
                    for g in maximal), key=lambda r: LEVEL[r])

    # -- one step -----------------------------------------------------------

    def act(self, u):
        rng = self.rng
        view = self.known[u]
        can_admin = self._has_grant(u, view, True, potential=True)
        can_member = self._has_grant(u, view, False, potential=True)
        if not can_member:
            # A relay only: it may leave; now and then it tries to write
            # anyway (refused at acceptance, so nothing is made).
            if self._has_grant(u, view, RELAY, potential=True):
                if rng.random() < 0.1:
                    return self.emit(u, "remove", u)
                if rng.random() < 0.1:
                    return self.emit(u, "write")
            return None
        role = self.believed_role(u)
        if rng.random() < 0.95:                  # a well-behaved replica
            if role is None:
                return None
            if role == RELAY:                    # demoted to relay
                return self.emit(u, "remove", u) if rng.random() < 0.1 else None
            can_admin = can_admin and role == ADMIN
        others = [v for v in self.users if v != u]
        choices = [("write", 30), ("app", 8), ("leave", 2)]
        if can_admin:
            choices += [("add", 25), ("remove", 12), ("schema", 4)]
        kind = _pick(rng, choices)
        if kind in ("write", "app", "schema"):
            return self.emit(u, kind)
        if kind == "leave":
            return self.emit(u, "remove", u)
        if kind == "add":
            target = u if rng.random() < 0.03 else rng.choice(others)
            return self.emit(u, "add", target,
                             _pick(rng, [(ADMIN, 35), (MEMBER, 50), (RELAY, 15)]))
        return self.emit(u, "remove", rng.choice(others))

    def conflict(self):
        """Two users act against each other without syncing in between:
        mutual removal, mutual demotion, or remove vs. demote."""
        rng = self.rng
        u, v = rng.sample(self.users, 2)
        made = []
        for a, b in ((u, v), (v, u)):
            if not self._has_grant(a, self.known[a], True, potential=True):
                continue
            what = _pick(rng, [("remove", 6), ("demote", 2), ("add", 1)])
            if what == "remove":
                op = self.emit(a, "remove", b)
            elif what == "demote":
                op = self.emit(a, "add", b, rng.choice([MEMBER, MEMBER, RELAY]))
            else:
                op = self.emit(a, "add", rng.choice(self.users),
                               rng.choice([ADMIN, MEMBER, RELAY]))
            if op:
                made.append(op)
        return made


def _pick(rng, weighted):
    total = sum(w for _, w in weighted)
    n = rng.uniform(0, total)
    for item, w in weighted:
        n -= w
        if n <= 0:
            return item
    return weighted[-1][0]


def random_scenario(seed, n_users=5, n_ops=60):
    """A random, acceptable set of ops (list of dicts, topological order)."""
    rng = random.Random(seed)
    users = ["U%d" % i for i in range(n_users)]
    sim = _Sim(rng, users, "s%s" % (seed,))
    creator = users[0]
    sim.emit(creator, "create")
    # The creator adds a few people (at least one admin) and tells everyone.
    first = users[1:1 + rng.randint(1, max(1, min(3, n_users - 1)))]
    for i, v in enumerate(first):
        if len(sim.ops) >= n_ops:
            break
        sim.emit(creator, "add", v,
                 ADMIN if i == 0 or rng.random() < 0.4 else MEMBER)
    for v in users[1:]:
        if rng.random() < 0.8:
            sim.sync(v, creator, partial=False)
    steps = 0
    while len(sim.ops) < n_ops and steps < 50 * n_ops:
        steps += 1
        r = rng.random()
        if r < 0.25:
            dst, src = rng.sample(users, 2)
            sim.sync(dst, src, partial=rng.random() < 0.3)
        elif r < 0.30:
            sim.conflict()
        else:
            sim.act(rng.choice(users))
    return sim.ops[:n_ops]


def _admin_grant_of(op, u):
    """Is op a grant of u giving admin?"""
    return refmodel.is_grant_of(op, u) and refmodel.gives_admin(op)


def random_rejects(ops, rng, k=8):
    """Up to k ops that acceptance must refuse on top of the set `ops`, as
    (op dict, category)."""
    by_id = {o["id"]: o for o in ops}
    ids = sorted(by_id)
    norm = {x: refmodel.norm(o) for x, o in by_id.items()}
    anc = refmodel.causal_pasts(norm)
    potential = refmodel.potential_grants(norm, anc, refmodel.causal_order(anc))
    targets = {o["target"] for o in ops if o["kind"] == "add"}
    authors = {o["author"] for o in ops}
    out = []
    n = 0
    while len(out) < k and n < 10 * k:
        n += 1
        n_tag = "reject/%d/%d" % (len(ops), n)
        some = rng.sample(ids, min(len(ids), rng.randint(1, 3)))
        what = rng.choice(["outsider", "member-admin", "relay-op", "missing",
                           "create", "nopreds", "malformed"])
        op = None
        if what == "outsider":
            outsider = "X%d" % rng.randint(0, 9)
            assert outsider not in targets and outsider not in authors
            kind = rng.choice(["write", "app", "schema", "add", "remove"])
            target = rng.choice(sorted(authors)) if kind in ("add", "remove") else None
            op = refmodel.make_op(outsider, kind, target,
                                  ADMIN if kind == "add" else None, some,
                                  nonce=n_tag)
        elif what == "member-admin":
            # g: a potential add(u, member) with no potential admin grant of
            # u at or before it; u then does an admin op on top of g alone.
            cands = []
            for g in ids:
                o = norm[g]
                if not (o.kind == "add" and o.role == MEMBER and g in potential):
                    continue
                before = anc[g] | {g}
                if any(h in potential and _admin_grant_of(norm[h], o.target)
                       for h in before):
                    continue
                cands.append(g)
            if cands:
                g = rng.choice(cands)
                u = norm[g].target
                kind = rng.choice(["schema", "add", "remove"])
                target = {"schema": None, "add": rng.choice(sorted(authors)),
                          "remove": "someone-else"}[kind]
                op = refmodel.make_op(u, kind, target,
                                      MEMBER if kind == "add" else None, [g],
                                      nonce=n_tag)
        elif what == "relay-op":
            # g: a potential add(u, relay) with no potential member or admin
            # grant of u at or before it; u then signs anything but its own
            # leave on top of g alone.
            cands = []
            for g in ids:
                o = norm[g]
                if not (o.kind == "add" and o.role == RELAY and g in potential):
                    continue
                before = anc[g] | {g}
                if any(h in potential and refmodel.is_grant_of(norm[h], o.target)
                       and refmodel.gives(norm[h], MEMBER) for h in before):
                    continue
                cands.append(g)
            if cands:
                g = rng.choice(cands)
                u = norm[g].target
                kind = rng.choice(["write", "app", "schema", "add", "remove"])
                target = {"add": rng.choice(sorted(authors)),
                          "remove": "someone-else"}.get(kind)
                op = refmodel.make_op(u, kind, target,
                                      RELAY if kind == "add" else None, [g],
                                      nonce=n_tag)
        elif what == "missing":
            fake = refmodel.make_op("nobody", "write", nonce=n_tag)["id"]
            op = refmodel.make_op(ops[0]["author"], "write", None, None,
                                  some + [fake], nonce=n_tag)
        elif what == "create":
            op = refmodel.make_op(rng.choice(sorted(authors)), "create",
                                  nonce=n_tag)
        elif what == "nopreds":
            if rng.random() < 0.5:
                op = refmodel.make_op(ops[0]["author"], "write", nonce=n_tag)
            else:
                op = refmodel.make_op(ops[0]["author"], "add", "U1", ADMIN,
                                      nonce=n_tag)
        else:
            op = refmodel.make_op(ops[0]["author"], "add", "U1", "owner", some,
                                  nonce=n_tag)
        if op is not None:
            out.append((op, what))
    return out


def random_delivery_orders(ops, rng, k):
    """k random topological orders of ops (each a list of the same dicts)."""
    by_id = {o["id"]: o for o in ops}
    orders = []
    for _ in range(k):
        waiting = {x: set(o["preds"]) for x, o in by_id.items()}
        users_of = {x: [] for x in by_id}
        for x, o in by_id.items():
            for p in o["preds"]:
                users_of[p].append(x)
        ready = sorted(x for x, w in waiting.items() if not w)
        order = []
        while ready:
            x = ready.pop(rng.randrange(len(ready)))
            order.append(by_id[x])
            for y in users_of[x]:
                waiting[y].discard(x)
                if not waiting[y]:
                    ready.append(y)
        assert len(order) == len(by_id)
        orders.append(order)
    return orders
