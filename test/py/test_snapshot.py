"""test_snapshot.py - the snapshot of a sealed checkpoint (docs/compaction.md
"Snapshots"): bec_snapshot() on a replica with a sealed checkpoint gives the
state at the cut, its attestations and the auth chain; bec_snapshot_verify()
on a replica of the group recomputes the digest from it and returns the
checkpoint's id, also when ops after the checkpoint and ops concurrent with
it are held by the provider; its rows, conflicts and members are those a
replay of the cut derives; a lying provider is refused with the check's
message (fewer than k attestations, altered rows, altered members, a fake
attestation by a member or by a stranger, an attester that is not an admin,
a grant missing from the auth chain, k real admins lying about a rank,
a liar that re-digests altered rows
or members and attests them with keys it made, bytes that do not decode,
another group) and nothing is stored.  A replica pruned below the
checkpoint gives the same snapshot as before pruning; a damaged merge base
gives one that is refused.  Version 4 sends a row leaf's repeated ids as
references the joiner expands (test_row_refs: round trips, other valid
encodings, hostile tokens, every byte of a small snapshot flipped).
Version 5 carries the name, checkpoint and root ops in the chain, and a
snapshot with names, a threshold root and an earlier checkpoint installs
(test_install_sections).

Version 5 sends the band of cut headers an op concurrent with K needs
(band_checks: its headers, proofs and hostile bands; test_band_random:
random histories with members offline while K is sealed, the band
installed, the ops after K in two orders, the provider's state, no
fall-back).  Version 6 ends with the headers of the cut's losing writes
(bec_conflicts on an installed replica: test_snapshot_join.py
test_conflicts_installed); version 5 is read without them.
"""
import json
import os
import random
import sqlite3
import struct

from bectest import (T, Replicas, connect, one, sync_session as sync, pub, sync_all, root_steps,
                     ingest_all, bodies, deliver, ops_of)
import becwire
from becwire import uvarint, read_varint

R = Replicas("bec-snap-")


# The message, decoded as docs/wire-format.md "Snapshot" lays it out.
parse = becwire.snapshot_parse
encode = becwire.snapshot_encode


def member_leaf(leaf):
    """(key, rank, rank_op, potential, state, live ids) of a member leaf
    (its cover: member_cover)."""
    key = leaf[:32]
    rank, i = read_varint(leaf, 32)
    rank_op = leaf[i:i + 32]
    potential, state = leaf[i + 32], leaf[i + 33]
    n, j = read_varint(leaf, i + 35)
    live = [leaf[j + 32 * x:j + 32 * x + 32] for x in range(n)]
    return key, rank, rank_op, potential, state, live


def member_cover(leaf):
    """The cover of a member leaf (bec-cut-v4: 0 none, 1 admin, 2 member,
    3 relay), after its role at the cut."""
    _, i = read_varint(leaf, 32)
    return leaf[i + 34]


def value(b, i):
    """One value of the value encoding at b[i:]: (value, next i)."""
    tag = b[i]
    i += 1
    if tag == 0:
        return None, i
    if tag == 1:
        z, i = read_varint(b, i)
        return (z >> 1) ^ -(z & 1), i
    if tag == 2:
        return struct.unpack(">d", b[i:i + 8])[0], i + 8
    n, j = read_varint(b, i)
    x = bytes(b[j:j + n])
    return (x.decode() if tag == 3 else x), j + n


def register(b, i, with_value):
    """[(op id hex, depth, value)] of one register at b[i:]: the winner
    first, then the conflicts."""
    n, i = read_varint(b, i)
    out = []
    for _ in range(n):
        op = b[i:i + 32].hex()
        depth, i = read_varint(b, i + 32)
        v = None
        if with_value:
            v, i = value(b, i)
        out.append((op, depth, v))
    return out, i


def table_state(s, ncol):
    """(rows, conflicts) of the snapshot's one table with one key column
    and ncol other columns: rows as (key, values...), conflicts as (key,
    column index, value, op)."""
    rows, conflicts = [], set()
    for leaf in s["tables"][0][1]:
        key, i = value(leaf, 0)
        exist, i = register(leaf, i, False)
        assert exist, "a row leaf is a row that exists"
        vals = [key]
        for c in range(ncol):
            reg, i = register(leaf, i, True)
            vals.append(reg[0][2] if reg else None)
            for op, _, v in reg[1:]:
                conflicts.add((key, c, v, op))
        assert i == len(leaf)
        rows.append(tuple(vals))
    return rows, conflicts


at_k = {}


def merkle(hashes):
    """RFC 6962 over leaf hashes, BLAKE2b-256 (docs/compaction.md)."""
    if not hashes:
        return becwire.blake(b"")
    if len(hashes) == 1:
        return hashes[0]
    k = 1
    while k * 2 < len(hashes):
        k *= 2
    return becwire.blake(b"\x01" + merkle(hashes[:k]) + merkle(hashes[k:]))


def path_root(leaf_hash, m, n, path):
    """The root an audit path leads to from leaf m of n (RFC 9162 section
    2.1.3.2), or None if the path does not fit the tree."""
    fn, sn, r = m, n - 1, leaf_hash
    for p in path:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = becwire.blake(b"\x01" + p + r)
            while fn and not fn & 1:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = becwire.blake(b"\x01" + r + p)
        fn, sn = fn >> 1, sn >> 1
    return r if sn == 0 else None


def proven(s, db):
    """The ids the snapshot's proofs cover, each checked here against the ops
    root, and against the depth and validity db stores for it."""
    out = []
    for oid, idx, depth, valid, path in s["proofs"]:
        leaf = becwire.blake(b"\x00" + oid + uvarint(depth) + bytes([valid]))
        T.eq(path_root(leaf, idx, s["n_op"], path), s["ops_root"],
             "the proof of %s leads to the ops root" % oid.hex()[:8])
        T.eq(db.execute("SELECT depth, valid FROM bec_store_op WHERE hash=?", (oid,)).fetchone(),
             (depth, valid), "its depth and validity are the provider's")
        out.append(oid)
    return out


def digest(s):
    """R of what the snapshot s sends (docs/compaction.md, byte by byte)."""
    def leaf(b):
        return becwire.blake(b"\x00" + b)
    tables = [leaf(head + uvarint(len(rows)) + merkle([leaf(r) for r in rows]))
              for head, rows in s["tables"]]
    heads = becwire.decode_op(s["checkpoint"])["preds"]
    return becwire.blake(b"bec-cut-v4" + s["group"] + uvarint(len(heads)) + b"".join(heads)
                         + uvarint(s["n_op"]) + uvarint(s["k"]) + s["ops_root"]
                         + merkle([leaf(x) for x in s["members"]]) + merkle(tables)
                         + b"".join(merkle([leaf(x) for x in s[sec]])
                                    for sec in becwire.SNAPSHOT_SECTIONS))


def setup():
    """a (admin, origin), b and c (admins), m (member): k = 2.  A conflict,
    a delete, a checkpoint by a that b, c and m attest; then a write after
    the checkpoint and one concurrent with it, held by a."""
    a = R.origin("s_a.db")
    for i in range(8):
        a.execute("INSERT INTO todos VALUES(?, ?, ?)", ("r%d" % i, "hello %d" % i, i))
    b = R.member(a, "s_b.db", "admin")
    c = R.member(a, "s_c.db", "admin")
    m = R.member(a, "s_m.db", "member")
    for d in (b, c, m):
        sync(a, d)
    a.execute("UPDATE todos SET title='from a' WHERE id='r0'")
    b.execute("UPDATE todos SET title='from b', done=7 WHERE id='r0'")
    b.execute("DELETE FROM todos WHERE id='r1'")
    sync(a, b)
    T.check(one(a, "SELECT count(*) FROM bec_conflicts") > 0, "a conflict in the cut")
    k = one(a, "SELECT bec_checkpoint()")
    # The state at K: a held nothing else when it signed.
    at_k["rows"] = a.execute("SELECT id, title, done FROM todos ORDER BY id").fetchall()
    at_k["conflicts"] = {(pk, {"title": 0, "done": 1}[col], v, op) for pk, col, v, op in
                         a.execute("SELECT pk, \"column\", value, op FROM bec_conflicts")}
    at_k["members"] = set(a.execute("SELECT pubkey, role, rank FROM bec_members"))
    m.execute("INSERT INTO todos VALUES('late', 'concurrent with K', 1)")
    for d in (b, c, m, b, c, m):
        sync(a, d)
    a.execute("INSERT INTO todos VALUES('after', 'after K', 2)")
    return a, b, c, m, k


