"""Reference model of bec's membership rules.

A direct, deliberately slow transcription of /work/shared/MEMBERSHIP.md
(docs/membership.md).  Clarity over speed: every rule is one function, named
after its number in the specification, and works on plain Python sets.  It
exists to be compared with the C implementation, so it must be obviously
right rather than fast (a few hundred ops take well under a second).

An op is a dict (or any object with these attributes):
    id      64 lowercase hex chars: the op hash.  Hashes compare as strings.
    author  public key (any string; compared for equality only)
    kind    "create" | "add" | "remove" | "app" | "schema" | "write"
    target  public key for add/remove, else None
    role    "admin" | "member" | "relay" for add, else None
    preds   list of op ids (the predecessors)

Public API:
    evaluate(ops) -> {"valid": {id: bool}, "members": {pk: {"role", "rank"}},
                      "dropped": set of ids}
    accepts(ops_so_far_by_id, op) -> (bool, reason)
    analyze(ops)  -> evaluate()'s result plus the intermediate results
    make_op(author, kind, target=None, role=None, preds=(), nonce="")

Notation as in the specification: "x < y" means x is a transitive
predecessor of y, i.e. x in anc[y].
"""

import hashlib
from collections import namedtuple

ADMIN = "admin"
MEMBER = "member"
RELAY = "relay"      # syncs, stores, forwards; authors nothing but its leave
KINDS = ("create", "add", "remove", "app", "schema", "write")
DATA_KINDS = ("app", "schema", "write")
ROLES = (ADMIN, MEMBER, RELAY)
# Levels of authority: what a grant gives, what an op needs (rule 1).
LEVEL = {RELAY: 1, MEMBER: 2, ADMIN: 3}

# The normalized, immutable form of an op used internally.
Op = namedtuple("Op", "id author kind target role preds")


# ---------------------------------------------------------------------------
# Ops


def make_op(author, kind, target=None, role=None, preds=(), nonce=""):
    """A new op as a dict.  There is no real crypto here: the id is the
    SHA-256 of a canonical text of the op's fields (preds sorted) and a
    nonce that makes otherwise identical ops distinct."""
    preds = sorted(preds)
    text = "\n".join([
        "bec-refmodel-op-v1",
        str(author),
        str(kind),
        "-" if target is None else str(target),
        "-" if role is None else str(role),
        ",".join(preds),
        str(nonce),
    ])
    return {
        "id": hashlib.sha256(text.encode("utf-8")).hexdigest(),
        "author": author,
        "kind": kind,
        "target": target,
        "role": role,
        "preds": list(preds),
    }


def norm(op):
    """The Op namedtuple of a dict or an object with the same fields."""
    if isinstance(op, Op):
        return op
    if isinstance(op, dict):
        get = op.get
    else:
        def get(name):
            return getattr(op, name, None)
    return Op(get("id"), get("author"), get("kind"), get("target"),
              get("role"), tuple(get("preds") or ()))


def _is_hash(s):
    return (isinstance(s, str) and len(s) == 64
            and all(c in "0123456789abcdef" for c in s))


def shape_error(op):
    """None if op is well formed, else why not.  (The model's stand-in for
    'canonical encoding': fields consistent with the kind.)"""
    if not _is_hash(op.id):
        return "malformed: id is not 64 lowercase hex"
    if op.kind not in KINDS:
        return "malformed: unknown kind %r" % (op.kind,)
    if not isinstance(op.author, str) or not op.author:
        return "malformed: no author"
    for p in op.preds:
        if not _is_hash(p):
            return "malformed: predecessor is not 64 lowercase hex"
    if len(set(op.preds)) != len(op.preds):
        return "malformed: repeated predecessor"
    if op.kind == "add":
        if op.target is None or op.role not in ROLES:
            return "malformed: add needs a target and a role"
    elif op.kind == "remove":
        if op.target is None or op.role is not None:
            return "malformed: remove needs a target and no role"
    elif op.target is not None or op.role is not None:
        return "malformed: %s has no target or role" % op.kind
    if op.kind == "create" and op.preds:
        return "malformed: create with predecessors"
    return None


# ---------------------------------------------------------------------------
# Rules 1 and 2: required roles and grants


def required_role(op):
    """Rule 1.  ADMIN, MEMBER (= a member or admin grant), RELAY (= any
    grant: only a leave) or None for the create, which is always valid."""
    if op.kind == "create":
        return None
    if op.kind in ("add", "schema"):
        return ADMIN
    if op.kind == "remove":
        return RELAY if op.target == op.author else ADMIN
    return MEMBER                                  # app, write


def is_grant_of(op, u):
    """Rule 2: the create if u wrote it, and every add(u, role)."""
    return ((op.kind == "create" and op.author == u)
            or (op.kind == "add" and op.target == u))


