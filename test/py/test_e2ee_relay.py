"""test_e2ee_relay.py - a relay that is not a member (issue 15, E2EE.md
section 9): bec_join(group_id) on a replica no one added stores and
forwards an encrypted group's ops, and becsync members accept it only when
its key is pinned (--relay-key, or "relay-key" in run's config).

- Two members that only ever sync with the relay (becsync serve on the
  relay's file, each member `becsync sync --relay-key`) converge: both read
  each other's rows, hold the same ops and heads, bec_check ok.
- Without the pin a member refuses the relay (exit 4, "not a member").
- The relay's database file, and every op it holds, contain no byte of the
  table name, column names, keys or values; it shows no table, lists the
  schema and writes as locked ("no key"), holds no seed.
- bec_columns at a member opens the encrypted create op; the relay has none.
- The relay cannot write: bec_sign, bec_rekey, bec_add_member, a table are
  refused; bec_heal signs nothing; an op signed with the relay's key and
  given to a member is rejected.
- Hostile input to the relay is refused as at any replica: a flipped bit,
  a plaintext write in the encrypted group, an envelope naming an op that is
  not an epoch, an epoch block that does not parse; nothing is stored.
- The relay serves only current members: a stranger is refused by it.
- becsync heals: a newcomer added while another admin rotated gets that
  epoch from the keyshare the admin's becsync session signed (no bec_heal
  call), and reads the admin's row.
- bec_sync_peer_allowed(peer, pin): the pin is allowed in an encrypted group
  and an error in a plaintext one; becsync --relay-key on a plaintext group
  exits 1 with the reason before any session; the run config's relay-key
  line pins the relay too (a live session converges), and a bad value is an
  error naming the line.
"""
import os
import signal
import subprocess
import time

import becwire
from bectest import EXT, T, Replicas, connect, free_port, one, ship, wait_for, pub

BECSYNC = os.path.join(os.path.dirname(EXT), "becsync")
R = Replicas("bec_e2ee_relay_")
procs = []
MARKERS = [b"zebratable", b"giraffecol", b"okapikey-7", b"narwhal-secret-value"]


def group(db):
    return bytes.fromhex(one(db, "SELECT bec_group_id()"))


def heads(db):
    return [bytes.fromhex(h) for (h,) in db.execute("SELECT hash FROM bec_heads")]


def key_of(db):
    with open(one(db, "SELECT bec_key_file()"), "rb") as f:
        return becwire.Key(f.read()[11:])


def file_bytes(path):
    out = b""
    for s in ("", "-wal", "-journal"):
        if os.path.exists(path + s):
            with open(path + s, "rb") as f:
                out += f.read()
    return out


def rows(db):
    try:
        return sorted(db.execute("SELECT * FROM zebratable").fetchall())
    except Exception:
        return None


def ops(db):
    return sorted(h for (h,) in db.execute("SELECT hash FROM bec_ops"))


def serve(name):
    port = free_port()
    err = open(os.path.join(R.dir, "serve%d.err" % port), "w+")
    p = subprocess.Popen([BECSYNC, "--quiet", "serve", os.path.join(R.dir, name),
                          "--listen", "127.0.0.1:%d" % port],
                         stdout=subprocess.DEVNULL, stderr=err)
    procs.append(p)
    wait_for(lambda: (err.seek(0), "serving on" in err.read())[1] or p.poll() is not None, 10)
    return port