def band_checks(a, j, s, snap, k, refused, copy):
    """The band (docs/compaction.md "The band"): m's write 'late' is
    concurrent with K, so the provider sends the cut ops it needs as
    headers; the joiner refuses a band it cannot tie to K."""
    kseq = one(a, "SELECT seq FROM bec_store_op WHERE hash=?", bytes.fromhex(k))
    band = [becwire.blake(h) for h in s["band"]]
    T.check(len(band) > 0, "a band: the provider holds an op concurrent with K")
    # every band op is an op of the cut, sent as its header (pruned form)
    for h, oid in zip(s["band"], band):
        body = one(a, "SELECT body FROM bec_store_op WHERE hash=?", oid)
        T.check(body is not None, "a band header names an op the provider holds")
        T.eq(becwire.decode_op(body)["header"], h, "the band sends the op's header")
    seqs = [one(a, "SELECT seq FROM bec_store_op WHERE hash=?", x) for x in band]
    T.eq(seqs, sorted(seqs), "the band in the provider's seq order (topological)")
    T.check(max(seqs) < kseq, "the band lies below K")
    # the proofs: each band op, then each boundary op, under the ops root
    proven_ids = [p[0] for p in s["band_proofs"]]
    T.eq(proven_ids[:len(band)], band, "a proof per band op first")
    T.check(len(proven_ids) > len(band), "then the boundary's")
    for oid, idx, depth, valid, path in s["band_proofs"]:
        leaf = becwire.blake(b"\x00" + oid + uvarint(depth) + bytes([valid]))
        T.eq(path_root(leaf, idx, s["n_op"], path), s["ops_root"], "a band proof")
    # the concurrent op reaches every boundary op over the band's headers
    headers = {becwire.blake(h): becwire.decode_header(h + bytes(64))["preds"]
               for h in s["band"]}
    boundary = set(proven_ids[len(band):])
    for oid, preds in headers.items():
        for p in preds:
            T.check(p in headers or p in boundary, "a band op's predecessor: band or boundary")
    T.eq(one(j, "SELECT bec_snapshot_verify(?)", snap), k, "the band verifies")

    # Hostile bands, each refused with the check's words.
    s2 = copy()
    h = bytearray(s2["band"][0])
    h[-1] ^= 1                                  # the payload hash: another id
    s2["band"][0] = bytes(h)
    refused(s2, "the band is refused: an op is not reachable from K through the band",
            "a header whose hash is no op of the cut")
    other = one(a, "SELECT body FROM bec_store_op WHERE seq>? AND kind=6 ORDER BY seq", kseq)
    s2 = copy()
    s2["band"].append(becwire.decode_op(other)["header"])
    refused(s2, "not reachable from K through the band", "an op after K in the band")
    if len(s2["band"]) > 2:
        s2 = copy()
        s2["band"] = s2["band"][::-1]
        refused(s2, "not in a topological order", "the band reversed")
    s2 = copy()
    s2["band"].append(s2["band"][0])
    refused(s2, "the band is refused", "a band op twice")
    s2 = copy()
    s2["band_proofs"] = s2["band_proofs"][1:]
    refused(s2, "is not proven in the ops root", "a band op without its proof")
    s2 = copy()
    s2["band_proofs"] = s2["band_proofs"][:len(band)]
    refused(s2, "a boundary op is not proven in the ops root", "the boundary without proofs")
    s2 = copy()
    p0 = s2["band_proofs"][0]
    s2["band_proofs"][0] = (p0[0], p0[1], p0[2] + 1, p0[3], p0[4])
    refused(s2, "an op's leaf is not in the ops root", "a band op's depth altered")
    # a band that leaves out an op between K and a band op: what K reaches
    # only through it is not reachable
    kp = set(becwire.decode_op(s["checkpoint"])["preds"])
    for i, oid in enumerate(band):
        below = [x for x in headers if oid in headers[x]] == [] and oid in kp
        if below and any(p in headers for p in headers[oid]):
            s2 = copy()
            del s2["band"][i]
            refused(s2, "not reachable from K through the band",
                    "a band without an op between K and the rest")
            break
    else:
        T.check(False, "a band op that K names, above another band op")
    # Each band op left out: the band without it is no suffix of the ops
    # section (the cut's ops by depth and id from the lowest band op on)
    # unless it was the lowest, or what K reaches only through it is
    # unreachable: refused either way, so no band that is not closed upward
    # is taken.
    index = {p[0]: p[1] for p in s["band_proofs"]}
    lowest = min(band, key=lambda x: index[x])
    reasons = set()
    for i, oid in enumerate(band):
        s2 = copy()
        del s2["band"][i]
        try:
            got = one(j, "SELECT bec_snapshot_verify(?)", encode(s2))
        except sqlite3.Error as e:
            got = str(e)
        if oid == lowest:
            T.eq(got, k, "the band without its lowest op: still a suffix")
        else:
            T.check("the band is refused" in got, "band op %d left out: %s" % (i, got))
            reasons.add("suffix" if "not a suffix" in got else
                        "reach" if "not reachable" in got else got)
    T.check("suffix" in reasons, "a band with a hole is refused as no suffix: %s" % reasons)
    T.eq(sorted(index[x] for x in band), list(range(s["n_op"] - len(band), s["n_op"])),
         "the band's leaves are the last of the ops section")
    s2 = copy()
    s2["band"] = []
    refused(s2, "the band is refused: proofs without a band", "proofs without a band")
    named = set(proven_ids) | {p for ps in headers.values() for p in ps} | kp
    other = [p for p in s["proofs"] if p[0] not in named]
    T.check(len(other) > 0, "a chain op's proof off the band")
    s2 = copy()
    s2["band_proofs"].append(other[0])
    refused(s2, "neither in the band nor on its boundary", "a proof of another op")
    s2 = copy()
    s2["band"], s2["band_proofs"] = [], []
    T.eq(one(j, "SELECT bec_snapshot_verify(?)", encode(s2)), k,
         "no band: a snapshot as before (an op concurrent with K then falls back)")
    T.eq(one(j, "SELECT count(*) FROM bec_store_op"), 0, "a verify stores nothing")


