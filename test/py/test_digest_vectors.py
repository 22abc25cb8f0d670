"""test_digest_vectors.py - byte-for-byte vectors of the checkpoint digest
(docs/compaction.md, "The digest, byte by byte"; COMPACTION.md section 10,
test 1).

A fixed history made by hand with deterministic keys (Ed25519 signatures
are deterministic, so every op is the same bytes on every run): a group of
A (creator), B (admin) and C (member); a table with a conflict, a deleted
row, a write by B concurrent with B's removal (invalid), a write the
merge ignores and two names of C (the later one in effect); checkpoint K1; then ADD COLUMN, RENAME COLUMN, DROP COLUMN
and a write to the added column, then two concurrent renames of label and
x to one name (label, hidden by x, is digested all the same); checkpoint
K2, whose cut holds K1 sealed (its leaf in K2's checkpoints section).

This file computes every leaf, every section root and R of both cuts from
the layout in docs/compaction.md and what it knows of its own history (an
implementation written from the document, not from the C code), checks
them against test/vectors/digest.txt line by line, then ingests the ops
into bec in several orders and checks that bec computes the same R for
both checkpoints, seals them and checks ok.

    BEC_REGEN_VECTORS=1 ... test_digest_vectors.py   rewrites the file
    (only on a deliberate change of the digest's format: bump the tag)
"""
import os
import random

from bectest import T, connect, ingest_all, one
import becwire
from becwire import Key, blake, encode_value, make_op, op_id, uvarint

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VECTORS = os.path.join(ROOT, "test", "vectors", "digest.txt")
TAG = b"bec-cut-v4"

# The digest's sections in R's order (rows: the leaves under a table's leaf).
SECTIONS = ("ops", "members", "tables", "root", "epochs", "names", "checkpoints")

A, B, C = Key(bytes([1]) * 32), Key(bytes([2]) * 32), Key(bytes([3]) * 32)


def merkle(leaves):
    """RFC 6962 section 2.1 over leaf hashes H(0x00 || leaf)."""
    if not leaves:
        return blake(b"")
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return blake(b"\x01" + merkle(leaves[:k]) + merkle(leaves[k:]))


def leaf_hash(b):
    return blake(b"\x00" + b)


def name(s):
    return uvarint(len(s)) + s.encode()


class History:
    """The fixed ops, by name; depth per op (create: 0)."""

    def __init__(self):
        self.ops, self.order, self.depth, self.preds = {}, [], {}, {}
        self.gid = None

    def add(self, nm, key, kind, preds, payload):
        body = make_op(key, kind, [self.id(p) for p in preds], payload, self.gid)
        if kind == "create":
            self.gid = op_id(body)
        self.ops[nm] = body
        self.order.append(nm)
        self.preds[nm] = preds
        self.depth[nm] = 1 + max([self.depth[p] for p in preds], default=-1)
        return body

    def id(self, nm):
        return op_id(self.ops[nm])


def build(h, k1_digest=None):
    """The history; K1 carries k1_digest (its author's claim), K2 a zero
    digest (its claim is checked by bec, not here)."""
    h.add("create", A, "create", [], b"bec digest vecs!")
    h.add("addB", A, "add", ["create"], B.pub + bytes([1]))
    h.add("addC", A, "add", ["addB"], C.pub + bytes([2]))
    h.schema = becwire.schema_create("t", [("id", "INTEGER", 1), ("v", "TEXT", 0),
                                           ("w", "INTEGER", 0)])
    h.add("schema", A, "schema", ["addC"], h.schema)
    T_ = [h.id("schema")]
    h.add("w1", A, "write", ["schema"], becwire.write_payload(
        T_, [(0, [1], {1: "a", 2: 1}, 3), (0, [2], {1: "b", 2: 2}, 3)]))
    h.add("wB", B, "write", ["w1"], becwire.write_payload(T_, [(0, [1], {1: "x"}, 3)]))
    h.add("wC", C, "write", ["w1"], becwire.write_payload(T_, [(0, [1], {1: "y"}, 3)]))
    h.add("del2", A, "write", ["w1"], becwire.write_payload(T_, [(0, [2], None)]))
    # C names itself, then again: the later name (greater depth) is in effect.
    h.add("nameC", C, "name", ["wC"], b"Carol")
    h.add("nameC2", C, "name", ["nameC"], "Caröl".encode())
    h.add("removeB", A, "remove", ["wB", "nameC2", "del2"], B.pub)
    # B, concurrently with its removal: invalid under the membership rules.
    h.add("wBlate", B, "write", ["wB"], becwire.write_payload(T_, [(0, [1], {1: "z"}, 3)]))
    # A write naming an op that is not a create: stored, ignored by the merge.
    h.add("ignored", A, "write", ["removeB", "wBlate"],
          becwire.write_payload([h.id("addC")], [(0, [3], {1: "q"}, 3)]))
    h.add("K1", A, "checkpoint", ["ignored"], b"\x01" + (k1_digest or bytes(32)))
    h.add("addX", A, "schema", ["K1"], becwire.schema_add("t", h.id("schema"), ("x", "INTEGER", 0)))
    h.add("rename", A, "schema", ["addX"],
          becwire.schema_rename_column("t", h.id("schema"), h.id("schema"), 1, "label"))
    h.add("dropW", A, "schema", ["rename"], becwire.schema_drop_column("t", h.id("schema"), h.id("schema"), 2))
    # The table's name is a register too: K2's leaf names it "tasks".
    h.add("renameT", A, "schema", ["dropW"], becwire.schema_rename_table("tasks", h.id("schema")))
    h.add("wX", A, "write", ["renameT"], becwire.write_payload(
        T_, [(0, [1], {3: 5}, 4)], adds=[[h.id("addX")]]))
    # Two concurrent renames to one name: x's (the deeper op) shows "note",
    # label, a create's column, is hidden by it and still digested (v3).
    h.add("renameL", A, "schema", ["wX"],
          becwire.schema_rename_column("tasks", h.id("schema"), h.id("schema"), 1, "note"))
    h.add("wY", A, "write", ["wX"], becwire.write_payload(
        T_, [(0, [1], {3: 6}, 4)], adds=[[h.id("addX")]]))
    h.add("renameX", A, "schema", ["wY"],
          becwire.schema_rename_column("tasks", h.id("schema"), h.id("addX"), 0, "note"))
    h.add("K2", A, "checkpoint", ["renameL", "renameX"], b"\x01" + bytes(32))