def sync(name, port, *opts):
    r = subprocess.run([BECSYNC, "--quiet", "sync", os.path.join(R.dir, name),
                        "127.0.0.1:%d" % port] + list(opts),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    return r.returncode, (r.stdout + r.stderr).decode(errors="replace")


def setup():
    a = connect(R.path("a"))
    a.execute("SELECT bec_keygen()")
    a.execute("SELECT bec_create_group('encrypted')")
    b = R.joined(a, "b")
    a.execute("SELECT bec_add_member(?, 'member')", (pub(b),))
    r = R.joined(a, "r")
    a.execute("CREATE VIRTUAL TABLE zebratable USING bec(okapi TEXT PRIMARY KEY, "
              "giraffecol TEXT)")
    return a, b, r


def test_members_through_relay():
    a, b, r = setup()
    port = serve("r")
    rk = pub(r)
    code, out = sync("a", port)
    T.eq(code, 4, "without the pin a member refuses the relay (exit 4)")
    T.check("not a member" in out, "and says why: %r" % out[-200:])
    T.eq(one(r, "SELECT count(*) FROM bec_ops"), 0, "nothing moved")

    a.execute("INSERT INTO zebratable VALUES('okapikey-7', 'narwhal-secret-value')")
    T.eq(sync("a", port, "--relay-key", rk)[0], 0, "A syncs with the pinned relay")
    T.eq(sync("b", port, "--relay-key", rk)[0], 0, "B syncs with the pinned relay")
    T.eq(rows(b), [("okapikey-7", "narwhal-secret-value")], "B reads A's row through the relay")
    b.execute("INSERT INTO zebratable VALUES('b-key', 'from B')")
    T.eq(sync("b", port, "--relay-key", rk)[0], 0, "B pushes")
    T.eq(sync("a", port, "--relay-key", rk)[0], 0, "A pulls")
    T.eq(sync("b", port, "--relay-key", rk)[0], 0, "B pulls A's heal, if any")
    T.eq(rows(a), rows(b), "A and B converge through the relay")
    T.eq(len(rows(a)), 2, "both rows")
    T.eq(ops(a), ops(b), "same ops")
    T.eq(ops(r), ops(a), "the relay holds every op")
    T.eq(sorted(heads(a)), sorted(heads(b)), "same heads")
    for x in (a, b, r):
        T.eq(one(x, "SELECT bec_check()"), "ok", "bec_check")

    T.eq(b.execute("SELECT name, merge FROM bec_columns WHERE tbl='zebratable' ORDER BY cid").fetchall(),
         [("okapi", "key"), ("giraffecol", "lww")], "bec_columns opens the encrypted create op")
    T.eq(one(r, "SELECT count(*) FROM bec_columns"), 0, "the relay has no columns to show")
    # What the relay holds: ciphertext only.
    T.eq(rows(r), None, "the relay shows no table")
    T.eq(sorted(x for (x,) in r.execute("SELECT reason FROM bec_locked")),
         ["no key"] * 3, "schema and both writes locked at the relay")
    T.eq(one(r, "SELECT sum(i_hold) FROM bec_epochs"), 0, "the relay holds no seed")
    r.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    blob = file_bytes(os.path.join(R.dir, "r"))
    bodies = [bb for (bb,) in r.execute("SELECT body FROM bec_ops")]
    for m in MARKERS:
        T.check(m not in blob, "the relay's file does not hold %r" % m)
        T.check(not any(m in bb for bb in bodies), "no op at the relay holds %r" % m)

    # The relay cannot write.
    for sql, why, what in (("SELECT bec_sign(x'01')", "not a member", "bec_sign"),
                           ("SELECT bec_rekey()", "not a member", "bec_rekey"),
                           ("SELECT bec_add_member('%s', 'member')" % rk, "not an admin",
                            "bec_add_member"),
                           ("CREATE VIRTUAL TABLE t2 USING bec(id INTEGER PRIMARY KEY)", "not a member",
                            "a table")):
        T.raises(lambda: r.execute(sql).fetchall(), why, "the relay cannot write: " + what)
    T.eq(one(r, "SELECT bec_heal()"), 0, "heal on the relay signs nothing")
    T.eq(ops(r), ops(a), "the relay signed nothing")
    kr = key_of(r)
    forged = becwire.make_op(kr, "app", heads(a), b"relay writes", group(a))
    T.raises(lambda: one(a, "SELECT bec_ingest(?)", forged), "unauthorized",
             "an op signed with the relay's key is rejected by a member")
    T.eq(one(a, "SELECT count(*) FROM bec_ops WHERE author=?", rk), 0, "and not stored")

    # Hostile input to the relay.
    n = one(r, "SELECT count(*) FROM bec_ops")
    ka = key_of(a)
    body = one(a, "SELECT body FROM bec_ops WHERE kind='write' ORDER BY rowid DESC LIMIT 1")
    flipped = bytearray(body)
    flipped[-7] ^= 1
    create = bytes.fromhex(one(a, "SELECT hash FROM bec_ops WHERE kind='create'"))
    schema = bytes.fromhex(one(a, "SELECT hash FROM bec_ops WHERE kind='schema'"))
    plain = becwire.write_payload([schema], [(0, ["k"], {1: "v"})])
    env = bytes([0xE2]) + becwire.uvarint(1) + create + os.urandom(24) + os.urandom(256 + 16)
    hostile = [
        (bytes(flipped), "", "a flipped bit"),
        (becwire.make_op(ka, "write", heads(a), plain, group(a)), "plaintext table op",
         "plaintext write"),
        (becwire.make_op(ka, "write", heads(a), env, group(a)), "not an epoch op",
         "an envelope naming a create op"),
        (becwire.make_op(ka, "rekey", heads(a), b"\x01" + bytes(40), group(a)), "bad epoch block",
         "a bad epoch block"),
    ]
    for op, why, what in hostile:
        T.raises(lambda: one(r, "SELECT bec_ingest(?)", op), why, "the relay refuses " + what)
    T.eq(one(r, "SELECT count(*) FROM bec_ops"), n, "the relay stored none of them")
    T.check(one(r, "SELECT count(*) FROM bec_rejected") >= 4, "and logged them")

    # The relay serves current members only.
    s = R.joined(a, "s")
    code, out = sync("s", port, "--relay-key", rk)
    T.eq(code, 4, "the relay refuses a stranger (exit 4)")
    return a, b, r


def test_pin_rules(a, r):
    rk = pub(r)
    T.eq(one(a, "SELECT bec_sync_peer_allowed(?, ?)", rk, rk), 1, "the pin in an encrypted group")
    T.eq(one(a, "SELECT bec_sync_peer_allowed(?)", rk), 0, "without it, the relay is no member")
    T.eq(one(a, "SELECT bec_sync_peer_allowed(?, ?)", pub(a), rk), 1, "members still allowed")
    p = connect(R.path("p"))
    p.execute("SELECT bec_keygen()")
    p.execute("SELECT bec_create_group()")
    T.raises(lambda: one(p, "SELECT bec_sync_peer_allowed(?, ?)", rk, rk), "not encrypted",
             "the pin in a plaintext group is an error")
    port = serve("r")
    code, out = sync("p", port, "--relay-key", rk)
    T.eq(code, 1, "becsync --relay-key on a plaintext group exits 1")
    T.check("not encrypted" in out, "with the reason: %r" % out[-300:])
    code, out = sync("a", port, "--relay-key", "zz")
    T.eq(code, 1, "a bad --relay-key is a usage error")

    # run's config: a relay-key line pins the relay of a live session.
    cfg = os.path.join(R.dir, "run.conf")
    with open(cfg, "w") as f:
        f.write("database = p\npeer = 127.0.0.1:%d\nrelay-key = %s\n" % (port, rk))
    rr = subprocess.run([BECSYNC, "run", cfg], stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE, timeout=30)
    T.eq(rr.returncode, 1, "run refuses relay-key for a plaintext group")
    T.check(b"not encrypted" in rr.stderr, "with the reason")
    with open(cfg, "w") as f:
        f.write("database = a\npeer = 127.0.0.1:%d\nrelay-key = 12\n" % port)
    rr = subprocess.run([BECSYNC, "run", cfg], stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE, timeout=30)
    T.eq(rr.returncode, 1, "a bad relay-key line is an error")
    T.check(b"run.conf:3: relay-key" in rr.stderr, "naming the line: %r" % rr.stderr[-200:])
    with open(cfg, "w") as f:
        f.write("database = a\npeer = 127.0.0.1:%d\nrelay-key = %s\n" % (port, rk))
    log = open(os.path.join(R.dir, "run.log"), "w+")
    p_run = subprocess.Popen([BECSYNC, "run", cfg], stdout=log, stderr=subprocess.STDOUT)
    procs.append(p_run)
    a.execute("INSERT INTO zebratable VALUES('live', 'via run')")
    ok = wait_for(lambda: one(r, "SELECT count(*) FROM bec_ops") == one(a, "SELECT count(*) FROM bec_ops"), 20, 0.1)
    T.check(ok, "run with the relay-key line pushes to the relay")
    p_run.send_signal(signal.SIGTERM)
    try:
        T.eq(p_run.wait(timeout=20), 0, "run ends cleanly on SIGTERM")
    except subprocess.TimeoutExpired:
        T.check(False, "run ends on SIGTERM")
    log.seek(0)
    T.check("not a member" not in log.read(), "no refusal in run's log")


def test_heal_through_becsync():
    """becsync heals as SQL sync does (bec_sync_apply runs heal): E, added by
    A while B rotated, lacks B's epoch; B's next becsync session with the
    relay hands it a keyshare, and E, syncing only with the relay, then
    reads B's row.  Nobody calls bec_heal()."""
    a = connect(R.path("ha"))
    a.execute("SELECT bec_keygen()")
    a.execute("SELECT bec_create_group('encrypted')")
    b, e, r = (R.joined(a, n) for n in ("hb", "he", "hr"))
    a.execute("SELECT bec_add_member(?, 'admin')", (pub(b),))
    a.execute("CREATE VIRTUAL TABLE zebratable USING bec(okapi TEXT PRIMARY KEY, giraffecol TEXT)")
    port = serve("hr")
    rk = pub(r)
    T.eq(sync("ha", port, "--relay-key", rk)[0], 0, "A pushes the group to the relay")
    T.eq(sync("hb", port, "--relay-key", rk)[0], 0, "B pulls it")
    a.execute("SELECT bec_add_member(?, 'member')", (pub(e),))
    eb = one(b, "SELECT bec_rekey()")
    b.execute("INSERT INTO zebratable VALUES('healed-key', 'after the rotation')")
    T.eq(sync("ha", port, "--relay-key", rk)[0], 0, "A pushes the add")
    T.eq(sync("hb", port, "--relay-key", rk)[0], 0, "B pushes its rotation, pulls the add")
    T.eq(sync("hb", port, "--relay-key", rk)[0], 0, "B pushes what its sync healed")
    T.eq(sync("he", port, "--relay-key", rk)[0], 0, "E syncs with the relay")
    T.eq(one(e, "SELECT i_hold FROM bec_epochs WHERE epoch=?", eb), 1,
         "E holds B's epoch")
    T.check(one(e, "SELECT count(*) FROM bec_ops WHERE kind='keyshare' AND author=?", pub(b)) >= 1,
            "from a keyshare B's becsync session signed")
    T.eq(rows(e), [("healed-key", "after the rotation")], "E reads B's row")
    T.eq(one(e, "SELECT count(*) FROM bec_locked"), 0, "nothing locked at E")


try:
    a, b, r = test_members_through_relay()
    test_pin_rules(a, r)
    test_heal_through_becsync()
finally:
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()
R.cleanup()
T.done()