def test_verify_and_lies():
    a, b, c, m, k = setup()
    T.eq(one(a, "SELECT sealed FROM bec_checkpoints WHERE checkpoint=?", k), 1,
         "the checkpoint is sealed on the provider")
    T.eq(one(a, "SELECT count(*) FROM todos WHERE id IN ('late', 'after')"), 2,
         "the provider holds ops concurrent with and after K")
    snap = one(a, "SELECT bec_snapshot()")
    s = parse(snap)
    T.eq(s["version"], 6, "version")
    T.eq(s["group"].hex(), one(a, "SELECT bec_group_id()"), "the group")
    T.eq(becwire.op_id(s["checkpoint"]).hex(), k, "the checkpoint op")
    T.eq(s["n_op"], one(a, "SELECT c.n_op FROM bec_store_checkpoint c JOIN bec_store_op o"
                           " ON o.seq=c.seq WHERE o.hash=?", bytes.fromhex(k)),
         "n_op: the ops in the cut")
    T.eq(s["k"], 2, "k: a majority of three admins")
    T.eq(len(s["members"]), 4, "four members")
    T.eq(len(s["tables"]), 1, "one table")
    T.eq(len(s["tables"][0][1]), 7, "seven rows in the cut (r1 deleted; late, after outside)")
    authors = {becwire.decode_op(x)["author"].hex() for x in s["claims"]}
    T.eq(authors, {pub(b), pub(c)}, "the admins' attestations; m's does not count")
    T.eq({becwire.decode_op(x)["kind"] for x in s["chain"]}, {"create", "add", "schema"},
         "the auth chain: membership and schema ops")

    # The snapshot carries the state a replay of the cut derives.
    rows, conflicts = table_state(s, 2)
    T.eq(sorted(rows), sorted(at_k["rows"]), "the rows at K")
    T.eq(conflicts, at_k["conflicts"], "the conflicts at K")
    T.check(len(conflicts) > 0, "with a conflict")
    members = set()
    for leaf in s["members"]:
        key, rank, _, _, state, live = member_leaf(leaf)
        if state:
            members.add((key.hex(), {1: "admin", 2: "member", 3: "relay"}[state], rank))
    T.eq(members, at_k["members"], "the members at K")
    # The proofs: K's predecessors, then the chain ops in the cut (all of
    # them here: none was signed after K), each leaf under the ops root.
    heads = becwire.decode_op(s["checkpoint"])["preds"]
    chain = [becwire.op_id(x) for x in s["chain"]]
    T.eq(proven(s, a), heads + [c for c in chain if c not in heads],
         "a proof per head of the cut, then per chain op in the cut")

    j = R.joined(a, "s_j.db")
    T.eq(one(j, "SELECT bec_snapshot_verify(?)", snap), k, "an honest snapshot verifies")
    T.eq(one(b, "SELECT bec_snapshot_verify(?)", snap), k, "on a full replica too")
    T.eq(one(j, "SELECT bec_snapshot_verify(?)", encode(s)), k, "the test's codec round-trips")
    T.eq(encode(s), snap, "the test's codec gives bec's bytes (the row leaves' tokens too)")

    def refused(s2, msg, what):
        T.raises(lambda: j.execute("SELECT bec_snapshot_verify(?)", (encode(s2),)).fetchall(),
                 msg, what)

    def copy():
        return parse(snap)

    # The proofs: a depth or validity other than the leaf's, an altered
    # path, a head without its proof; a version-1 or -2 snapshot of an older
    # bec (its R is bec-cut-v3) is refused with a clear error.
    for what, alter in [("a depth", lambda p: (p[0], p[1], p[2] + 1, p[3], p[4])),
                        ("a validity", lambda p: (p[0], p[1], p[2], 1 - p[3], p[4])),
                        ("a leaf index", lambda p: (p[0], p[1] ^ 1, p[2], p[3], p[4])),
                        ("a path", lambda p: (p[0], p[1], p[2], p[3],
                                              [bytes(32)] + p[4][1:]))]:
        for i in (0, len(s["proofs"]) - 1):
            s2 = copy()
            s2["proofs"][i] = alter(s2["proofs"][i])
            refused(s2, "an op's leaf is not in the ops root", "%s altered in proof %d" % (what, i))
    s2 = copy()
    s2["proofs"] = s2["proofs"][1:]
    refused(s2, "a head of the cut is not proven in the ops root", "a head without its proof")
    s2 = copy()
    s2["proofs"][0] = s2["proofs"][0][:4] + (s2["proofs"][0][4] + [bytes(32)],)
    refused(s2, "an op's leaf is not in the ops root", "a path one hash too long")
    for v in (1, 2, 3):
        s2 = copy()
        s2["version"] = v
        refused(s2, "version %d, of an older bec" % v, "version %d" % v)
    s2 = copy()
    s2["version"] = 3
    refused(s2, "its row leaves are sent whole", "version 3: why")
    s2 = copy()
    s2["version"] = 4                 # an older bec's: no band section
    T.eq(one(j, "SELECT bec_snapshot_verify(?)", encode(s2)), k,
         "version 4 is read as a snapshot with an empty band")
    T.raises(lambda: j.execute("SELECT bec_snapshot_verify(?)",
                               (encode(s2) + b"\x00\x00",)).fetchall(),
             "the snapshot is malformed", "version 4 with a band section after it")
    s2 = copy()
    s2["version"] = 5                 # an older bec's: no losers' headers
    T.eq(one(j, "SELECT bec_snapshot_verify(?)", encode(s2)), k,
         "version 5 is read as a snapshot without the losers' headers")
    s2 = copy()
    s2["version"] = 7
    refused(s2, "unknown snapshot version 7", "version 7")

    band_checks(a, j, s, snap, k, refused, copy)

    # Fewer than k: only the checkpoint's own claim.
    s2 = copy()
    s2["claims"] = []
    refused(s2, "fewer than k attestations", "K's author alone")
    s2 = copy()
    s2["claims"] = s2["claims"][:1]
    T.eq(one(j, "SELECT bec_snapshot_verify(?)", encode(s2)), k,
         "K's author and one attester: k = 2 reached")
    s2["k"] = 3
    refused(s2, "digest does not match", "k is covered by the digest")
    # Altered rows: a title changed in a row leaf.
    s2 = copy()
    head, rows = s2["tables"][0]
    T.check(any(b"hello 5" in r for r in rows), "the row leaf carries the value")
    s2["tables"][0] = (head, [r.replace(b"hello 5", b"jello 5") for r in rows])
    refused(s2, "digest does not match", "an altered row")
    s2 = copy()
    s2["tables"][0] = (s2["tables"][0][0], s2["tables"][0][1][:-1])
    refused(s2, "digest does not match", "a row left out")
    # Altered members: m shown as an admin, its attestation added.
    s2 = copy()
    mi = [i for i, x in enumerate(s2["members"]) if x[:32].hex() == pub(m)][0]
    leaf = bytearray(s2["members"][mi])
    key, rank, rank_op, potential, state, live = member_leaf(bytes(leaf))
    T.eq(state, 2, "m is a member in the cut")
    _, i = read_varint(leaf, 32)
    leaf[i + 33] = 1
    s2["members"][mi] = bytes(leaf)
    refused(s2, "digest does not match", "an altered member")
    s2 = copy()
    del s2["members"][mi]
    refused(s2, "digest does not match", "a member left out")
    s2 = copy()
    s2["k"] = 1
    refused(s2, "digest does not match", "a smaller k")
    # A fake attestation: m's real attest (m is no admin of the cut).
    m_att = [x for (x,) in a.execute("SELECT body FROM bec_ops WHERE kind='attest'")
             if becwire.decode_op(x)["author"].hex() == pub(m)]
    T.eq(len(m_att), 1, "m attested")
    s2 = copy()
    s2["claims"] = s2["claims"][:1] + m_att
    refused(s2, "attester is not an admin of the cut", "a member's attestation")
    # A stranger's attestation of the right digest, validly signed.
    evil = becwire.Key(os.urandom(32))
    kop = becwire.decode_op(s["checkpoint"])
    fake = becwire.make_op(evil, "attest", [becwire.op_id(s["checkpoint"])],
                           bytes([1]) + kop["id"] + kop["body"][1:33], s["group"])
    s2 = copy()
    s2["claims"] = s2["claims"][:1] + [fake]
    refused(s2, "attester is not an admin of the cut", "a stranger's attestation")
    # An attestation of another digest.
    fake2 = becwire.make_op(evil, "attest", [becwire.op_id(s["checkpoint"])],
                            bytes([1]) + kop["id"] + bytes(32), s["group"])
    s2 = copy()
    s2["claims"] = s2["claims"] + [fake2]
    refused(s2, "digest does not match", "an attestation of another R")
    # A consistent liar: altered rows, and attestations of their digest by
    # keys it made; then the same keys written into the members as admins,
    # with a grant each signed by themselves.
    T.eq(digest(s), kop["body"][1:33], "the test's digest is bec's")
    e1, e2 = becwire.Key(os.urandom(32)), becwire.Key(os.urandom(32))
    kid = becwire.op_id(s["checkpoint"])

    def attest(key, s2):
        return becwire.make_op(key, "attest", [kid], bytes([1]) + kid + digest(s2), s["group"])
    s2 = copy()
    head, rows = s2["tables"][0]
    s2["tables"][0] = (head, [r.replace(b"hello 5", b"jello 5") for r in rows])
    s2["claims"] = [attest(e1, s2), attest(e2, s2)]
    refused(s2, "attester is not an admin of the cut", "a consistent lie about the rows")
    for e in (e1, e2):
        grant = becwire.make_op(e, "add", [kid], e.pub + bytes([1]), s["group"])
        s2["members"].append(e.pub + uvarint(9) + becwire.op_id(grant) + bytes([1, 1, 1])
                             + uvarint(1) + becwire.op_id(grant))
        s2["chain"].append(grant)
    s2["claims"] = [attest(e1, s2), attest(e2, s2)]
    refused(s2, "grant not in the auth chain", "a consistent lie about the members")
    s2["chain"] = s2["chain"][:-2]
    refused(s2, "grant not in the auth chain", "the same without the grants in the chain")
    # Two real admins (k = 2) lying together about a member's seniority:
    # every other check holds (their grants are the chain's), the rank
    # does not follow the chain (m was added by a, of rank 1).
    def real_key(db):
        with open(one(db, "SELECT bec_key_file()"), "rb") as f:
            key = becwire.Key(f.read()[11:43])
        T.eq(key.pub.hex(), pub(db), "the key file's key")
        return key
    kb, kc = real_key(b), real_key(c)
    mi = [i for i, x in enumerate(s["members"]) if x[:32].hex() == pub(m)][0]
    key_m, rank_m, rank_op_m = member_leaf(s["members"][mi])[:3]
    T.eq(rank_m, 2, "m has rank 2 (added by the creator)")
    b_add = [x for x in s["chain"] if becwire.decode_op(x)["kind"] == "add"
             and becwire.decode_op(x)["body"][:32].hex() == pub(b)][0]
    for what, rank, op in [("a rank one too far", 3, rank_op_m),
                           ("the add of another key", 2, becwire.op_id(b_add)),
                           ("rank 1 on an add", 1, rank_op_m)]:
        s2 = copy()
        leaf = s2["members"][mi]
        _, i = read_varint(leaf, 32)
        s2["members"][mi] = leaf[:32] + uvarint(rank) + op + leaf[i + 32:]
        s2["claims"] = [becwire.make_op(x, "attest", [kid], bytes([1]) + kid + digest(s2),
                                        s["group"]) for x in (kb, kc)]
        refused(s2, "rank not in the auth chain", "k admins lying about a rank: " + what)
    s2 = copy()
    s2["claims"] = [becwire.make_op(x, "attest", [kid], bytes([1]) + kid + digest(s2),
                                    s["group"]) for x in (kb, kc)]
    T.eq(one(j, "SELECT bec_snapshot_verify(?)", encode(s2)), k,
         "their honest attestations verify (the test's signing is sound)")

    # A forged signature.
    s2 = copy()
    x = bytearray(s2["claims"][0])
    x[-40] ^= 1                     # in the signature
    s2["claims"][0] = bytes(x)
    refused(s2, "malformed", "a claim whose bytes do not verify")
    # The auth chain without b's admin grant.
    s2 = copy()
    s2["chain"] = [x for x in s2["chain"] if not (becwire.decode_op(x)["kind"] == "add"
                   and becwire.decode_op(x)["body"][:32].hex() == pub(b))]
    refused(s2, "grant not in the auth chain", "b's grant left out of the chain")
    s2 = copy()
    s2["chain"] = [x for x in s2["chain"] if becwire.decode_op(x)["kind"] != "create"]
    refused(s2, "grant not in the auth chain", "the create left out")
    # A write op smuggled into the chain.
    w = [x for (x,) in a.execute("SELECT body FROM bec_ops WHERE kind='write' LIMIT 1")]
    s2 = copy()
    s2["chain"] = s2["chain"] + w
    refused(s2, "auth chain is of kind", "a write in the auth chain")
    # Bytes that do not decode; another group.
    T.raises(lambda: j.execute("SELECT bec_snapshot_verify(?)", (snap[:-3],)).fetchall(),
             "malformed", "a truncated snapshot")
    T.raises(lambda: j.execute("SELECT bec_snapshot_verify(?)", (snap + b"x",)).fetchall(),
             "malformed", "trailing bytes")
    T.raises(lambda: j.execute("SELECT bec_snapshot_verify('x')").fetchall(),
             "a snapshot is a blob", "text")
    o = R.origin("s_o.db")
    T.raises(lambda: o.execute("SELECT bec_snapshot_verify(?)", (snap,)).fetchall(),
             "another group", "a snapshot of another group")
    T.eq(one(j, "SELECT count(*) FROM bec_ops"), 0, "nothing stored on the joiner")
    T.eq(one(j, "SELECT count(*) FROM bec_rejected"), 0, "nothing logged either")