def register(h, cands, values=None):
    """Candidates by name: the winner (greatest (depth, id)) first, then the
    others in decreasing (depth, id)."""
    cands = sorted(cands, key=lambda n: (h.depth[n], h.id(n)), reverse=True)
    out = uvarint(len(cands))
    for n in cands:
        out += h.id(n) + uvarint(h.depth[n])
        if values is not None:
            out += encode_value(values[n])
    return out


def cut_state(h, cut):
    """What the history's author knows S(cut) is: leaves per section."""
    names = h.order[:h.order.index(cut)]
    invalid = {"wBlate"}
    ops = sorted(names, key=lambda n: (h.depth[n], h.id(n)))
    op_leaves = [h.id(n) + uvarint(h.depth[n]) + bytes([0 if n in invalid else 1]) for n in ops]
    # Members: A creator (rank 1, by its create), B admin removed (rank 2,
    # no live grant, role 0, cover 0), C member (rank 2, cover member).
    mem = [(A, 1, "create", 1, 1, 1, ["create"]), (B, 2, "addB", 1, 0, 0, []),
           (C, 2, "addC", 2, 2, 2, ["addC"])]
    mem_leaves = []
    for key, rank, rank_op, potential, state, cover, live in sorted(mem, key=lambda m: m[0].pub):
        lv = sorted(h.id(g) for g in live)
        mem_leaves.append(key.pub + uvarint(rank) + h.id(rank_op) + bytes([potential, state, cover])
                          + uvarint(len(lv)) + b"".join(lv))
    # v4: no root, no epochs; C's name in effect (its deeper name op); K2's
    # cut holds K1: the R K1 claims, K1's k (1) and sealed (1: its author's
    # claim is k).
    carol = "Caröl".encode()            # a name's length is its bytes
    names = [C.pub + h.id("nameC2") + uvarint(len(carol)) + carol]
    ckpts = []
    if cut == "K2":
        ckpts = [h.id("K1") + h.ops["K1"][-32:] + uvarint(1) + bytes([1])]
    # Table t.  Row 1: upserts w1, wB, wC (wBlate invalid); row 2 deleted.
    vals = {"w1": "a", "wB": "x", "wC": "y"}
    if cut == "K1":
        cols = [(h.id("schema"), 0, "id"), (h.id("schema"), 1, "v"), (h.id("schema"), 2, "w")]
        hidden = []
        row = (encode_value(1) + register(h, ["wB", "wC"])
               + register(h, ["wB", "wC"], vals) + register(h, ["w1"], {"w1": 1}))
    else:
        # Shown: id, x (named note); hidden by that name: column 1 (its
        # name now is note too); w is dropped: in neither list.
        cols = [(h.id("schema"), 0, "id"), (h.id("addX"), 0, "note")]
        hidden = [(h.id("schema"), 1, "note")]
        row = (encode_value(1) + register(h, ["wY"])
               + register(h, ["wY"], {"wY": 6}) + register(h, ["wB", "wC"], vals))
    rows = [row]
    tleaf = (name("t" if cut == "K1" else "tasks") + h.id("schema") + uvarint(h.depth["schema"])
             + uvarint(len(h.schema)) + h.schema + uvarint(len(cols))
             + b"".join(i + uvarint(x) + name(n) for i, x, n in cols)
             + uvarint(len(hidden)) + b"".join(i + uvarint(x) + name(n) for i, x, n in hidden)
             + uvarint(len(rows)) + merkle([leaf_hash(r) for r in rows]))
    secs = {"ops": op_leaves, "members": mem_leaves, "rows": rows, "tables": [tleaf],
            "root": [], "epochs": [], "names": names, "checkpoints": ckpts}
    roots = {s: merkle([leaf_hash(x) for x in secs[s]]) for s in secs}
    heads = sorted(h.id(p) for p in h.preds[cut])
    top = (TAG + h.gid + uvarint(len(heads)) + b"".join(heads) + uvarint(len(ops))
           + uvarint(1) + b"".join(roots[s] for s in SECTIONS))
    return secs, roots, blake(top)


