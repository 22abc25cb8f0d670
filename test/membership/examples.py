"""The examples E1..E13 of MEMBERSHIP.md (docs/membership.md) as data.

Authors are the symbolic public keys "A".."F"; ops have symbolic names.
Each example is a dict:
    name      "E1" ...
    text      the row of the table, for messages
    ops       [(name, author, kind, target, role, [pred names]), ...] in a
              topological order; every one of them must be accepted
    rejected  ops (same form) that acceptance must refuse, on top of `ops`
    members   expected {pk: role} after all ops are known
    ignored   expected names of invalid ops (rule 4, including rule 7 drops)
    dropped   expected names of ops dropped by rule 7
    ranks     expected rule-5 ranks of some members

build(example) turns one into real ops (dicts with 64-hex ids, via
refmodel.make_op with the op's name as nonce) and returns a Built tuple:
    ops       list of op dicts (accepted ops, topological order)
    ids       {name: id} for ops and rejected ops
    names     {id: name}
    rejected  list of op dicts
"""

from collections import namedtuple
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import refmodel  # noqa: E402

A, B, C, D, E, F = "A", "B", "C", "D", "E", "F"

# "A creates the group and, unless said otherwise, a1 = A adds B as admin".
# Adds whose role the table does not give are member adds (the table lists
# the people added as "member").
BASE = [
    ("c", A, "create", None, None, []),
    ("a1", A, "add", B, "admin", ["c"]),
]
C_MEMBER = ("a2", A, "add", C, "member", ["a1"])      # "C member"

_E1 = BASE + [
    ("a2", A, "add", C, "member", ["a1"]),
    ("b1", B, "add", D, "member", ["a1"]),
]

EXAMPLES = [
    dict(name="E1",
         text="a2: A adds C [a1] concurrent with b1: B adds D [a1]",
         ops=_E1, rejected=[],
         members={A: "admin", B: "admin", C: "member", D: "member"},
         ignored=set(), dropped=set(),
         ranks={A: 1, B: 2, C: 2, D: 3}),
    dict(name="E2",
         text="E1, then r: A removes B [a2, b1]",
         ops=_E1 + [("r", A, "remove", B, None, ["a2", "b1"])], rejected=[],
         members={A: "admin", C: "member", D: "member"},
         ignored=set(), dropped=set(),
         ranks={A: 1, C: 2, D: 3}),
    dict(name="E3",
         text="b1: B adds C [a1] concurrent with r: A removes B [a1]",
         ops=BASE + [("b1", B, "add", C, "member", ["a1"]),
                     ("r", A, "remove", B, None, ["a1"])], rejected=[],
         members={A: "admin"},
         ignored={"b1"}, dropped=set(), ranks={A: 1}),
    dict(name="E4",
         text="as E3 but r [b1]",
         ops=BASE + [("b1", B, "add", C, "member", ["a1"]),
                     ("r", A, "remove", B, None, ["b1"])], rejected=[],
         members={A: "admin", C: "member"},
         ignored=set(), dropped=set(), ranks={A: 1, C: 3}),
    dict(name="E5",
         text="A removes B [a1] concurrent with B removes A [a1]",
         ops=BASE + [("r", A, "remove", B, None, ["a1"]),
                     ("b1", B, "remove", A, None, ["a1"])], rejected=[],
         members={A: "admin"},
         ignored={"b1"}, dropped={"b1"}, ranks={A: 1}),
    dict(name="E6",
         text="w0: B writes [a1]; r: A removes B [w0]; w1: B writes [w0], "
              "concurrent with r",
         ops=BASE + [("w0", B, "write", None, None, ["a1"]),
                     ("r", A, "remove", B, None, ["w0"]),
                     ("w1", B, "write", None, None, ["w0"])], rejected=[],
         members={A: "admin"},
         ignored={"w1"}, dropped=set(), ranks={A: 1}),
    dict(name="E7",
         text="a2: A adds C [a1]; B removes C [a2] concurrent with "
              "A removes B [a2]",
         ops=BASE + [("a2", A, "add", C, "member", ["a1"]),
                     ("b1", B, "remove", C, None, ["a2"]),
                     ("r", A, "remove", B, None, ["a2"])], rejected=[],
         members={A: "admin", C: "member"},
         ignored={"b1"}, dropped=set(), ranks={A: 1, C: 2}),
    dict(name="E8",
         text="C member; s: C removes C; concurrent w1: C writes",
         ops=BASE + [C_MEMBER,
                     ("s", C, "remove", C, None, ["a2"]),
                     ("w1", C, "write", None, None, ["a2"])], rejected=[],
         members={A: "admin", B: "admin"},
         ignored={"w1"}, dropped=set(), ranks={A: 1, B: 2}),
    dict(name="E9",
         text="r: A removes B [a1]; A adds B as member [r]",
         ops=BASE + [("r", A, "remove", B, None, ["a1"]),
                     ("a2", A, "add", B, "member", ["r"])], rejected=[],
         members={A: "admin", B: "member"},
         ignored=set(), dropped=set(), ranks={A: 1, B: 2}),
    dict(name="E10",
         text="C member; B removes C then B adds C again, concurrent with "
              "A removes C",
         ops=BASE + [C_MEMBER,
                     ("b1", B, "remove", C, None, ["a2"]),
                     ("b2", B, "add", C, "member", ["b1"]),
                     ("r", A, "remove", C, None, ["a2"])], rejected=[],
         members={A: "admin", B: "admin"},
         ignored=set(), dropped=set(), ranks={A: 1, B: 2}),
    dict(name="E11",
         text="C member; A demotes B (adds B as member) concurrent with "
              "B adds D and B writes",
         ops=BASE + [C_MEMBER,
                     ("d", A, "add", B, "member", ["a2"]),
                     ("b1", B, "add", D, "member", ["a2"]),
                     ("bw", B, "write", None, None, ["b1"])], rejected=[],
         members={A: "admin", B: "member", C: "member"},
         ignored={"b1"}, dropped=set(), ranks={A: 1, B: 2, C: 2}),
    # "A only": so E12 has no a1 (with a1 the group would be A and B).
    dict(name="E12",
         text='an outsider E signs "E adds F" on top of the create',
         ops=[("c", A, "create", None, None, [])],
         rejected=[("e1", E, "add", F, "admin", ["c"])],
         members={A: "admin"},
         ignored=set(), dropped=set(), ranks={A: 1}),
    dict(name="E13",
         text="B removes A, and nobody removes B",
         ops=BASE + [("b1", B, "remove", A, None, ["a1"])], rejected=[],
         members={B: "admin"},
         ignored=set(), dropped=set(), ranks={B: 2}),
]

Built = namedtuple("Built", "ops ids names rejected")


def build(example):
    """Real ops for an example (see the module docstring)."""
    ids = {}
    ops = []
    rejected = []
    for dest, rows in ((ops, example["ops"]), (rejected, example["rejected"])):
        for name, author, kind, target, role, preds in rows:
            op = refmodel.make_op(author, kind, target, role,
                                  [ids[p] for p in preds],
                                  nonce="%s/%s" % (example["name"], name))
            assert name not in ids, name
            ids[name] = op["id"]
            dest.append(op)
    names = {v: k for k, v in ids.items()}
    return Built(ops, ids, names, rejected)


def by_name(name):
    for ex in EXAMPLES:
        if ex["name"] == name:
            return ex
    raise KeyError(name)