def named_root_group(prefix, rng, b_role, encrypted=False):
    """The group test_sections and test_install_sections share: a creates it
    (encrypted or not) with a todos table, b (b_role) and c members; a and c
    named themselves (c twice: the later name is in effect); a 2-of-3
    threshold root of a, b, c opened and active.  Returns (a, b, c)."""
    a = connect(R.path(prefix + "_a.db"))
    a.execute("SELECT bec_keygen()")
    a.execute("SELECT bec_create_group('encrypted')" if encrypted else "SELECT bec_create_group()")
    a.execute("CREATE VIRTUAL TABLE todos USING bec(id TEXT PRIMARY KEY, title TEXT, done INTEGER)")
    b = R.member(a, prefix + "_b.db", b_role)
    c = R.member(a, prefix + "_c.db", "member")
    one(a, "SELECT bec_set_name('Alice')")
    root_steps([a, b, c], rng)
    one(c, "SELECT bec_set_name('Carol')")
    one(c, "SELECT bec_set_name('Caro')")          # the later one is in effect
    one(a, "SELECT bec_root_open(2, ?)", json.dumps([pub(d) for d in (a, b, c)]))
    root_steps([a, b, c], rng)
    return a, b, c


def root_hand_over(a, b, c, rng):
    """The root of named_root_group hands over to a new key generation of
    the same holders (a proposes, b approves)."""
    req = one(a, "SELECT bec_root_propose('holders', ?, 2)",
              json.dumps([pub(x) for x in (a, b, c)]))
    root_steps([a, b, c], rng)
    one(b, "SELECT bec_root_approve(?)", req)
    root_steps([a, b, c], rng)