def gives_admin(grant):
    """Rule 2: the create, or an add with role admin."""
    return grant.kind == "create" or grant.role == ADMIN


def grant_role(grant):
    """The role a grant gives: the create gives admin."""
    return ADMIN if grant.kind == "create" else grant.role


def gives(grant, need):
    """Does this grant give the role `need` (ADMIN, MEMBER or RELAY)?  A
    relay grant gives only RELAY (a leave)."""
    return LEVEL[grant_role(grant)] >= LEVEL[need]


def is_remove_of(op, u):
    return op.kind == "remove" and op.target == u


def is_demotion_of(op, u, need=ADMIN):
    """add(u, role) giving less than `need`: a demotion if u held more
    (add(u, member) for admin ops; add(u, relay) for admin and data ops)."""
    return (op.kind == "add" and op.target == u
            and LEVEL[op.role] < LEVEL[need])


# ---------------------------------------------------------------------------
# Causal order


def causal_pasts(ops):
    """anc[x] = frozenset of every y with y < x, for every x in ops (a dict
    id -> Op).  Raises ValueError on a missing predecessor or a cycle."""
    anc = {}
    for start in ops:
        stack = [start]
        busy = set()
        while stack:
            x = stack[-1]
            if x in anc:
                stack.pop()
                continue
            todo = []
            for p in ops[x].preds:
                if p not in ops:
                    raise ValueError("op %s: missing predecessor %s" % (x, p))
                if p not in anc:
                    todo.append(p)
            if todo:
                if x in busy:
                    raise ValueError("cycle in predecessors at %s" % x)
                busy.add(x)
                stack.extend(todo)
                continue
            past = set()
            for p in ops[x].preds:
                past.add(p)
                past |= anc[p]
            anc[x] = frozenset(past)
            stack.pop()
    return anc


def causal_order(anc):
    """A topological order of the DAG: x < y implies anc[x] is a proper
    subset of anc[y], so sorting by the size of the past works."""
    return sorted(anc, key=lambda x: (len(anc[x]), x))


# ---------------------------------------------------------------------------
# Rule 5: potential grants, ranks and seniority keys


def potential_grants(ops, anc, order):
    """Rule 5.  The set of potential grants: the create, and every add whose
    author has a potential admin grant g < add.  A potential grant's status
    depends only on its own causal past, so one pass in causal order."""
    potential = set()
    for x in order:
        op = ops[x]
        if op.kind == "create":
            potential.add(x)
        elif op.kind == "add":
            for g in anc[x]:
                if (g in potential and is_grant_of(ops[g], op.author)
                        and gives_admin(ops[g])):
                    potential.add(x)
                    break
    return potential


def ranks_and_keys(ops, potential):
    """Rule 5.  rank(creator) = 1; rank(pk) = min over potential add(pk, .)
    of rank(author) + 1 (a shortest path, computed by relaxing until nothing
    changes).  key(pk) = (rank, lowest hash among the potential adds of pk
    whose author has rank(pk) - 1); the creator's key is (1, create hash)."""
    creates = [x for x in ops if ops[x].kind == "create"]
    if len(creates) != 1:
        raise ValueError("need exactly one create, have %d" % len(creates))
    create = ops[creates[0]]
    rank = {create.author: 1}
    adds = [ops[x] for x in potential if ops[x].kind == "add"]
    changed = True
    while changed:
        changed = False
        for a in adds:
            if a.author in rank:
                r = rank[a.author] + 1
                if a.target not in rank or r < rank[a.target]:
                    rank[a.target] = r
                    changed = True
    key = {create.author: (1, create.id)}
    for pk in rank:
        if pk == create.author:
            continue
        hashes = [a.id for a in adds
                  if a.target == pk and rank.get(a.author) == rank[pk] - 1]
        key[pk] = (rank[pk], min(hashes))
    return rank, key


# ---------------------------------------------------------------------------
# Acceptance


def _authorized(op, anc_op, ops, potential):
    """Acceptance, authorization part: the author holds a potential grant in
    op's causal past giving the role the op needs."""
    need = required_role(op)
    if need is None:
        return True
    for g in anc_op:
        if (g in potential and is_grant_of(ops[g], op.author)
                and gives(ops[g], need)):
            return True
    return False


