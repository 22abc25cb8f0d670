"""test_invite.py - invitations (issue 19; docs/membership.md,
"Invitations"): bec_invite(role) gives a one-time token, bec_join(token)
keeps a redemption the newcomer presents in its syncs, and the inviter's
replica adds it, once:

  - over SQL sync (bec_sync_offer / bec_sync_apply), whichever side offers,
    the inviter signs add(newcomer, role) and the newcomer receives it in
    the same session, and can write;
  - a used token does nothing for another key (refused, reason in
    bec_invites and bec_peers), nor does a revoked or an expired one; the
    same key presenting it again adds nothing twice;
  - a replica that did not issue the invitation ignores it;
  - only an admin invites; hostile tokens and redemptions get clear errors;
  - nothing in either database file redeems the invite (the one-time
    secret is not stored anywhere);
  - over becsync, a newcomer that is not yet a member is served once it
    presents its redemption in the handshake, and leaves as a member; the
    server's log says so and then names it by its display name.

    BEC_EXT=$PWD/build/bec /usr/bin/python3 test/py/test_invite.py
"""
import base64
import os
import re
import subprocess

from bectest import EXT, T, Replicas, connect, free_port, one

R = Replicas("bec_invite_")
BECSYNC = os.environ.get("BEC_BECSYNC") or os.path.join(os.path.dirname(EXT), "becsync")


def sql_sync(a, b, la="a", lb="b"):
    """A full SQL sync session; a offers."""
    msg = one(a, "SELECT bec_sync_offer(?)", lb)
    src, dst, lsrc, ldst = a, b, la, lb
    rounds = 0
    while msg is not None:
        msg = one(dst, "SELECT bec_sync_apply(?, ?)", lsrc, msg)
        src, dst, lsrc, ldst = dst, src, ldst, lsrc
        rounds += 1
        assert rounds < 50
    return rounds


def fresh(name):
    db = connect(R.path(name))
    pk = one(db, "SELECT bec_keygen()")
    return db, pk


def role_of(db, pk):
    return one(db, "SELECT role FROM bec_members WHERE pubkey=?", pk)


def token_secret(tok):
    raw = base64.urlsafe_b64decode(tok[7:] + "=" * (-len(tok[7:]) % 4))
    return raw[32 + 8 + 1:32 + 8 + 1 + 16]