def test_sections():
    """bec-cut-v4's sections after the tables, in a snapshot: an encrypted
    group (epochs) whose members named themselves (names), with a 2-of-3
    threshold root (root) that added a member, and an earlier checkpoint
    K1 sealed in K2's cut (checkpoints).  Each leaf says what the provider
    derived; the provider that replays the cut gives the same bytes; a
    provider altering any leaf of a section is refused, a leaf that is not
    of its section's layout too; the root-added member's grant, signed by
    the root key active at K2, verifies."""
    rng = random.Random(1717)
    a, b, c = named_root_group("v4", rng, "admin", encrypted=True)
    y = one(a, "SELECT group_key FROM bec_root")
    T.check(y is not None, "the root is active")
    for i in range(4):
        a.execute("INSERT INTO todos VALUES(?, ?, ?)", ("r%d" % i, "secret %d" % i, i))
    k1 = one(a, "SELECT bec_checkpoint()")
    root_steps([a, b, c], rng)
    T.eq(one(a, "SELECT sealed FROM bec_checkpoints WHERE checkpoint=?", k1), 1, "K1 sealed")
    d = R.joined(a, "v4_d.db")
    req = one(a, "SELECT bec_root_propose('add', ?, 'admin')", pub(d))
    root_steps([a, b, c], rng)
    one(b, "SELECT bec_root_approve(?)", req)
    root_steps([a, b, c], rng)
    T.eq(one(a, "SELECT role FROM bec_members WHERE pubkey=?", pub(d)), "admin",
         "d added by the root, an admin")
    # d, an admin by the root's grant alone, adds f.
    f = R.joined(a, "v4_f.db")
    sync_all([a, b, c, d], rng)
    one(d, "SELECT bec_add_member(?, 'member')", pub(f))
    sync_all([a, b, c, d], rng)
    T.eq(one(a, "SELECT role FROM bec_members WHERE pubkey=?", pub(f)), "member",
         "f added by d")
    # The root hands over to a new key generation (the same holders): the
    # cut holds two, the second's parent the first.
    root_hand_over(a, b, c, rng)
    y2 = one(a, "SELECT group_key FROM bec_root WHERE epoch=2")
    T.check(y2 is not None and y2 != y, "the next key generation, a new key")
    a.execute("INSERT INTO todos VALUES('r9', 'after K1', 9)")
    k2 = one(a, "SELECT bec_checkpoint()")
    root_steps([a, b, c], rng)
    T.eq(one(a, "SELECT sealed FROM bec_checkpoints WHERE checkpoint=?", k2), 1, "K2 sealed")
    snap = one(a, "SELECT bec_snapshot()")
    s = parse(snap)
    T.eq(becwire.op_id(s["checkpoint"]).hex(), k2, "the snapshot of K2")
    T.eq(digest(s), becwire.decode_op(s["checkpoint"])["body"][1:33], "R covers the sections")
    # root: two key generations; the open's (no parent, not the one active
    # at K2) and the hand-over's (parent the open, active at K2), each with
    # its group key and the three holders
    T.eq(len(s["root"]), 2, "two key generations")
    by_epoch = {}
    for r in s["root"]:
        epoch, i = read_varint(r, 64)
        by_epoch[epoch] = (r[:32], r[32:64], r[i], r[i + 1], r[i + 2], r[i + 3], r[i + 4],
                           r[i + 5:i + 37].hex(),
                           sorted(r[i + 37 + 32 * x:i + 69 + 32 * x].hex() for x in range(3)))
    holders = sorted(pub(x) for x in (a, b, c))
    T.eq(sorted(by_epoch), [1, 2], "epochs 1 and 2")
    sid1 = by_epoch[1][0]
    T.eq(by_epoch[1][1:], (bytes(32), 2, 3, 4, 0, 1, y, holders),
         "the open: no parent, k 2, n 3, superseded, not active at K2, key y, the holders")
    T.eq(by_epoch[2][1:], (sid1, 2, 3, 1, 1, 1, y2, holders),
         "the hand-over: parent the open, k 2, n 3, active, active at K2, key y2, the holders")
    # epochs: every epoch op of the cut, with its holders
    want = one(a, "SELECT count(*) FROM bec_store_op WHERE kind IN (16, 18)"      # rekey, encrypt
                  " AND seq < (SELECT seq FROM bec_store_op WHERE hash=?)", bytes.fromhex(k2))
    T.check(want >= 1, "the cut holds epochs")
    T.eq(len(s["epochs"]), want, "one leaf per epoch op of the cut")
    # names: the names in effect
    names = {}
    for x in s["names"]:
        n, i = read_varint(x, 64)
        names[x[:32].hex()] = x[i:i + n].decode()
    T.eq(names, {pub(a): "Alice", pub(c): "Caro"}, "the names in effect at K2")
    # checkpoints: K1, sealed in K2's cut, k 2
    T.eq(len(s["checkpoints"]), 1, "K1 in K2's cut")
    x = s["checkpoints"][0]
    T.eq((x[:32].hex(), x[32:64], x[64:]),
         (k1, bytes.fromhex(one(a, "SELECT digest FROM bec_checkpoints WHERE checkpoint=?", k1)),
          uvarint(2) + bytes([1])), "K1's id, claimed R, k and sealed")
    # The replaying provider (an op outside the cut): the same bytes.
    a2 = R.clone(a, "v4_a2.db")
    a2.execute("INSERT INTO todos VALUES('x', 'outside the cut', 0)")
    T.eq(one(a2, "SELECT bec_snapshot()"), snap, "the replay of the cut gives the same snapshot")
    # The root-added member: its leaf (rank 1, its live grant the root op),
    # its grant in the chain, checked against the root section's keys.
    dl = [member_leaf(x) for x in s["members"] if x[:32].hex() == pub(d)]
    T.eq(len(dl), 1, "d, added by the root, has a member leaf")
    root_op = [x for x in s["chain"] if becwire.decode_op(x)["kind"] == "root"]
    T.eq(len(root_op), 2, "every root op of the cut is in the chain (version 5): the add and"
         " the hand-over")
    root_op = [x for x in root_op if becwire.op_id(x) == dl[0][2]]
    T.eq(len(root_op), 1, "the root's add is in the chain")
    T.eq(becwire.decode_op(root_op[0])["author"].hex(), y,
         "signed by the root key of the first generation (a key of the root section)")
    T.eq((dl[0][1], dl[0][2], dl[0][4], dl[0][5]),
         (1, becwire.op_id(root_op[0]), 1, [becwire.op_id(root_op[0])]),
         "d: rank 1 by the root's add, an admin, that add its live grant")
    fl = [member_leaf(x) for x in s["members"] if x[:32].hex() == pub(f)]
    T.eq((len(fl), fl[0][1] if fl else None), (1, 2), "f: rank 2, added by d (rank 1)")
    j = R.joined(a, "v4_j.db")
    T.eq(one(j, "SELECT bec_snapshot_verify(?)", snap), k2, "the snapshot verifies")

    def refused(s2, msg, what):
        T.raises(lambda: j.execute("SELECT bec_snapshot_verify(?)", (encode(s2),)).fetchall(),
                 msg, what)
    for sec in becwire.SNAPSHOT_SECTIONS:
        for at in (0, -1):
            s2 = parse(snap)
            x = bytearray(s2[sec][0])
            x[at] ^= 1
            s2[sec][0] = bytes(x)
            refused(s2, "digest does not match", "%s: a leaf's byte %d altered" % (sec, at))
        s2 = parse(snap)
        s2[sec] = s2[sec][1:]
        refused(s2, "digest does not match", "%s: a leaf left out" % sec)
        s2 = parse(snap)
        s2[sec][0] = s2[sec][0] + b"\x00"
        refused(s2, "the snapshot is malformed: a leaf of the %s section" % sec,
                "%s: a leaf with a byte too many" % sec)
    # A root grant whose author is no root key of the cut; the root section
    # without the key (then R does not match, checked before the chain).
    s2 = parse(snap)
    s2["chain"] = [x for x in s2["chain"] if becwire.decode_op(x)["kind"] != "root"]
    refused(s2, "grant not in the auth chain", "the root's add left out of the chain")
    # The cover: a leaf claiming another one is refused too.
    s2 = parse(snap)
    mi = [i for i, x in enumerate(s2["members"]) if x[:32].hex() == pub(c)][0]
    T.eq(member_cover(s2["members"][mi]), 2, "c's cover: member")
    x = bytearray(s2["members"][mi])
    _, i = read_varint(x, 32)
    x[i + 34] = 1
    s2["members"][mi] = bytes(x)
    refused(s2, "digest does not match", "c's cover altered to admin")