def accepts(ops_so_far_by_id, op):
    """The acceptance rule: may `op` be stored on a replica that holds
    ops_so_far_by_id (id -> op, assumed accepted already)?  Looks only at
    the op and its causal past.  Returns (bool, reason)."""
    op = norm(op)
    why = shape_error(op)
    if why:
        return False, why
    if op.id in ops_so_far_by_id:
        return False, "duplicate"
    if op.kind == "create":
        for other in ops_so_far_by_id.values():
            if norm(other).kind == "create":
                return False, "second create"
        return True, "ok"
    if not op.preds:
        return False, "malformed: no predecessors"
    for p in op.preds:
        if p not in ops_so_far_by_id:
            return False, "missing predecessor %s" % p
    # The causal past of op, and everything rule 5 needs inside it.
    past = set()
    todo = list(op.preds)
    while todo:
        x = todo.pop()
        if x not in past:
            past.add(x)
            todo.extend(norm(ops_so_far_by_id[x]).preds)
    ops = {x: norm(ops_so_far_by_id[x]) for x in past}
    if sum(1 for o in ops.values() if o.kind == "create") != 1:
        return False, "causal past has no single create"
    anc = causal_pasts(ops)
    potential = potential_grants(ops, anc, causal_order(anc))
    if not _authorized(op, past, ops, potential):
        return False, ("unauthorized: %s has no potential %s grant in the "
                       "causal past" % (op.author, required_role(op)))
    return True, "ok"


# ---------------------------------------------------------------------------
# Rule 6: the authority graph


def authority_edges(ops, anc):
    """Rule 6.  into[y] = set of x with an edge x -> y (x != y, y by u):
      (a) x is a grant of u and x < y;
      (b) x is remove(u) and not(y < x);
      (c) x is an add(u, role) whose role is below what y needs, and
          not(y < x) (a demotion; to member for admin ops, to relay for
          every op but a leave)."""
    into = {y: set() for y in ops}
    for y in ops:
        u = ops[y].author
        need = required_role(ops[y])
        for x in ops:
            if x == y:
                continue
            xo = ops[x]
            if is_grant_of(xo, u) and x in anc[y]:
                into[y].add(x)
            if is_remove_of(xo, u) and y not in anc[x]:
                into[y].add(x)
            if need and is_demotion_of(xo, u, need) and y not in anc[x]:
                into[y].add(x)
    return into


# ---------------------------------------------------------------------------
# Rule 7: conflicts


def nontrivial_sccs(nodes, into):
    """The strongly connected components with more than one op of the
    authority graph restricted to `nodes`.  Brute force: reach[x] is the set
    of nodes reachable from x by a path of length >= 1, built with Warshall's
    transitive closure on bitsets; x is in a nontrivial component iff x can
    reach itself (there are no self-edges), and its component is x plus every
    y with x reaching y and y reaching x."""
    nodes = sorted(nodes)
    bit = {x: 1 << i for i, x in enumerate(nodes)}
    reach = {x: 0 for x in nodes}
    for y in nodes:
        for x in into[y]:
            if x in bit:
                reach[x] |= bit[y]                 # edge x -> y
    for k in nodes:                                # Warshall
        bk, rk = bit[k], reach[k]
        for i in nodes:
            if reach[i] & bk:
                reach[i] |= rk                     # i -> k -> ...
    comps = []
    seen = set()
    for x in nodes:
        if x in seen or not (reach[x] & bit[x]):
            continue
        comp = {y for y in nodes
                if (reach[x] & bit[y]) and (reach[y] & bit[x])}
        comps.append(comp)
        seen |= comp
    return comps


def drop_conflicts(ops, into, key):
    """Rule 7.  While some strongly connected component has more than one
    op, drop in each such component the op whose author has the largest key
    (least senior), and of that author's ops in it the largest hash.  Keys
    are unique per author, so this is max over (key(author), hash).

    Dropping ops only removes edges, so every component of a later round
    lies inside a component of the round before: each round only needs to
    look at the ops that were in nontrivial components last round."""
    dropped = set()
    candidates = set(ops)
    while True:
        comps = nontrivial_sccs(candidates, into)
        if not comps:
            return dropped
        candidates = set()
        for comp in comps:
            victim = max(comp, key=lambda x: (key[ops[x].author], x))
            dropped.add(victim)
            candidates |= comp - {victim}


# ---------------------------------------------------------------------------
# Rules 3, 4 and 8: validity


def cancelled(g, y, ops, anc, valid):
    """Rule 3: is grant g (of y's author u, g < y) cancelled for y?  The
    validity of r (or d) is looked at last: only the r and d with not(y < r)
    have an authority edge into y, so only theirs is known already."""
    u = ops[y].author
    for r in ops:
        if (r != y and is_remove_of(ops[r], u)
                and r not in anc[g] and y not in anc[r] and valid[r]):
            return True
    need = required_role(ops[y])
    if need:
        for d in ops:
            if (d != y and is_demotion_of(ops[d], u, need)
                    and d not in anc[g] and y not in anc[d] and valid[d]):
                return True
    return False