def test_sql_sync():
    a = R.origin("a.db")
    a.execute("INSERT INTO todos VALUES('1', 'first', 0)")
    tok = one(a, "SELECT bec_invite('member')")
    T.check(tok.startswith("becinv1") and len(tok) < 100, "a short token: %r" % tok)
    T.eq(one(a, "SELECT state FROM bec_invites"), "open", "the invitation is open")
    b, bpk = fresh("b.db")
    T.eq(one(b, "SELECT bec_join(?)", tok), one(a, "SELECT bec_group_id()"),
         "bec_join(token) joins the token's group")
    T.eq(one(b, "SELECT state FROM bec_joins"), "waiting", "the newcomer waits")
    T.check(one(b, "SELECT bec_invite_redemption()") is not None, "a redemption to present")
    # The inviter offers first: the newcomer's reply carries the redemption.
    sql_sync(a, b)
    T.eq(role_of(a, bpk), "member", "the inviter added the newcomer")
    T.eq(role_of(b, bpk), "member", "the newcomer received its add in the same session")
    T.eq(one(b, "SELECT state FROM bec_joins"), "member", "bec_joins says member")
    T.eq(one(b, "SELECT bec_invite_redemption()"), None, "nothing left to present")
    inv = a.execute("SELECT state, used_by, used_op FROM bec_invites").fetchone()
    T.eq(inv[0], "used", "the invitation is used")
    T.eq(inv[1], bpk, "used by the newcomer's key")
    T.eq(one(a, "SELECT kind FROM bec_ops WHERE hash=?", inv[2]), "add", "used_op is the add op")
    T.eq(one(b, "SELECT title FROM todos WHERE id='1'"), "first", "the newcomer reads the history")
    b.execute("INSERT INTO todos VALUES('2', 'from b', 0)")
    sql_sync(b, a, "b", "a")
    T.eq(one(a, "SELECT title FROM todos WHERE id='2'"), "from b", "the newcomer's write is valid")
    n_ops = one(a, "SELECT count(*) FROM bec_ops")
    # The same key presenting it again adds nothing twice.
    T.eq(one(a, "SELECT bec_invite_redeem(?)", one(b, "SELECT redemption FROM bec_store_join")),
         None, "a second presentation by the same key")
    T.eq(one(a, "SELECT count(*) FROM bec_ops WHERE kind='add'"), 1, "one add op only")

    # A leaked used token: another key gets nothing.
    c, cpk = fresh("c.db")
    c.execute("SELECT bec_join(?)", (tok,))
    sql_sync(c, a, "c", "a")
    T.eq(role_of(a, cpk), None, "a used token adds no other key")
    T.eq(one(a, "SELECT count(*) FROM bec_ops"), n_ops, "no op was signed")
    T.check("already used" in (one(a, "SELECT refusal FROM bec_invites") or ""),
            "the refusal is kept with the invitation")
    T.check("already used" in (one(a, "SELECT last_error FROM bec_peers WHERE peer='c'") or ""),
            "and in bec_peers for that peer")
    T.eq(one(c, "SELECT count(*) FROM bec_ops"), n_ops, "c still received the history (SQL sync is not gated)")
    T.eq(one(c, "SELECT state FROM bec_joins"), "waiting", "c still waits")

    # Revoked and expired invitations do nothing.
    tok2 = one(a, "SELECT bec_invite('admin', 3600)")
    inv2 = one(a, "SELECT invite FROM bec_invites WHERE state='open'")
    T.eq(one(a, "SELECT bec_invite_revoke(?)", inv2), 1, "revoked")
    d, dpk = fresh("d.db")
    d.execute("SELECT bec_join(?)", (tok2,))
    sql_sync(d, a, "d", "a")
    T.eq(role_of(a, dpk), None, "a revoked invitation adds nobody")
    T.check("revoked" in one(a, "SELECT refusal FROM bec_invites WHERE invite=?", inv2), "says revoked")
    tok3 = one(a, "SELECT bec_invite('member', 60)")
    inv3 = one(a, "SELECT invite FROM bec_invites WHERE state='open'")
    e, epk = fresh("e.db")
    e.execute("SELECT bec_join(?)", (tok3,))
    a.execute("UPDATE bec_store_invite SET expires=unixepoch()-1 WHERE invite=?", (bytes.fromhex(inv3),))
    sql_sync(e, a, "e", "a")
    T.eq(role_of(a, epk), None, "an expired invitation adds nobody")
    T.eq(one(a, "SELECT state FROM bec_invites WHERE invite=?", inv3), "expired", "shows expired")

    # Not the inviter: a member that did not issue it ignores it.  The
    # token tells the newcomer where to sync.
    tok4 = one(a, "SELECT bec_invite('member', NULL, 'relay.example.org:7000,10.0.0.2:7000')")
    f, fpk = fresh("f.db")
    f.execute("SELECT bec_join(?)", (tok4,))
    sql_sync(f, b, "f", "b")
    T.eq(role_of(b, fpk), None, "another replica does not add")
    T.eq(one(b, "SELECT count(*) FROM bec_invites"), 0, "and holds no invitation")
    T.eq(one(f, "SELECT relays FROM bec_joins"), "relay.example.org:7000,10.0.0.2:7000",
         "bec_joins shows the relays of the token")
    T.eq(one(f, "SELECT inviter FROM bec_joins"), one(a, "SELECT bec_pubkey()")[:16],
         "and the inviter's key prefix")
    sql_sync(f, a, "f", "a")
    T.eq(role_of(a, fpk), "member", "the inviter does, later")
    sql_sync(a, b)
    T.eq(role_of(b, fpk), "member", "and the add reaches everyone")
    T.eq(one(a, "SELECT bec_check()"), "ok", "bec_check on the inviter")
    T.eq(one(f, "SELECT bec_check()"), "ok", "bec_check on the newcomer")

    # No secret at rest: neither file holds the one-time secret.
    for name, db, t in (("a.db", a, tok4), ("f.db", f, tok4), ("b.db", b, tok)):
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        data = open(os.path.join(R.dir, name), "rb").read()
        T.check(token_secret(t) not in data, "%s does not hold the invitation's secret" % name)
        T.check(t.encode() not in data, "%s does not hold the token" % name)


