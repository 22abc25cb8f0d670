"""The relay role (issue 14, docs/membership.md "Relays"): bec_add_member(pk,
'relay') lists the key with role 'relay'; bec_sync_peer_allowed accepts it;
every op it signs but its own leave is refused at acceptance; a member
demoted to relay concurrently with its writes has them ignored; it never
counts as a member or admin (the local API refuses its writes, the last
admin cannot be demoted to relay); the role byte on the wire is 3.

    BEC_EXT=$PWD/build/bec /usr/bin/python3 test/py/test_relay.py
"""
import hashlib
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bectest import T, connect, one  # noqa: E402
from becwire import ROLE, Key, decode_op, make_op  # noqa: E402


def key(name):
    return Key(hashlib.sha256(("relay-test/" + name).encode()).digest())


def heads(db):
    return [bytes.fromhex(h) for (h,) in db.execute("SELECT hash FROM bec_heads ORDER BY hash")]


def forge(db, k, kind, payload, preds=None):
    group = bytes.fromhex(one(db, "SELECT bec_group_id()"))
    return make_op(k, kind, heads(db) if preds is None else preds, payload, group)


def ingest(db, enc):
    return one(db, "SELECT bec_ingest(?)", enc)


def copy_ops(src, dst):
    for (h,) in src.execute("SELECT hash FROM bec_ops ORDER BY depth, hash"):
        ingest(dst, one(src, "SELECT bec_op(?)", h))


def members(db):
    return {pk: role for pk, role in db.execute("SELECT pubkey, role FROM bec_members")}


def main():
    A = connect()
    one(A, "SELECT bec_keygen()")
    one(A, "SELECT bec_create_group()")
    a_pub = one(A, "SELECT bec_pubkey()")

    # The last admin may not demote itself to relay.
    T.raises(lambda: one(A, "SELECT bec_add_member(?, 'relay')", a_pub),
             "last admin", "demoting the last admin to relay")
    T.raises(lambda: one(A, "SELECT bec_add_member(?, 'owner')", a_pub),
             "'admin', 'member' or 'relay'", "unknown role")

    R = connect()
    r_pub = one(R, "SELECT bec_keygen()")
    h = one(A, "SELECT bec_add_member(?, 'relay')", r_pub)
    T.eq(members(A).get(r_pub), "relay", "the relay is listed with role relay")
    T.eq([p for (p,) in A.execute("SELECT pubkey FROM bec_members WHERE role='relay'")],
         [r_pub], "WHERE role='relay'")
    T.eq(one(A, "SELECT bec_sync_peer_allowed(?)", r_pub), 1,
         "bec_sync_peer_allowed accepts a relay")
    op = decode_op(one(A, "SELECT bec_op(?)", h))
    T.eq(op["body"][-1], 3, "role byte of a relay add is 3")
    T.eq(ROLE["relay"], 3, "becwire knows the relay byte")

    # The relay's replica stores everything, but its key signs nothing.
    one(R, "SELECT bec_join(?)", one(A, "SELECT bec_group_id()"))
    copy_ops(A, R)
    T.eq(members(R).get(r_pub), "relay", "the relay sees itself as relay")
    T.raises(lambda: one(R, "SELECT bec_sign(?)", b"data"),
             "unauthorized: a relay", "a relay's local write is refused")
    T.raises(lambda: one(R, "SELECT bec_add_member(?, 'member')", a_pub),
             "not allowed", "a relay cannot add")
    T.raises(lambda: one(R, "SELECT bec_remove_member(?)", a_pub),
             "not allowed", "a relay cannot remove others")

    # Ops a relay key signs anyway are refused at acceptance, like an
    # outsider's; its own leave is accepted and takes effect.
    K = key("K")
    one(A, "SELECT bec_add_member(?, 'relay')", K.hex)
    n_ops = one(A, "SELECT count(*) FROM bec_ops")
    for kind, payload in (("app", b"x"), ("write", b"x"),
                          ("add", key("D").pub + bytes([ROLE["member"]])),
                          ("add", K.pub + bytes([ROLE["admin"]])),
                          ("remove", bytes.fromhex(a_pub))):
        enc = forge(A, K, kind, payload)
        T.raises(lambda: ingest(A, enc), "unauthorized", "relay's %s refused" % kind)
    T.eq(one(A, "SELECT count(*) FROM bec_ops"), n_ops, "nothing stored")
    T.check(one(A, "SELECT count(*) FROM bec_rejected WHERE reason LIKE 'unauthorized:%'") >= 5,
            "refusals listed in bec_rejected")
    ingest(A, forge(A, K, "remove", K.pub))
    T.check(K.hex not in members(A), "a relay's leave takes effect")

    # A member demoted to relay: its writes concurrent with (or after) the
    # demotion are accepted (a potential member grant is in their past) but
    # ignored; a writer promoted back writes again.
    B = key("B")
    one(A, "SELECT bec_add_member(?, 'member')", B.hex)
    before = heads(A)
    w0 = forge(A, B, "app", b"before")
    ingest(A, w0)
    one(A, "SELECT bec_add_member(?, 'relay')", B.hex)
    w1 = forge(A, B, "app", b"concurrent", preds=before)
    ingest(A, w1)
    w2 = forge(A, B, "app", b"after")
    ingest(A, w2)
    valid = {bytes(decode_op(e)["body"]): one(A, "SELECT valid FROM bec_ops WHERE hash=?",
                                              decode_op(e)["id"].hex())
             for e in (w0, w1, w2)}
    T.eq(valid, {b"before": 1, b"concurrent": 0, b"after": 0},
         "writes before a demotion to relay stay, concurrent and later ones are ignored")
    T.eq(members(A).get(B.hex), "relay", "demoted member is a relay")
    one(A, "SELECT bec_add_member(?, 'member')", B.hex)
    w3 = forge(A, B, "app", b"again")
    ingest(A, w3)
    T.eq(one(A, "SELECT valid FROM bec_ops WHERE hash=?", decode_op(w3)["id"].hex()), 1,
         "promoted back, it writes again")

    # A concurrent promotion to admin and demotion to relay end in relay.
    C = key("C")
    one(A, "SELECT bec_add_member(?, 'admin')", C.hex)
    base = heads(A)
    one(A, "SELECT bec_add_member(?, 'relay')", C.hex)
    ingest(A, forge(A, C, "add", C.pub + bytes([ROLE["admin"]]), preds=base))
    T.eq(members(A).get(C.hex), "relay", "concurrent admin and relay grants end in relay")

    for db, name in ((A, "A"), (R, "R")):
        T.eq(one(db, "SELECT bec_check()"), "ok", "bec_check on " + name)
    T.eq(one(A, "SELECT bec_member_rebuild()"), 0, "a rebuild changes nothing")
    T.done()


if __name__ == "__main__":
    main()