def rule4_valid(y, ops, anc, valid, dropped):
    """Rule 4, given the validity of every op y depends on (all the ops with
    an authority edge into y)."""
    op = ops[y]
    if y in dropped:
        return False
    if op.kind == "create":
        return True                                # rule 1
    need = required_role(op)
    for g in anc[y]:
        if (is_grant_of(ops[g], op.author) and valid[g]
                and gives(ops[g], need)
                and not cancelled(g, y, ops, anc, valid)):
            return True
    return False


def evaluate_validity(ops, anc, into, dropped):
    """Rule 8: rule 4 in a topological order of the acyclic authority graph
    over the ops not dropped (Kahn's algorithm).  Dropped ops are invalid
    and are known from the start."""
    valid = {x: False for x in dropped}
    alive = [x for x in ops if x not in dropped]
    waiting = {y: {x for x in into[y] if x not in dropped} for y in alive}
    ready = sorted(y for y in alive if not waiting[y])
    out = {x: [] for x in alive}
    for y in alive:
        for x in waiting[y]:
            out[x].append(y)
    done = 0
    while ready:
        y = ready.pop()
        valid[y] = rule4_valid(y, ops, anc, valid, dropped)
        done += 1
        for z in out[y]:
            waiting[z].discard(y)
            if not waiting[z]:
                ready.append(z)
    if done != len(alive):
        raise AssertionError("authority graph still cyclic after rule 7")
    return valid


# ---------------------------------------------------------------------------
# Rule 9: current state


def current_members(ops, anc, valid, rank):
    """Rule 9.  pk is a member iff it has a valid grant g and no valid
    remove(pk) r with not(r < g); the role is the lowest among the causally
    maximal such grants (admin iff every one gives admin)."""
    members = {}
    pks = set()
    for o in ops.values():
        if o.kind == "create":
            pks.add(o.author)
        elif o.kind == "add":
            pks.add(o.target)
    for pk in sorted(pks):
        live = []
        for g in ops:
            if not (is_grant_of(ops[g], pk) and valid[g]):
                continue
            if any(is_remove_of(ops[r], pk) and valid[r] and r not in anc[g]
                   for r in ops):
                continue
            live.append(g)
        if not live:
            continue
        maximal = [g for g in live if not any(g in anc[h] for h in live)]
        role = min((grant_role(ops[g]) for g in maximal),
                   key=lambda r: LEVEL[r])
        members[pk] = {"role": role, "rank": rank[pk]}
    return members


# ---------------------------------------------------------------------------
# Putting it together


def _index(ops):
    by_id = {}
    for raw in ops:
        op = norm(raw)
        if op.id in by_id and by_id[op.id] != op:
            raise ValueError("two different ops with id %s" % op.id)
        by_id[op.id] = op
    return by_id


def analyze(ops, check=True):
    """evaluate() with every intermediate result.  With check, raises
    ValueError unless every op would have been accepted (given its causal
    past) -- the rules only ever see accepted ops."""
    ops = _index(ops)
    if not ops:
        return {"valid": {}, "members": {}, "dropped": set()}
    anc = causal_pasts(ops)
    order = causal_order(anc)
    potential = potential_grants(ops, anc, order)
    if check:
        creates = [x for x in ops if ops[x].kind == "create"]
        if len(creates) != 1:
            raise ValueError("need exactly one create, have %d" % len(creates))
        for x in order:
            why = shape_error(ops[x])
            if why is None and ops[x].kind != "create" and not ops[x].preds:
                why = "no predecessors"
            if why is None and not _authorized(ops[x], anc[x], ops, potential):
                why = "unauthorized"
            if why:
                raise ValueError("op %s would not be accepted: %s" % (x, why))
    rank, key = ranks_and_keys(ops, potential)
    into = authority_edges(ops, anc)
    dropped = drop_conflicts(ops, into, key)
    valid = evaluate_validity(ops, anc, into, dropped)
    members = current_members(ops, anc, valid, rank)
    return {
        "valid": valid,
        "members": members,
        "dropped": dropped,
        # internals, for tests and debugging
        "anc": anc,
        "potential": potential,
        "rank": rank,
        "key": key,
        "into": into,
    }


def evaluate(ops, check=True):
    """The membership rules on a set of ops (any order; duplicates of the
    same op are allowed).  Returns
        {"valid":   {op_id: bool},              rule 4 (and 7) validity
         "members": {pk: {"role", "rank"}},     rule 9, rank from rule 5
         "dropped": set of op ids}              rule 7"""
    a = analyze(ops, check)
    return {"valid": a["valid"], "members": a["members"],
            "dropped": a["dropped"]}