def test_refusals():
    a = R.origin("ra.db", decl=None)
    m, mpk = fresh("rm.db")
    m.execute("SELECT bec_join(?)", (one(a, "SELECT bec_group_id()"),))
    a.execute("SELECT bec_add_member(?, 'member')", (mpk,))
    sql_sync(a, m, "a", "m")
    T.raises(lambda: m.execute("SELECT bec_invite('member')"), "not an admin",
             "a member cannot invite")
    T.raises(lambda: a.execute("SELECT bec_invite('owner')"), "the role must be",
             "an unknown role")
    T.raises(lambda: a.execute("SELECT bec_invite('member', 0)"), "seconds",
             "a validity of 0 seconds")
    T.raises(lambda: a.execute("SELECT bec_invite('member', 'soon')"), "seconds",
             "a validity that is not a number")
    T.raises(lambda: a.execute("SELECT bec_invite('member', 60, 'a b')"), "printable",
             "relays with a space")
    T.raises(lambda: a.execute("SELECT bec_invite('member', 60, ?)", ("r" * 201,)), "200 bytes",
             "relays too long")
    tok = one(a, "SELECT bec_invite('member')")
    n, _ = fresh("rn.db")
    T.raises(lambda: n.execute("SELECT bec_join('becinv1!!!')"), "damaged", "bad base64")
    T.raises(lambda: n.execute("SELECT bec_join(?)", (tok[:-5],)), "damaged", "a cut token")
    T.raises(lambda: n.execute("SELECT bec_join('hello')"), "invitation token",
             "neither a token nor a group id")
    bad_role = bytearray(base64.urlsafe_b64decode(tok[7:] + "=" * (-len(tok[7:]) % 4)))
    bad_role[40] = 9
    forged = "becinv1" + base64.urlsafe_b64encode(bytes(bad_role)).decode().rstrip("=")
    T.raises(lambda: n.execute("SELECT bec_join(?)", (forged,)), "damaged", "an unknown role byte")
    nokey = connect(R.path("nokey.db"))
    T.raises(lambda: nokey.execute("SELECT bec_join(?)", (tok,)), "bec_keygen",
             "a replica without a key is told to make one")
    other = R.origin("other.db", decl=None)
    T.raises(lambda: other.execute("SELECT bec_join(?)", (tok,)), "another group",
             "a database of another group")
    # Hostile redemptions at the inviter.
    T.raises(lambda: a.execute("SELECT bec_invite_redeem(x'00')"), "128-byte",
             "a short redemption")
    n.execute("SELECT bec_join(?)", (tok,))
    red = bytearray(one(n, "SELECT bec_invite_redemption()"))
    red[100] ^= 1
    T.raises(lambda: a.execute("SELECT bec_invite_redeem(?)", (bytes(red),)), "not signed",
             "a forged signature is refused")
    red = bytearray(one(n, "SELECT bec_invite_redemption()"))
    red[40] ^= 1      # another newcomer key under the same signature
    T.raises(lambda: a.execute("SELECT bec_invite_redeem(?)", (bytes(red),)), "not signed",
             "a redemption cannot be moved to another key")
    T.eq(one(a, "SELECT bec_invite_redeem(?)", bytes(64) + bytes(64)), None,
         "an unknown invitation is not this replica's business")
    good = one(n, "SELECT bec_invite_redemption()")
    h = one(a, "SELECT bec_invite_redeem(?)", good)
    T.eq(one(a, "SELECT kind FROM bec_ops WHERE hash=?", h), "add", "redeemed: an add op")
    T.eq(one(a, "SELECT bec_invite_redeem(?)", good), None, "again: nothing more")
    # Malformed INVITE field in a sync message.
    offer = bytearray(one(n, "SELECT bec_sync_offer('a')"))
    T.check(offer[1] & 0x20, "the waiting newcomer's offer carries the INVITE flag")
    T.raises(lambda: a.execute("SELECT bec_sync_apply('n', ?)", (bytes(offer[:40]),)),
             "malformed sync message", "a truncated invitation field")