def vector_lines():
    h = History()
    build(h)
    _, _, r1 = cut_state(h, "K1")
    h = History()
    build(h, r1)
    lines = ["# bec checkpoint digest vectors (%s, docs/compaction.md \"The digest, byte by byte\")."
             % TAG.decode(),
             "# Keys: seeds 32 x 0x01 (A), 0x02 (B), 0x03 (C).  Regenerate only on a format change:",
             "# BEC_REGEN_VECTORS=1 test/py/test_digest_vectors.py"]
    for n in h.order:
        lines.append("op %s %s" % (n, h.ops[n].hex()))
    digests = {}
    for cut in ("K1", "K2"):
        secs, roots, r = cut_state(h, cut)
        for s in ("ops", "members", "rows") + SECTIONS[2:]:
            for x in secs[s]:
                lines.append("leaf %s %s %s" % (cut, s, x.hex()))
            lines.append("root %s %s %s" % (cut, s, roots[s].hex()))
        lines.append("digest %s %s" % (cut, r.hex()))
        digests[cut] = r.hex()
    return h, lines, digests


def main():
    h, lines, digests = vector_lines()
    if os.environ.get("BEC_REGEN_VECTORS") == "1":
        with open(VECTORS, "w") as f:
            f.write("\n".join(lines) + "\n")
        print("wrote %s" % VECTORS)
    with open(VECTORS) as f:
        stored = f.read().rstrip("\n").split("\n")
    T.eq(len(stored), len(lines), "the vector file has as many lines as the vectors")
    for i, (got, want) in enumerate(zip(lines, stored)):
        T.check(got == want, "line %d of digest.txt: recomputed %r, file %r" % (i + 1, got[:90], want[:90]))
    # K1 carries the digest the document's layout gives: an honest claim.
    T.eq(becwire.decode_op(h.ops["K1"])["body"][1:].hex(), digests["K1"], "K1 claims R(K1)")
    ids = {n: h.id(n).hex() for n in h.order}
    for i, order in enumerate(["forward", "shuffle", "shuffle", "reverse-waves"]):
        db = connect()
        db.execute("SELECT bec_join(?)", (h.gid.hex(),))
        bodies = [h.ops[n] for n in h.order]
        if order == "shuffle":
            # ingest parks an op whose predecessors are missing; all arrive.
            random.Random(i).shuffle(bodies)
        elif order == "reverse-waves":
            bodies.reverse()
        for b in bodies:
            db.execute("SELECT bec_ingest(?)", (b,))
        T.eq(one(db, "SELECT count(*) FROM bec_ops"), len(h.order), "%s %d: every op stored" % (order, i))
        for cut in ("K1", "K2"):
            row = db.execute("SELECT digest, sealed, k FROM bec_checkpoints WHERE checkpoint=?",
                             (ids[cut],)).fetchone()
            T.check(row is not None, "%s %d: %s listed" % (order, i, cut))
            if row:
                T.eq(row[0], digests[cut], "%s %d: bec's R(%s) is the vector's" % (order, i, cut))
                T.eq(row[2], 1, "%s %d: k of %s is 1 (A is the cut's only admin)" % (order, i, cut))
        T.eq(one(db, "SELECT sealed FROM bec_checkpoints WHERE checkpoint=?", ids["K1"]), 1,
             "%s %d: K1 sealed by its author's honest claim" % (order, i))
        T.eq(one(db, "SELECT count(*) FROM bec_disputes WHERE checkpoint=?", ids["K2"]), 1,
             "%s %d: K2's zero claim is listed as a dispute" % (order, i))
        T.eq(db.execute("SELECT * FROM tasks").fetchall(), [(1, 6)],
             "%s %d: the table as shown (id, note: x; label hidden)" % (order, i))
        T.eq(one(db, "SELECT bec_check()"), "ok", "%s %d: bec_check" % (order, i))
    T.done()


main()