def test_row_refs():
    """Version 4: a row leaf travels as tokens, its repeated 32 bytes (the
    ids of an op that wrote the whole row, repeated values) as references
    to the bytes before them; the joiner expands them before hashing, so
    the leaves and R are the digest's.  A history with many repeats round-
    trips (the test's codec gives bec's bytes; another replica gives the
    same tables); any other valid encoding verifies; a reference past the
    start, to itself or overlapping itself, a truncated token, an empty or
    overlong literal, an expansion past the bound are malformed, and a
    reference to other bytes does not digest; every byte of a small
    snapshot flipped is refused with a reason or gives the same leaves.
    Nothing is stored."""
    import sqlite3
    a = R.origin("r_a.db", decl="id INTEGER PRIMARY KEY, v TEXT, w BLOB, n INTEGER COUNTER")
    b = R.member(a, "r_b.db", "member")
    sync(a, b)
    rng = random.Random(1703)
    for i in range(40):
        w = bytes(64) if i % 3 == 0 else rng.randbytes(40)
        a.execute("INSERT INTO todos VALUES(?, ?, ?, ?)", (i, "v%d" % i, w, i))
    sync(a, b)
    a.execute("UPDATE todos SET v='from a', n = n + 1 WHERE id < 10")
    b.execute("UPDATE todos SET v='from b', n = n + 2 WHERE id < 10")
    b.execute("DELETE FROM todos WHERE id = 39")
    sync(a, b)
    k = one(a, "SELECT bec_checkpoint()")
    sync(a, b)
    snap = one(a, "SELECT bec_snapshot()")
    s = parse(snap)
    kop = becwire.decode_op(s["checkpoint"])
    T.eq(digest(s), kop["body"][1:33], "the expanded leaves digest to K's R")
    T.eq(encode(s), snap, "the test's codec gives bec's bytes")
    T.eq(len(s["tables"][0][1]), 39, "39 rows")
    whole = len(encode(dict(s, version=3)))
    # every row names the op that wrote it in 4 registers (existence, v, w,
    # n): 3 references of about 1 byte for 32
    T.check(whole - len(snap) >= 39 * 3 * 30,
            "the references save 30 bytes per repeat: %d -> %d B" % (whole, len(snap)))
    for leaf in s["tables"][0][1]:
        T.eq(becwire.row_expand(becwire.row_encode(leaf)), leaf, "the codec round-trips a leaf")
    j = R.joined(a, "r_j.db")
    T.eq(one(j, "SELECT bec_snapshot_verify(?)", snap), k, "verifies")
    sb = one(b, "SELECT bec_snapshot()")
    T.eq(parse(sb)["tables"], s["tables"], "another replica: the same leaves")
    T.eq(encode(parse(sb)), sb, "and the same tokens (one encoding per leaf)")

    def with_row(tokens, i=0):
        s2 = parse(snap)
        head, rows = s2["tables"][0]
        rows[i] = becwire.RowTokens(tokens)
        return encode(s2)

    def verify(msg):
        return one(j, "SELECT bec_snapshot_verify(?)", msg)

    def refused(msg, why, what):
        T.raises(lambda: verify(msg), why, what)

    leaf = s["tables"][0][1][0]
    tok = becwire.row_encode(leaf)
    T.check(len(tok) < len(leaf) - 60, "row 0 is sent with references")
    # Other valid encodings: the same leaf, the same R.
    T.eq(verify(with_row(uvarint(2 * len(leaf)) + leaf)), k, "a leaf as one literal")
    T.eq(verify(with_row(b"".join(uvarint(2) + leaf[x:x + 1] for x in range(len(leaf))))),
         k, "a leaf as one-byte literals")
    # A reference to the last earlier copy instead of the first.
    ids = [leaf[x:x + 32] for x in range(len(leaf) - 31)]
    twice = [x for x in range(len(ids)) if ids.count(ids[x]) >= 3]
    T.check(twice, "an id three times in row 0")
    x0 = twice[0]
    x1, x2 = [x for x in range(len(ids)) if ids[x] == ids[x0]][1:3]
    alt = (uvarint(2 * x2) + leaf[:x2] + uvarint(2 * x1 + 1)
           + uvarint(2 * (len(leaf) - x2 - 32)) + leaf[x2 + 32:])
    T.eq(becwire.row_expand(alt), leaf, "a reference to the second copy expands to the leaf")
    T.eq(verify(with_row(alt)), k, "and verifies")
    # Hostile tokens.
    lit = uvarint(2 * 40) + leaf[:40]
    refused(with_row(uvarint(1) + tok), "refers past the bytes before the reference",
            "a reference before the start")
    refused(with_row(lit + uvarint(2 * 40 + 1) + tok), "refers past",
            "a reference to itself")
    refused(with_row(lit + uvarint(2 * 20 + 1) + tok), "refers past",
            "a reference overlapping itself")
    refused(with_row(lit + uvarint(2 * 1000 + 1)), "refers past", "a reference far ahead")
    refused(with_row(tok + b"\x81"), "a row leaf ends inside a token", "a truncated reference")
    refused(with_row(tok + b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"),
            "no minimal varint within the bound", "a token too large")
    refused(with_row(b"\x80\x00" + tok), "no minimal varint", "a non-minimal token")
    refused(with_row(b"\x00" + tok), "an empty literal", "an empty literal")
    refused(with_row(uvarint(2 * (len(leaf) + 1)) + leaf), "ends inside a literal",
            "a literal past the leaf's end")
    T.check(leaf[:32] != leaf[40:72], "row 0: bytes 40..71 are not bytes 0..31")
    refused(with_row(lit + uvarint(1) + uvarint(2 * (len(leaf) - 72)) + leaf[72:]),
            "digest does not match", "a reference to other bytes")
    refused(with_row(uvarint(2 * 32) + bytes(32) + uvarint(1) * (2 * 1024 * 1024 + 1)),
            "a row leaf expands past the bound", "a leaf of 2 MB of references (64 MB)")
    refused(with_row(tok, len(s["tables"][0][1]) - 1), "digest does not match",
            "row 0's tokens in the last row")
    refused(b"", "the snapshot is malformed: no bytes", "no bytes")
    T.eq(one(j, "SELECT count(*) FROM bec_ops"), 0, "nothing stored")

    # Every byte of a small snapshot flipped: refused with a reason, or the
    # same leaves (so the same R).
    o = R.origin("r_o.db")
    for i in range(3):
        o.execute("INSERT INTO todos VALUES(?, ?, ?)", ("r%d" % i, "t%d" % i, i))
    ko = one(o, "SELECT bec_checkpoint()")
    small = one(o, "SELECT bec_snapshot()")
    so = parse(small)
    jo = R.joined(o, "r_jo.db")
    T.eq(one(jo, "SELECT bec_snapshot_verify(?)", small), ko, "the small snapshot verifies")
    n_ok = n_bad = 0
    reasons = set()
    for i in range(len(small)):
        for bit in (0x01, 0x80):
            x = bytearray(small)
            x[i] ^= bit
            try:
                got = jo.execute("SELECT bec_snapshot_verify(?)", (bytes(x),)).fetchone()[0]
            except sqlite3.Error as e:
                msg = str(e)
                n_bad += 1
                reasons.add(msg.split(":")[1].strip() if ":" in msg else msg)
                if "unknown error" in msg or "bec_snapshot_verify" not in msg:
                    T.check(False, "byte %d ^ %d: a clear error, got %r" % (i, bit, msg))
                continue
            n_ok += 1
            T.eq(got, ko, "byte %d ^ %d accepted: K" % (i, bit))
            s2 = parse(bytes(x))
            T.check(all(s2[f] == so[f] for f in ("tables", "members", "n_op", "k", "ops_root")
                        + becwire.SNAPSHOT_SECTIONS),
                    "byte %d ^ %d accepted: the same leaves" % (i, bit))
    T.eq(n_ok + n_bad, 2 * len(small), "every flip tried")
    print("  %d flips of a %d-byte snapshot: %d refused, %d the same leaves; reasons: %s"
          % (2 * len(small), len(small), n_bad, n_ok, "; ".join(sorted(reasons))))
    T.check(n_bad > 0.9 * 2 * len(small), "nearly every flip refused: %d of %d (%d accepted)"
            % (n_bad, 2 * len(small), n_ok))
    T.eq(one(jo, "SELECT count(*) FROM bec_ops"), 0, "nothing stored by any flip")
    T.eq(one(jo, "SELECT count(*) FROM bec_rejected"), 0, "nothing logged either")


def test_no_seal():
    a = R.origin("n_a.db")
    b = R.member(a, "n_b.db", "admin")
    sync(a, b)
    T.raises(lambda: a.execute("SELECT bec_snapshot()").fetchall(),
             "no checkpoint is sealed here yet", "nothing sealed")
    k = one(a, "SELECT bec_checkpoint()")
    T.raises(lambda: a.execute("SELECT bec_snapshot()").fetchall(),
             "no checkpoint is sealed here yet", "one claim of two")
    sync(a, b)
    sync(a, b)
    snap = one(a, "SELECT bec_snapshot()")
    T.eq(one(b, "SELECT bec_snapshot_verify(?)", snap), k, "sealed: verifies")


def damage_base(path, old, new):
    """Replaces bytes old by new in the merge base's cells (bec_store_base),
    outside bec."""
    import sqlite3
    c = sqlite3.connect(path)
    n = 0
    for tbl, row, cells in c.execute("SELECT tbl, row, cells FROM bec_store_base").fetchall():
        if old in cells:
            c.execute("UPDATE bec_store_base SET cells=? WHERE tbl=? AND row=?",
                      (cells.replace(old, new), tbl, row))
            n += 1
    c.commit()
    c.close()
    return n


def test_pruned_provider():
    """A replica pruned below the checkpoint gives the snapshot of that
    checkpoint, byte for byte the one it gave before pruning (S(K)'s
    tables are read from the merge base, the rest from a replay of the
    cut's headers and kept bodies): conflicts, a delete, ops concurrent
    with K and after it.  A damaged base gives a snapshot that no replica
    verifies, and bec_check() on the damaged replica fails."""
    a, b, c, m, k = setup()
    before = one(a, "SELECT bec_snapshot()")
    T.check(one(a, "SELECT bec_prune()") > 0, "pruned")
    T.eq(one(a, "SELECT bec_snapshot()"), before, "the pruned replica gives the same snapshot")
    j = R.joined(a, "p_j.db")
    T.eq(one(j, "SELECT bec_snapshot_verify(?)", before), k, "verifies")
    # A counter, an ADD and a RENAME COLUMN in the cut, on a replica pruned
    # with a later op held: the same bytes too.
    o = R.origin("p_o.db", decl="id TEXT PRIMARY KEY, title TEXT, n INTEGER COUNTER")
    for i in range(4):
        o.execute("INSERT INTO todos VALUES(?, ?, ?)", ("r%d" % i, "t%d" % i, i))
    o.execute("SELECT bec_alter('todos', 'ADD COLUMN prio INTEGER NOT NULL DEFAULT 5')")
    o.execute("UPDATE todos SET n = n + 3, prio = 1 WHERE id='r0'")
    o.execute("SELECT bec_alter('todos', 'RENAME COLUMN title TO name')")
    k2 = one(o, "SELECT bec_checkpoint()")
    o.execute("UPDATE todos SET n = n + 1 WHERE id='r1'")
    before = one(o, "SELECT bec_snapshot()")
    T.check(one(o, "SELECT bec_prune()") > 0, "o pruned")
    T.eq(one(o, "SELECT bec_snapshot()"), before, "a counter and alters: the same snapshot")
    T.eq(one(o, "SELECT bec_check()"), "ok", "bec_check() on the pruned replica")
    # Nothing after K: S(K) is read from the derived state (the base).
    n = R.origin("p_n.db")
    for i in range(3):
        n.execute("INSERT INTO todos VALUES(?, ?, ?)", ("r%d" % i, "t%d" % i, i))
    one(n, "SELECT bec_checkpoint()")
    before_n = one(n, "SELECT bec_snapshot()")
    T.check(one(n, "SELECT bec_prune()") > 0, "n pruned")
    T.eq(one(n, "SELECT bec_snapshot()"), before_n, "nothing after K: the same snapshot")
    # A damaged base: the snapshot it gives does not digest to R.
    o.commit()
    path = o.execute("PRAGMA database_list").fetchone()[2]
    o.close()
    # (the text value 't2' as a cell holds it: its storage class 3, its
    # length, its bytes; the bare bytes may occur inside a seq or a number)
    T.eq(damage_base(path, b"\x03\x02t2", b"\x03\x02x2"), 1, "one row of the base damaged")
    o = connect(path)
    bad = one(o, "SELECT bec_snapshot()")
    T.check(bad != before, "the damaged base shows in the snapshot")
    jo = R.joined(o, "p_jo.db")
    T.raises(lambda: jo.execute("SELECT bec_snapshot_verify(?)", (bad,)).fetchall(),
             "digest does not match", "a damaged base's snapshot is refused")
    T.eq(one(jo, "SELECT bec_snapshot_verify(?)", before), k2, "the honest one verifies")
    T.check(one(o, "SELECT bec_check()") != "ok", "bec_check() fails on the damaged base")


def test_install_sections():
    """Snapshot version 5: a group whose members named themselves, with a
    2-of-3 threshold root (a key generation and a hand-over) and an
    earlier checkpoint K1, now installs (bec_snapshot_install, not the
    replay): names, root and checkpoints as the provider shows them, and
    after the ops after K2 (a rename, a root op of the epoch active at K2)
    too.  A provider that leaves an op of the cut out of the chain (its
    proof kept) is refused with the section whose leaf differs, nothing
    stored."""
    rng = random.Random(1718)
    a, b, c = named_root_group("i5", rng, "member")
    a.execute("INSERT INTO todos VALUES('r1', 'one', 1)")
    k1 = one(a, "SELECT bec_checkpoint()")
    root_steps([a, b, c], rng)
    root_hand_over(a, b, c, rng)
    a.execute("INSERT INTO todos VALUES('r2', 'two', 2)")
    k2 = one(a, "SELECT bec_checkpoint()")
    root_steps([a, b, c], rng)
    T.eq(one(a, "SELECT count(*) FROM bec_checkpoints WHERE sealed"), 2, "K1 and K2 sealed")
    snap = one(a, "SELECT bec_snapshot()")
    s = parse(snap)
    T.eq(s["version"], 6, "version 6")
    kinds = [becwire.decode_op(x)["kind"] for x in s["chain"]]
    for kind in ("name", "checkpoint", "root-open", "dkg-deal", "dkg-ack", "root"):
        T.check(kind in kinds, "the chain carries the %s ops" % kind)
    # after K2: a rename, and the root (the hand-over's key) removes b
    one(c, "SELECT bec_set_name('Caroline')")
    req = one(a, "SELECT bec_root_propose('remove', ?)", pub(b))
    root_steps([a, b, c], rng)
    one(c, "SELECT bec_root_approve(?)", req)
    root_steps([a, b, c], rng)
    T.eq(one(a, "SELECT count(*) FROM bec_members WHERE pubkey=?", pub(b)), 0,
         "b removed by the root after K2")
    k2seq = one(a, "SELECT seq FROM bec_store_op WHERE hash=?", bytes.fromhex(k2))
    after = [r[0] for r in a.execute("SELECT body FROM bec_store_op WHERE seq>? ORDER BY seq",
                                     (k2seq,))]
    gid = one(a, "SELECT bec_group_id()")

    def joiner(name):
        j = connect(R.path(name))
        j.execute("SELECT bec_join(?, 'snapshot')", (gid,))
        return j

    def view(db):
        return (db.execute("SELECT pubkey, name, role FROM bec_members ORDER BY 1").fetchall(),
                db.execute("SELECT session, epoch, k, n, group_key, state FROM bec_root"
                           " ORDER BY 1").fetchall(),
                db.execute("SELECT session, id, pk, confirmed, share_key FROM bec_root_holders"
                           " ORDER BY 1, 2").fetchall(),
                db.execute("SELECT checkpoint, sealed, k, author, root FROM bec_checkpoints"
                           " WHERE checkpoint IN (?, ?) ORDER BY 1", (k1, k2)).fetchall(),
                db.execute("SELECT hash, valid FROM bec_store_op WHERE kind=15 ORDER BY 1")
                  .fetchall(),
                db.execute("SELECT id, title FROM todos ORDER BY 1").fetchall())

    for n, order in enumerate((after, list(reversed(after)))):
        j = joiner("i5_j%d.db" % n)
        T.eq(one(j, "SELECT bec_snapshot_install(?)", snap), k2, "installed, not replayed")
        T.eq(one(j, "SELECT name FROM bec_members WHERE pubkey=?", pub(c)), "Caro",
             "c's name at K2")
        T.eq(one(j, "SELECT digest IS NULL AND attestations=0 AND sealed FROM bec_checkpoints"
                    " WHERE checkpoint=?", k1), 1, "K1: sealed, its digest unknown here")
        ingest_all(j, order, rng)
        ingest_all(j, after, rng)              # what waited for a predecessor
        T.eq(view(j), view(a), "names, root, checkpoints after K2 as on the provider (%d)" % n)
        T.eq(one(j, "SELECT bec_check()"), "ok", "bec_check")

    def refused(s2, msg, what):
        j = joiner("i5_bad.db")
        T.raises(lambda: j.execute("SELECT bec_snapshot_install(?)", (encode(s2),)).fetchall(),
                 msg, what)
        T.eq(one(j, "SELECT count(*) FROM bec_store_op"), 0, what + ": nothing stored")
        j.close()
        for f in os.listdir(os.path.dirname(R.path("i5_bad.db"))):
            if f.startswith("i5_bad.db"):
                os.remove(os.path.join(os.path.dirname(R.path("i5_bad.db")), f))

    def without(kind, pick):
        s2 = parse(snap)
        ops = [x for x in s2["chain"] if becwire.decode_op(x)["kind"] == kind]
        s2["chain"].remove(pick(ops))
        return s2
    in_effect = [x for x in s["chain"] if becwire.decode_op(x)["kind"] == "name"
                 and becwire.decode_op(x)["body"].endswith(b"Caro")]
    T.eq(len(in_effect), 1, "c's name op in effect")
    refused(without("name", lambda ops: in_effect[0]),
            "the names derived from the cut's ops are not the snapshot's",
            "a name op left out of the chain")
    refused(without("dkg-ack", lambda ops: ops[-1]),
            "the threshold root derived from the cut's ops is not the snapshot's",
            "a root op left out of the chain")
    refused(without("checkpoint", lambda ops: [x for x in ops
                                               if becwire.op_id(x).hex() == k1][0]),
            "an earlier checkpoint of the cut is not in the chain",
            "K1 left out of the chain")
def band_state(db, cut):
    """Rows, losers by op id (a stand-in's id on an installed replica),
    members with covers, and validity by op id."""
    loser = ("coalesce(o.hash, (SELECT id FROM bec_store_cut k WHERE k.seq=c.seq))"
             if cut else "o.hash")
    return (
        db.execute("SELECT * FROM todos ORDER BY id").fetchall(),
        sorted(db.execute("SELECT c.pk, c.col, c.value, %s FROM bec_store_conflict c"
                          " LEFT JOIN bec_store_op o ON o.seq=c.seq" % loser).fetchall()),
        db.execute("SELECT pubkey, role, cover FROM bec_store_member ORDER BY pubkey").fetchall(),
    )


def validity(db):
    return dict(db.execute("SELECT hash, valid FROM bec_store_op"))


def test_band_random():
    """Random histories with ops concurrent with K (docs/compaction.md "The
    band"): an admin and three members; each member takes a random prefix of
    the admin's history, goes offline and writes (updates, deletes, counter
    steps) while the admin goes on; the admin names K (sealed, k = 1), then
    receives the members' ops and writes after K.  Its snapshot's band is
    installed on two replicas, which then receive every op after K in a
    random order and in the reverse one: no fall-back, and the admin's rows,
    losers by op id, members with covers and the validity of every op they
    hold, by id; bec_check() passes."""
    n_band = []
    for seed in range(8):
        rng = random.Random(seed)
        tag = "band%d" % seed
        a = R.origin(tag + "_a.db", decl="id INTEGER PRIMARY KEY, title TEXT, n INTEGER COUNTER")
        ms = [R.member(a, "%s_m%d.db" % (tag, i), "member") for i in range(3)]
        late = []
        for i in range(4):
            a.execute("INSERT OR REPLACE INTO todos VALUES(?, ?, ?)", (i, "a%d" % i, i))
        for m in ms:
            ops = bodies(a)
            deliver(m, ops[:rng.randrange(6, len(ops) + 1)])
            before = set(ops_of(m))
            for i in range(rng.randrange(1, 4)):
                r = rng.randrange(6)
                x = rng.random()
                if x < 0.25:
                    m.execute("DELETE FROM todos WHERE id=?", (r,))
                elif x < 0.5:
                    m.execute("UPDATE todos SET n = n + ? WHERE id=?", (rng.randrange(1, 9), r))
                else:
                    m.execute("INSERT OR REPLACE INTO todos VALUES(?, ?, ?)",
                              (r, "m%d" % i, 0))
            late += [b for h, b in ops_of(m).items() if h not in before]
            for i in range(rng.randrange(1, 3)):
                a.execute("INSERT OR REPLACE INTO todos VALUES(?, ?, ?)",
                          (rng.randrange(6), "a-on%d" % i, 10 + i))
                if rng.random() < 0.5:
                    a.execute("UPDATE todos SET n = n + 1 WHERE id=?", (rng.randrange(6),))
        k = one(a, "SELECT bec_checkpoint()")
        T.eq(one(a, "SELECT sealed FROM bec_checkpoints WHERE checkpoint=?", k), 1,
             "seed %d: K sealed" % seed)
        kseq = one(a, "SELECT seq FROM bec_store_op WHERE hash=?", bytes.fromhex(k))
        deliver(a, late)
        a.execute("UPDATE todos SET title='after K' WHERE id=?", (rng.randrange(6),))
        snap = one(a, "SELECT bec_snapshot()")
        n_band.append(len(parse(snap)["band"]))
        want = band_state(a, False)
        want_valid = validity(a)
        after = [b for (b,) in a.execute("SELECT body FROM bec_store_op WHERE seq>?", (kseq,))]
        for name, order in (("random", "random"), ("reverse", "reverse")):
            j = R.joined(a, "%s_j%s.db" % (tag, name))
            one(j, "SELECT bec_snapshot_install(?)", snap)
            T.check(one(j, "SELECT value FROM bec_store_config WHERE key='cut_band'") is not None,
                    "seed %d: a band installed" % seed)
            ops = list(after)
            if order == "random":
                rng.shuffle(ops)
            else:
                ops.reverse()
            deliver(j, ops)
            deliver(j, after)
            what = "seed %d, %s order" % (seed, name)
            T.eq(one(j, "SELECT count(*) FROM bec_store_config WHERE key='rejoin_op'"
                        " AND value IS NOT NULL"), 0, what + ": no fall-back")
            T.eq(one(j, "SELECT count(*) FROM bec_store_pending"), 0, what + ": nothing waits")
            T.eq(band_state(j, True), want, what + ": the provider's rows, losers, members")
            got = validity(j)
            T.eq({h: v for h, v in got.items()}, {h: want_valid[h] for h in got},
                 what + ": the provider's validity of every op held")
            T.check(all(bytes(h) in got for (h,) in a.execute(
                "SELECT hash FROM bec_store_op WHERE seq>?", (kseq,))), what + ": every op after K")
            T.eq(one(j, "SELECT bec_check()"), "ok", what + ": bec_check")
            j.close()
        for db in [a] + ms:
            db.close()
    print("  band sizes: %s" % n_band)


test_verify_and_lies()
test_sections()
test_row_refs()
test_no_seal()
test_pruned_provider()
test_install_sections()
test_band_random()
R.cleanup()
T.done()