def test_becsync():
    import time
    a = R.origin("sa.db")
    a.execute("INSERT INTO todos VALUES('1', 'over tcp', 0)")
    tok = one(a, "SELECT bec_invite('member')")
    a.close()
    b, bpk = fresh("sb.db")
    b.execute("SELECT bec_join(?)", (tok,))
    b.close()
    port = free_port()
    srv = subprocess.Popen([BECSYNC, "--quiet", "serve", os.path.join(R.dir, "sa.db"),
                            "--listen", "127.0.0.1:%d" % port], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT)
    try:
        p = None
        for _ in range(50):
            p = subprocess.run([BECSYNC, "--quiet", "sync", os.path.join(R.dir, "sb.db"),
                                "127.0.0.1:%d" % port], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=30)
            if p.returncode != 3:
                break
            time.sleep(0.1)
        T.eq(p.returncode, 0, "becsync with a redemption: %s" % p.stdout.decode(errors="replace"))
        # The server's log names the new member by its display name.
        b = connect(os.path.join(R.dir, "sb.db"))
        b.execute("SELECT bec_set_name(?)", ('Bob "the" newcomer',))
        b.close()
        for _ in range(2):
            subprocess.run([BECSYNC, "--quiet", "sync", os.path.join(R.dir, "sb.db"),
                            "127.0.0.1:%d" % port], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=30)
        c, cpk = fresh("sc.db")
        c.execute("SELECT bec_join(?)", (tok,))
        c.close()
        q = subprocess.run([BECSYNC, "--quiet", "sync", os.path.join(R.dir, "sc.db"),
                            "127.0.0.1:%d" % port], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=30)
        out = q.stdout.decode(errors="replace")
        T.eq(q.returncode, 4, "a used token is refused by becsync: " + out)
        T.check("already used" in out, "and says why: " + out)
    finally:
        srv.terminate()
        srv.wait(timeout=10)
    log = srv.stdout.read().decode(errors="replace")
    T.check(re.search(r"INFO 127\.0\.0\.1:\d+ %s - added %s\.\.\. by its invitation" % (bpk[:16], bpk[:16]),
                      log) is not None, "the server logs the add: %r" % log)
    T.check(re.search(r'INFO 127\.0\.0\.1:\d+ %s "Bob \\"the\\" newcomer" in sync' % bpk[:16], log)
            is not None, "and names the member in its lines, quoted: %r" % log)
    b = connect(os.path.join(R.dir, "sb.db"))
    T.eq(role_of(b, bpk), "member", "the newcomer left as a member")
    T.eq(one(b, "SELECT count(*) FROM bec_ops"), one(connect(os.path.join(R.dir, "sa.db")),
         "SELECT count(*) FROM bec_ops"), "and with every op")
    T.eq(one(b, "SELECT title FROM todos WHERE id='1'"), "over tcp", "and with the data")
    c = connect(os.path.join(R.dir, "sc.db"))
    T.eq(one(c, "SELECT count(*) FROM bec_ops"), 0, "the refused key got nothing")


def test_encrypted_group():
    a = connect(R.path("ea.db"))
    one(a, "SELECT bec_keygen()")
    one(a, "SELECT bec_create_group('encrypted')")
    a.execute("CREATE VIRTUAL TABLE notes USING bec(id INTEGER PRIMARY KEY, body TEXT)")
    a.execute("INSERT INTO notes VALUES(1, 'secret plan')")
    tok = one(a, "SELECT bec_invite('member')")
    n, npk = fresh("en.db")
    n.execute("SELECT bec_join(?)", (tok,))
    sql_sync(n, a, "n", "a")
    T.eq(role_of(n, npk), "member", "an invitation works in an encrypted group")
    T.eq(one(a, "SELECT count(*) FROM bec_ops WHERE kind='keyshare'") >= 1, True,
         "the inviter's add is followed by the newcomer's keys, as bec_add_member's is")
    T.eq(one(n, "SELECT body FROM notes WHERE id=1"), "secret plan",
         "the newcomer reads the encrypted history after one session")


test_sql_sync()
test_encrypted_group()
test_refusals()
test_becsync()
R.cleanup()
T.done()
