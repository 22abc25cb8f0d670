"""test_e2ee.py - end-to-end encryption (issue 15, ../shared/E2EE.md):
member encryption keys, epochs and their keys, as multi-replica scenarios
in several delivery orders.

- bec_create_group('encrypted') makes create + encrypt; the creator holds
  the first epoch; other modes are refused; bec_encrypt_group() is for
  admins, once; bec_rekey() needs an encrypted group.
- A removal rotates: the removed member, holding every op, lacks the new
  epoch's seed; the others hold it; holders exclude it (forward and
  reverse delivery).
- Two concurrent removals (A removes C || B removes D): both epochs are
  current everywhere; C holds only B's, D only A's; the holders of the
  current epochs together exclude C and D.
- A removed member's own concurrent rekey is invalid and never current.
- A newcomer after e0 -> e1 -> e2 holds every epoch (back lists), and the
  member removed at e1 holds neither e1 nor e2.
- Heal: A adds E || B removes D; E lacks B's epoch until a keyshare, which
  bec_heal() signs (and bec_sync_apply runs heal by itself).
- Split view: a Byzantine admin seals a wrong seed to B: B has no key
  (bad commitment), asks, is healed; holders agree on every replica.
- A split view where every member gets an uncommitted seed, and a write
  under it: 'bad commitment' at every member alike (without the commitment
  check they would read it), heal cannot repair it, the next honest writer
  rotates past it.
- A relay (joined, never added) stores every op and holds no seed.
- A key with no X25519 form is refused by bec_add_member and at acceptance.
- Keyless acceptance: a malformed epoch block, a rekey in a plaintext
  group, a keyshare naming a non-epoch are rejected.
- Encrypted schema and write ops: members read them, relays store and
  forward them and no op, sync message or relay database file holds a
  table name, column name, key or value; a removed member reads rows up to
  and concurrent with its removal, never later ones (locked: no key), and
  a relay's bec_locked lists the valid encrypted ops only; a
  write after two concurrent removals names both epochs; a newcomer reads
  the whole history; a locked write is applied when a keyshare arrives; a
  bad seed locks with 'bad commitment' until heal; a ciphertext re-signed by
  another member is undecryptable at every holder; a flipped bit is
  rejected; plaintext table ops in an encrypted group (and envelopes in a
  plaintext one) are refused; a leaver is rotated out by the next writer.
- Random writes, rekeys and a removal in random delivery orders converge:
  after heal the current members show the same rows and nothing locked,
  and a replica with the same ops and seeds shows the same state.
- The safety rule a connection remembers is asked again after another
  connection's write, a removal or a leave arriving by sync, another
  member's rekey, and a rollback (then writes name the right epochs and a
  removed member reads none of them); a rolled-back seed takes the
  connection's write key with it (the next write under it stays locked).
- bec_encrypt_group() midway: a write concurrent with the encrypt op stays
  plaintext and applies everywhere, later ones are envelopes (both orders).
- Scenario 7: a counter-removal that lost on seniority: a write under the
  losing epoch is locked at the winner until a sync heals it; later writes
  name only the winner's epoch; the loser reads its own epoch's write only.
- Scenario 12: a stolen device key (a copy of the replica and key file)
  reads nothing written after the device is re-enrolled.
- bec_locked is the same set at every member after heal, non-empty too
  (a re-signed ciphertext in the random runs); a removed member's own
  concurrent rekey is named by no honest write; alters of an encrypted
  table (a column added, one renamed) carry no name in clear.
- docs/encryption.md has the guarantees, the limits and the threat model
  table.
- Secrets: the seeds (recovered here from a box with the member's own key)
  and the epoch keys are in no byte of the database file, and in no SQL
  value; a passphrase identity opens its boxes after bec_unlock.
"""
import ctypes
import hashlib
import json
import os
import sqlite3

import becwire
from becwire import sodium, uvarint
from bectest import T, Replicas, bodies, connect, deliver, one, ship, pub

R = Replicas("bec_e2ee_")


def epochs(db):
    """{epoch: (valid, holders, i_hold, current)}"""
    return {e: (v, tuple(json.loads(h)), i, c) for e, v, h, i, c in db.execute(
        "SELECT epoch, valid, holders, i_hold, current FROM bec_epochs")}


def current(db):
    return sorted(e for e, r in epochs(db).items() if r[3])


def holds(db, e):
    return one(db, "SELECT i_hold FROM bec_epochs WHERE epoch=?", e)


def holders(db, e):
    return set(json.loads(one(db, "SELECT holders FROM bec_epochs WHERE epoch=?", e)))


def everyone(*dbs):
    """Every op of every replica to every other (forward order)."""
    for a in dbs:
        for b in dbs:
            if a is not b:
                ship(a, b)


def key_of(db):
    """The becwire.Key of a replica's identity (from its key file)."""
    with open(one(db, "SELECT bec_key_file()"), "rb") as f:
        return becwire.Key(f.read()[11:])


def heads(db):
    return [bytes.fromhex(h) for (h,) in db.execute("SELECT hash FROM bec_heads")]


def group(db):
    return bytes.fromhex(one(db, "SELECT bec_group_id()"))


def ingest(db, op):
    return one(db, "SELECT bec_ingest(?)", op)


def seal(seed, edpk):
    x = ctypes.create_string_buffer(32)
    assert sodium.crypto_sign_ed25519_pk_to_curve25519(x, edpk) == 0
    c = ctypes.create_string_buffer(80)
    sodium.crypto_box_seal(c, seed, ctypes.c_ulonglong(32), x)
    return edpk[:8] + c.raw


def open_box(box, key):
    xs = ctypes.create_string_buffer(32)
    xp = ctypes.create_string_buffer(32)
    sodium.crypto_sign_ed25519_sk_to_curve25519(xs, key.sk)
    sodium.crypto_sign_ed25519_pk_to_curve25519(xp, key.pub)
    m = ctypes.create_string_buffer(32)
    ok = sodium.crypto_box_seal_open(m, box[8:], ctypes.c_ulonglong(80), xp, xs) == 0
    return m.raw if ok else None


def aead(key, nonce, ad, pt):
    c = ctypes.create_string_buffer(len(pt) + 16)
    n = ctypes.c_ulonglong(0)
    sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(
        c, ctypes.byref(n), pt, ctypes.c_ulonglong(len(pt)), ad,
        ctypes.c_ulonglong(len(ad)), None, nonce, key)
    return c.raw


def commit_of(seed):
    return hashlib.blake2b(b"bec-e2ee-commit-v1" + seed, digest_size=32).digest()


def epoch_block(author, grp, seeds):
    """An epoch block whose commit is of seeds[None] and whose box for each
    recipient key r seals seeds.get(r, seeds[None]); an empty back list."""
    k = seeds[None]
    commit = commit_of(k)
    boxes = sorted(seal(seeds.get(r, k), r) for r in seeds if r is not None)
    nonce = os.urandom(24)
    back_key = hashlib.blake2b(b"bec-e2ee-back-v1", digest_size=32, key=k).digest()
    ct = aead(back_key, nonce, b"bec-e2ee-back-v1" + grp + author.pub + commit, b"\x00")
    return (bytes([1]) + commit + uvarint(len(boxes)) + b"".join(boxes) + nonce
            + uvarint(len(ct)) + ct)


def parse_block(p):
    """(commit, [boxes]) of an epoch block."""
    commit = p[1:33]
    n, i = becwire.read_varint(p, 33)
    return commit, [p[i + 88 * j:i + 88 * (j + 1)] for j in range(n)]


def file_bytes(path):
    out = b""
    for s in ("", "-wal", "-journal"):
        if os.path.exists(path + s):
            with open(path + s, "rb") as f:
                out += f.read()
    return out


def sql_blobs(db):
    vals = []
    for (n,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'").fetchall() + \
            [("bec_ops",), ("bec_epochs",), ("bec_members",)]:
        try:
            for row in db.execute('SELECT * FROM "%s"' % n):
                vals.extend(v for v in row if isinstance(v, (bytes, str)))
        except sqlite3.Error:
            pass
    return vals


def group_of_four(tag, encrypted=True):
    """A (creator, admin), B (admin), C and D (members), in sync."""
    a = connect(R.path(tag + "a"))
    a.execute("SELECT bec_keygen()")
    a.execute("SELECT bec_create_group(%s)" % ("'encrypted'" if encrypted else ""))
    b, c, d = (R.joined(a, tag + n) for n in "bcd")
    a.execute("SELECT bec_add_member(?, 'admin')", (pub(b),))
    a.execute("SELECT bec_add_member(?, 'member')", (pub(c),))
    a.execute("SELECT bec_add_member(?, 'member')", (pub(d),))
    for x in (b, c, d):
        ship(a, x)
    return a, b, c, d


# --- turning encryption on ---------------------------------------------------
def test_create_and_encrypt():
    a = connect(R.path("c1"))
    a.execute("SELECT bec_keygen()")
    T.raises(lambda: a.execute("SELECT bec_create_group('secret')"),
             "the mode must be 'encrypted'", "another mode")
    gid = one(a, "SELECT bec_create_group('encrypted')")
    T.eq(gid, one(a, "SELECT bec_group_id()"), "returns the group id")
    T.eq([k for (k,) in a.execute("SELECT kind FROM bec_ops")], ["create", "encrypt"],
         "an encrypted group starts with create + encrypt")
    ep = epochs(a)
    T.eq(len(ep), 1, "one epoch")
    (e, (valid, hold, ihold, cur)), = ep.items()
    T.check(valid == 1 and ihold == 1 and cur == 1 and hold == (pub(a),),
            "the creator holds the first epoch alone: %r" % (ep,))
    T.raises(lambda: a.execute("SELECT bec_encrypt_group()"), "already encrypted",
             "encrypt twice")
    e2 = one(a, "SELECT bec_rekey()")
    T.eq(current(a), [e2], "a rekey becomes the current epoch")
    T.eq(one(a, "SELECT bec_check()"), "ok", "bec_check")

    # A plaintext group: no epochs; rekey refused; encrypt is for admins.
    p, q, _, _ = group_of_four("c2", encrypted=False)
    T.eq(epochs(p), {}, "a plaintext group has no epochs")
    T.raises(lambda: p.execute("SELECT bec_rekey()"), "not encrypted", "rekey in plaintext")
    T.eq(one(p, "SELECT bec_heal()"), 0, "heal in a plaintext group")
    ship(p, q)
    e = one(p, "SELECT bec_encrypt_group()")
    T.eq(current(p), [e], "bec_encrypt_group opens the first epoch")
    T.eq(len(holders(p, e)), 4, "sealed to every current member")
    ship(p, q)
    T.eq(holds(q, e), 1, "a member opens its box")
    # Everything before the encrypt op stays as it was.
    T.eq(one(p, "SELECT count(*) FROM bec_ops WHERE kind='encrypt'"), 1, "one encrypt op")


def test_admin_only():
    a, b, c, d = group_of_four("ad", encrypted=False)
    T.raises(lambda: c.execute("SELECT bec_encrypt_group()"), "admin",
             "a member cannot encrypt the group")
    T.raises(lambda: c.execute("SELECT bec_rekey()"), "not encrypted",
             "rekey needs an encrypted group")


# --- removal rotates ---------------------------------------------------------
def test_removal(reverse):
    tag = "rm%d" % reverse
    a, b, c, d = group_of_four(tag)
    e0 = current(a)[0]
    T.eq(holds(c, e0), 1, "C holds the first epoch")
    a.execute("SELECT bec_remove_member(?)", (pub(c),))
    T.eq([k for (k,) in a.execute("SELECT kind FROM bec_ops ORDER BY rowid DESC LIMIT 2")],
         ["rekey", "remove"], "a removal is followed by a rekey")
    e1 = [e for e in current(a)][0]
    T.check(e1 != e0, "a new epoch")
    for x in (b, c, d):
        ship(a, x, reverse=reverse)
    for x in (a, b, d):
        T.eq(holds(x, e1), 1, "%s: a member holds the new epoch" % tag)
        T.eq(current(x), [e1], "%s: the new epoch is current" % tag)
    T.eq(holds(c, e1), 0, "%s: the removed member, holding every op, lacks it" % tag)
    T.eq(holds(c, e0), 1, "%s: and still holds the old one" % tag)
    T.check(pub(c) not in holders(a, e1) and pub(d) in holders(a, e1),
            "%s: holders exclude the removed member" % tag)
    T.eq(epochs(a), {k: (v[0], v[1], v[2], v[3]) for k, v in epochs(d).items()},
         "%s: A and D agree on the epochs" % tag)
    # A member leaving signs no rekey.
    n = one(d, "SELECT count(*) FROM bec_ops")
    d.execute("SELECT bec_remove_member(?)", (pub(d),))
    T.eq(one(d, "SELECT count(*) FROM bec_ops"), n + 1, "%s: leaving rotates nothing" % tag)


def test_concurrent_removals(order):
    tag = "cc%d" % order
    a, b, c, d = group_of_four(tag)
    ship(a, b)
    a.execute("SELECT bec_remove_member(?)", (pub(c),))
    b.execute("SELECT bec_remove_member(?)", (pub(d),))
    ea = current(a)[0]
    eb = current(b)[0]
    pairs = [(a, b), (b, a)] if order == 0 else [(b, a), (a, b)]
    for x, y in pairs:
        ship(x, y, reverse=bool(order))
    for x in (c, d):
        ship(a, x, reverse=bool(order))
        ship(b, x)
    for x in (a, b, c, d):
        T.eq(current(x), sorted([ea, eb]), "%s: both epochs are current" % tag)
    T.eq((holds(c, ea), holds(c, eb)), (0, 1), "%s: C holds B's epoch only" % tag)
    T.eq((holds(d, ea), holds(d, eb)), (1, 0), "%s: D holds A's epoch only" % tag)
    for x in (a, b):
        T.eq((holds(x, ea), holds(x, eb)), (1, 1), "%s: A and B hold both" % tag)
    both = holders(a, ea) & holders(a, eb)
    T.check(pub(c) not in both and pub(d) not in both and {pub(a), pub(b)} <= both,
            "%s: the holders of both exclude C and D" % tag)
    T.eq(epochs(c), {k: v[:2] + (epochs(c)[k][2],) + v[3:] for k, v in epochs(a).items()},
         "%s: C computes the same holders" % tag)


def test_removed_rekey():
    a, b, c, d = group_of_four("rr")
    c.execute("SELECT bec_rekey()")
    ec = current(c)[0]
    a.execute("SELECT bec_remove_member(?)", (pub(c),))
    ea = current(a)[0]
    everyone(a, b, c, d)
    for x in (a, b, c, d):
        row = epochs(x)[ec]
        T.check(row[0] == 0 and row[3] == 0,
                "C's rekey concurrent with its removal is invalid, never current: %r" % (row,))
        T.eq(current(x), [ea], "only A's epoch is current")
    T.eq(holds(c, ea), 0, "C lacks A's epoch")
    # Honest writers never use C's epoch, although C holds its seed.
    a.execute("CREATE VIRTUAL TABLE todos USING bec(id TEXT PRIMARY KEY, title TEXT)")
    a.execute("INSERT INTO todos VALUES('a', 'by A')")
    ship(a, d)
    d.execute("INSERT INTO todos VALUES('d', 'by D')")
    for x in (a, d):
        T.eq(write_epochs(x), [ea], "a writer names A's epoch, not C's")
    everyone(a, b, c, d)
    T.eq(rows(b), [("a", "by A"), ("d", "by D")], "B reads both writes")
    T.eq((rows(c), sorted(r for _, _, r in locked(c))), (None, ["no key"] * 3),
         "C reads none of them: the schema and both writes are locked")


def test_newcomer_history():
    a, b, c, d = group_of_four("nh")
    e0 = current(a)[0]
    a.execute("SELECT bec_remove_member(?)", (pub(c),))
    e1 = current(a)[0]
    e2 = one(a, "SELECT bec_rekey()")
    e = R.joined(a, "nhe")
    n = one(a, "SELECT count(*) FROM bec_ops")
    a.execute("SELECT bec_add_member(?, 'member')", (pub(e),))
    T.eq([k for (k,) in a.execute("SELECT kind FROM bec_ops ORDER BY rowid DESC LIMIT 2")],
         ["keyshare", "add"], "an add is followed by a keyshare")
    share = one(a, "SELECT payload FROM bec_ops ORDER BY rowid DESC LIMIT 1")
    T.eq(share[0], 1, "one share (the current epoch)")
    everyone(a, b, c, d, e)
    T.eq([holds(e, x) for x in (e0, e1, e2)], [1, 1, 1],
         "the newcomer holds the whole history through back lists")
    T.eq([holds(c, x) for x in (e0, e1, e2)], [1, 0, 0],
         "C removed at e1 holds only e0")
    for x in (e0, e1, e2):
        T.check(pub(e) in holders(a, x), "the newcomer is a holder of every epoch")
    T.eq(one(e, "SELECT bec_heal()"), 0, "nothing to heal")


def test_heal():
    a, b, c, d = group_of_four("hl")
    e = R.joined(a, "hle")
    a.execute("SELECT bec_add_member(?, 'member')", (pub(e),))
    b.execute("SELECT bec_remove_member(?)", (pub(d),))
    eb = current(b)[0]
    everyone(a, b, c, d, e)
    T.eq(current(e), [eb], "B's epoch is current")
    T.eq(holds(e, eb), 0, "the newcomer missed the concurrent rotation")
    T.check(pub(e) not in holders(a, eb), "and is not among its holders")
    n = one(c, "SELECT bec_heal()")
    T.check(n >= 1, "a holder heals: %r" % n)
    ship(c, e)
    T.eq(holds(e, eb), 1, "the newcomer holds it after the keyshare")
    everyone(a, b, c, e)
    for x in (a, b, c, e):
        T.eq(one(x, "SELECT bec_heal()"), 0, "nothing left to heal")
    T.eq(holds(d, eb), 0, "the removed member never does")


def sync(a, a_names_b, b, b_names_a):
    """One sync session, a offers (as test_sync.py)."""
    m = one(a, "SELECT bec_sync_offer(?)", a_names_b)
    n = 0
    while m and n < 100:
        m = one(b, "SELECT bec_sync_apply(?, ?)", b_names_a, m)
        if m:
            m = one(a, "SELECT bec_sync_apply(?, ?)", a_names_b, m)
        n += 1


def test_heal_by_sync():
    """bec_sync_apply heals: a sync alone gives the newcomer the key."""
    a, b, c, d = group_of_four("hs")
    e = R.joined(a, "hse")
    a.execute("SELECT bec_add_member(?, 'member')", (pub(e),))
    b.execute("SELECT bec_remove_member(?)", (pub(d),))
    eb = current(b)[0]
    sync(a, "b", b, "a")
    sync(e, "a", a, "e")
    T.eq(holds(e, eb), 1, "the newcomer holds B's epoch after syncing with A")
    T.check(one(a, "SELECT count(*) FROM bec_ops WHERE kind='keyshare'") >= 2,
            "A healed during the sync")
    sync(e, "a", a, "e")
    T.eq(one(e, "SELECT bec_heal()"), 0, "nothing left to heal")



# --- encrypted schema and write ops ------------------------------------------------
def rows(db, table="todos"):
    try:
        return sorted(db.execute("SELECT * FROM %s" % table).fetchall())
    except sqlite3.Error:
        return None


def locked(db):
    return sorted((o, tuple(json.loads(e)), r) for o, e, r in
                  db.execute("SELECT op, epochs, reason FROM bec_locked"))


def with_table(tag):
    """group_of_four with a table made by A (encrypted schema op)."""
    a, b, c, d = group_of_four(tag)
    a.execute("CREATE VIRTUAL TABLE todos USING bec(id TEXT PRIMARY KEY, title TEXT)")
    for x in (b, c, d):
        ship(a, x)
    return a, b, c, d


def sync_log(a, a_names_b, b, b_names_a, log):
    """A sync session (a offers); every message is appended to log."""
    m = one(a, "SELECT bec_sync_offer(?)", a_names_b)
    n = 0
    while m and n < 100:
        log.append(m)
        m = one(b, "SELECT bec_sync_apply(?, ?)", b_names_a, m)
        if m:
            log.append(m)
            m = one(a, "SELECT bec_sync_apply(?, ?)", a_names_b, m)
        n += 1


SECRETS = [b"todos", b"title", b"topsecret-key", b"classified-value", b"hiddenfield",
           b"renamedsecret", b"altered-value"]


def test_relay_bytes():
    """Scenario 1: C writes r1; everyone syncs only through R."""
    a, b, c, d = group_of_four("rb")
    r = R.joined(a, "rbr")
    log = []
    a.execute("CREATE VIRTUAL TABLE todos USING bec(id TEXT PRIMARY KEY, title TEXT)")
    sync_log(a, "r", r, "a", log)
    for x, n in ((b, "b"), (c, "c"), (d, "d")):
        sync_log(x, "r", r, n, log)
    c.execute("INSERT INTO todos VALUES('topsecret-key', 'classified-value')")
    sync_log(c, "r", r, "c", log)
    for x, n in ((a, "a"), (b, "b"), (d, "d")):
        sync_log(x, "r", r, n, log)
    for x in (a, b, c, d):
        T.eq(rows(x), [("topsecret-key", "classified-value")], "a member reads r1 via the relay")
    # Alters are schema ops too: an added and a renamed column, and a
    # write naming the added column.
    a.execute("SELECT bec_alter('todos', 'ADD COLUMN hiddenfield TEXT')")
    a.execute("SELECT bec_alter('todos', 'RENAME COLUMN title TO renamedsecret')")
    sync_log(a, "r", r, "a", log)
    sync_log(c, "r", r, "c", log)
    c.execute("UPDATE todos SET hiddenfield='altered-value'")
    sync_log(c, "r", r, "c", log)
    for x, n in ((a, "a"), (b, "b"), (d, "d")):
        sync_log(x, "r", r, n, log)
    for x in (a, b, c, d):
        T.eq(rows(x), [("topsecret-key", "classified-value", "altered-value")],
             "a member reads the altered table via the relay")
        T.eq(one(x, "SELECT group_concat(name) FROM pragma_table_info('todos')"),
             "id,renamedsecret,hiddenfield", "and its columns")
    T.eq(rows(r), None, "the relay shows no table")
    T.eq(sorted(r.execute("SELECT kind, encrypted FROM bec_ops WHERE kind IN "
                          "('schema', 'write', 'encrypt')").fetchall()),
         [("encrypt", 0)] + [("schema", 1)] * 3 + [("write", 1)] * 2, "bec_ops.encrypted")
    T.eq(sorted(reason for _, _, reason in locked(r)), ["no key"] * 5,
         "the relay lists the schema, alter and write ops as locked")
    q = "SELECT hash, payload FROM bec_ops WHERE kind IN ('schema', 'write') ORDER BY hash"
    T.eq(a.execute(q).fetchall(), r.execute(q).fetchall(),
         "bec_ops.payload shows the ciphertext, at a member as at the relay")
    T.check(all(p[0] == 0xE2 for _, p in a.execute(q)), "every one an envelope")
    T.eq(one(r, "SELECT count(*) FROM bec_ops"), one(a, "SELECT count(*) FROM bec_ops"),
         "the relay stores and forwards every op")
    bodies = [bb for (bb,) in r.execute("SELECT body FROM bec_ops")]
    T.check(len(log) > 8 and len(bodies) > 8, "messages and ops were seen")
    for sec in SECRETS:
        T.check(not any(sec in m for m in log), "no sync message holds %r" % sec)
        T.check(not any(sec in bb for bb in bodies), "no op holds %r" % sec)
        T.check(sec not in file_bytes(os.path.join(R.dir, "rbr")),
                "the relay's database file does not hold %r" % sec)
    T.eq(one(r, "SELECT bec_check()"), "ok", "bec_check on the relay")


def test_removed_reader(reverse):
    """Scenarios 2 and 3: a removed member reads what was written before or
    concurrently with its removal, never what follows it."""
    tag = "rr%d" % reverse
    a, b, c, d = with_table(tag)
    c.execute("INSERT INTO todos VALUES('r1', 'before')")
    ship(c, a)
    c.execute("INSERT INTO todos VALUES('r4', 'own removal')")   # scenario 4
    b.execute("INSERT INTO todos VALUES('r3', 'concurrent')")
    a.execute("SELECT bec_remove_member(?)", (pub(c),))
    everyone(a, b, c, d)
    b.execute("INSERT INTO todos VALUES('r2', 'after')")
    for x in (a, c, d):
        ship(b, x, reverse=reverse)
    want = [("r1", "before"), ("r2", "after"), ("r3", "concurrent")]
    for x in (a, b, d):
        T.eq(rows(x), want, "%s: members read every row" % tag)
    T.eq(rows(c), [("r1", "before"), ("r3", "concurrent")],
         "%s: the removed member reads r1 and the concurrent r3, not r2" % tag)
    lk = locked(c)
    T.check(len(lk) == 1 and lk[0][2] == "no key", "%s: r2 is locked at C: %r" % (tag, lk))
    T.eq(locked(a), [], "%s: nothing locked at A" % tag)
    for x in (a, b, c, d):
        T.eq(one(x, "SELECT bec_check()"), "ok", "%s: bec_check" % tag)
    # bec_locked lists valid ops only: a relay lists every valid schema and
    # write op (no key), not C's write concurrent with its removal.
    r = R.joined(a, tag + "r")
    ship(a, r, reverse=reverse)
    valid = sorted(h for (h,) in a.execute("SELECT hash FROM bec_ops WHERE kind IN ('schema', "
                                           "'write') AND valid"))
    T.eq(len(valid), 4, "%s: the schema op and r1, r2, r3 are valid (r4 is not)" % tag)
    T.eq([o for o, _, _ in locked(r)], valid, "%s: the relay lists exactly the valid ones" % tag)


def test_concurrent_removals_data():
    """Scenario 5: the write after both removals names both epochs."""
    a, b, c, d = with_table("cd")
    a.execute("SELECT bec_remove_member(?)", (pub(c),))
    b.execute("SELECT bec_remove_member(?)", (pub(d),))
    everyone(a, b)
    n = one(a, "SELECT count(*) FROM bec_ops")
    a.execute("INSERT INTO todos VALUES('w', 'both')")
    T.eq(one(a, "SELECT count(*) FROM bec_ops"), n + 1, "no rekey: the write names both epochs")
    everyone(a, b, c, d)
    for x in (a, b):
        T.eq(rows(x), [("w", "both")], "A and B read it")
    for x in (c, d):
        lk = locked(x)
        T.check(rows(x) == [] and len(lk) == 1 and len(lk[0][1]) == 2 and lk[0][2] == "no key",
                "C and D do not; the op names two epochs: %r" % (lk,))
    T.eq(locked(c), locked(d), "C and D list the same locked op")


def test_newcomer_reads_history():
    a, b, c, d = with_table("nr")
    a.execute("INSERT INTO todos VALUES('r0', 'e0')")
    a.execute("SELECT bec_remove_member(?)", (pub(c),))
    a.execute("INSERT INTO todos VALUES('r1', 'e1')")
    a.execute("SELECT bec_rekey()")
    a.execute("INSERT INTO todos VALUES('r2', 'e2')")
    e = R.joined(a, "nre")
    a.execute("SELECT bec_add_member(?, 'member')", (pub(e),))
    ship(a, e, reverse=True)
    T.eq(rows(e), [("r0", "e0"), ("r1", "e1"), ("r2", "e2")], "the newcomer reads the whole history")
    T.eq(locked(e), [], "nothing locked")
    ship(a, c)
    T.eq(rows(c), [("r0", "e0")], "C, removed at e1, reads only r0")


def test_unlock_by_heal():
    """Scenario 8: A adds E || B removes D; C writes under B's epoch; E has
    it locked until a keyshare arrives, then reads it."""
    a, b, c, d = with_table("ul")
    e = R.joined(a, "ule")
    a.execute("SELECT bec_add_member(?, 'member')", (pub(e),))
    b.execute("SELECT bec_remove_member(?)", (pub(d),))
    ship(b, c)
    c.execute("INSERT INTO todos VALUES('w', 'under B')")
    # E hears of everything but no keyshare yet (ship op by op, no sync).
    for x in (a, b, c):
        ship(x, e)
    T.eq(rows(e), [], "E cannot read C's write yet")
    T.eq([r for _, _, r in locked(e)], ["no key"], "it is locked: no key")
    n = one(a, "SELECT count(*) FROM bec_ops WHERE kind='keyshare'")
    for x in (b, c):
        ship(x, a)
    T.check(one(a, "SELECT bec_heal()") >= 1, "A heals")
    ship(a, e)
    T.eq(rows(e), [("w", "under B")], "the keyshare unlocks the write")
    T.eq(locked(e), [], "nothing locked any more")
    T.eq(one(e, "SELECT bec_check()"), "ok", "bec_check after the unlock")
    ship(c, d)
    ship(b, d)
    T.eq(rows(d), [], "the removed member D never reads it")


def test_split_view_write():
    """Scenario 10 with data: B has a bad seed, the write under it is locked
    with 'bad commitment', and after heal every replica shows the same rows."""
    a, b, c, d = with_table("sw")
    ka = key_of(a)
    grp = group(a)
    k, wrong = os.urandom(32), os.urandom(32)
    seeds = {None: k}
    for x in (a, b, c, d):
        seeds[bytes.fromhex(pub(x))] = k
    seeds[bytes.fromhex(pub(b))] = wrong
    ingest(a, becwire.make_op(ka, "rekey", heads(a), epoch_block(ka, grp, seeds), grp))
    a.execute("INSERT INTO todos VALUES('s', 'split')")
    for x in (b, c, d):
        ship(a, x)
    T.eq([r for _, _, r in locked(b)], ["bad commitment"], "B: bad commitment")
    T.eq(rows(c), [("s", "split")], "C reads it")
    one(b, "SELECT bec_heal()")
    ship(b, a)
    one(a, "SELECT bec_heal()")
    ship(a, b)
    everyone(a, b, c, d)
    for x in (a, b, c, d):
        T.eq(rows(x), [("s", "split")], "every replica shows the row after heal")
        T.eq(locked(x), [], "and nothing locked")


def test_resigned_and_flipped():
    """Scenario 11: B re-signs C's ciphertext: undecryptable at every holder;
    a flipped bit is rejected at acceptance, by the relay too."""
    a, b, c, d = with_table("rs")
    r = R.joined(a, "rsr")
    ship(a, r)
    c.execute("INSERT INTO todos VALUES('c', 'by C')")
    for x in (a, b, d, r):
        ship(c, x)
    body = one(c, "SELECT body FROM bec_ops WHERE kind='write'")
    payload = one(c, "SELECT payload FROM bec_ops WHERE kind='write'")
    kb = key_of(b)
    op = becwire.make_op(kb, "write", heads(b), payload, group(b))
    ingest(b, op)
    for x in (a, c, d, r):
        ingest(x, op)
    for x in (a, b, c, d):
        T.eq([r2 for _, _, r2 in locked(x)], ["undecryptable"],
             "B's copy is undecryptable at every holder")
        T.eq(rows(x), [("c", "by C")], "C's own op still applies")
    T.eq([r2 for _, _, r2 in locked(r)], ["no key"] * 3, "the relay holds no key")
    flipped = bytearray(body)
    flipped[-5] ^= 1
    T.raises(lambda: ingest(r, bytes(flipped)), "", "a flipped bit is rejected")
    T.eq(one(r, "SELECT count(*) FROM bec_rejected"), 1, "and logged")


def test_leaver_rotated_by_writer():
    """A member who leaves signs no rekey; the next writer's safety rule does
    (the leaver still holds the current epoch), and a reader who lacks the
    current epoch gets a keyshare first."""
    a, b, c, d = with_table("lv")
    d.execute("SELECT bec_remove_member(?)", (pub(d),))
    ship(d, a)
    n = one(a, "SELECT count(*) FROM bec_ops")
    a.execute("INSERT INTO todos VALUES('x', 'after D left')")
    T.eq([k for (k,) in a.execute("SELECT kind FROM bec_ops ORDER BY rowid DESC LIMIT 2")],
         ["write", "rekey"], "the writer rotates first")
    T.eq(one(a, "SELECT count(*) FROM bec_ops"), n + 2, "one rekey, one write")
    everyone(a, b, c, d)
    for x in (a, b, c):
        T.eq(rows(x), [("x", "after D left")], "the members read it")
    T.eq(rows(d), [], "the leaver does not")
    # A second write needs no new epoch.
    n = one(a, "SELECT count(*) FROM bec_ops")
    a.execute("INSERT INTO todos VALUES('y', 'same epoch')")
    T.eq(one(a, "SELECT count(*) FROM bec_ops"), n + 1, "no rotation without a reason")


def test_random_convergence(seed):
    """Random writes, rekeys and one removal on four replicas, delivered in
    random partial orders; after everyone has every op and has healed, the
    current members show the same rows, nothing locked, and every replica
    holding the same ops and seeds shows the same bec_locked."""
    import random
    rnd = random.Random(seed)
    tag = "rc%d" % seed
    reps = list(with_table(tag))
    names = "abcd"
    removed = False
    for step in range(40):
        i = rnd.randrange(4)
        x = reps[i]
        act = rnd.random()
        try:
            if act < 0.5:
                x.execute("INSERT OR REPLACE INTO todos VALUES(?, ?)",
                          ("k%d" % rnd.randrange(8), "%s%d" % (names[i], step)))
            elif act < 0.6:
                x.execute("SELECT bec_rekey()")
            elif act < 0.65 and not removed and i in (0, 1):
                x.execute("SELECT bec_remove_member(?)", (pub(reps[3]),))
                removed = True
            else:
                ship(x, reps[rnd.randrange(4)], reverse=rnd.random() < 0.5)
        except sqlite3.Error as e:
            # A removed member may no longer write; nothing else may fail.
            T.check("not" in str(e) and i == 3, "%s step %d: %s" % (tag, step, e))
    # B (an admin, a member throughout) re-signs a ciphertext: undecryptable.
    everyone(reps[0], reps[1])
    pay = one(reps[0], "SELECT payload FROM bec_ops WHERE kind='write' ORDER BY rowid LIMIT 1")
    bad = becwire.make_op(key_of(reps[1]), "write", heads(reps[1]), pay, group(reps[1]))
    ingest(reps[1], bad)
    for _ in range(3):
        everyone(*reps)
        for x in reps:
            one(x, "SELECT bec_heal()")
    everyone(*reps)
    members = reps[:3] if removed else reps
    want = rows(reps[0])
    for j, x in enumerate(members):
        T.eq(rows(x), want, "%s: member %s shows the same rows" % (tag, names[j]))
        T.eq([(o, r) for o, _, r in locked(x)], [(becwire.op_id(bad).hex(), "undecryptable")],
             "%s: member %s lists the same bec_locked set: the re-signed op" % (tag, names[j]))
        T.eq(one(x, "SELECT bec_check()"), "ok", "%s: bec_check" % tag)
    if removed:
        d = reps[3]
        T.eq(one(d, "SELECT bec_check()"), "ok", "%s: bec_check on the removed member" % tag)
    # Same ops and same seeds: a clone shows the same rows and locked set.
    cl = R.clone(reps[3], tag + "clone")
    T.eq((rows(cl), locked(cl)), (rows(reps[3]), locked(reps[3])),
         "%s: a replica with the same ops and seeds shows the same state" % tag)


def test_plaintext_refused():
    a, b, c, d = with_table("pt")
    kc = key_of(c)
    schema = bytes.fromhex(one(a, "SELECT hash FROM bec_ops WHERE kind='schema'"))
    pay = becwire.write_payload([schema], [(0, [becwire.Text(b"k")], {1: becwire.Text(b"v")}, 2)])
    op = becwire.make_op(kc, "write", heads(c), pay, group(c))
    T.raises(lambda: ingest(c, op), "plaintext table op in an encrypted group",
             "a plaintext write in an encrypted group is refused")
    # An envelope in a plaintext group.
    p, q, _, _ = group_of_four("ptp", encrypted=False)
    env = bytes([0xE2, 1]) + bytes(32) + bytes(24) + bytes(272)
    op = becwire.make_op(key_of(p), "write", heads(p), env, group(p))
    T.raises(lambda: ingest(p, op), "encrypted op in a plaintext group",
             "an envelope in a plaintext group is refused")


# --- write='admin' tables in an encrypted group (issue 13) ------------------
def op_state(db):
    """{op: (valid, role, reason)} of every write op db holds."""
    return {h: (v, r, why) for h, v, r, why in db.execute(
        "SELECT hash, valid, role, reason FROM bec_ops WHERE kind='write'")}


def test_admin_table(order):
    """A write to a write='admin' table is marked as an admin op in its
    envelope (0xE3), which every replica reads without the key: X10 (B
    demoted while it writes settings) cancels B's concurrent writes at a
    replica that holds the key and at one that lacks it when they arrive
    and is healed later, alike; a member's op marked as an admin op is
    refused at acceptance by both; an admin's settings write re-signed
    without the mark is stored as a member's op and ignored by the policy
    on every replica, once they can read it."""
    tag = "aw%d" % order
    a, b, c, d = group_of_four(tag)
    a.execute("CREATE VIRTUAL TABLE settings USING bec(k TEXT PRIMARY KEY, v TEXT, write='admin')")
    a.execute("CREATE VIRTUAL TABLE todos USING bec(id TEXT PRIMARY KEY, title TEXT)")
    for x in (b, c, d):
        ship(a, x)
    e = R.joined(a, tag + "e")        # no key: a member added at the end
    b.execute("INSERT INTO settings VALUES('early', 'yes')")
    T.eq(one(b, "SELECT substr(payload, 1, 1) FROM bec_ops WHERE kind='write'"), b"\xe3",
         "an encrypted write to settings is marked (0xE3)")
    ship(b, a)
    b.execute("INSERT INTO settings VALUES('lang', 'fr')")      # concurrent with the demotion
    a.execute("SELECT bec_add_member(?, 'member')", (pub(b),))   # A demotes B
    a.execute("INSERT INTO settings VALUES('tz', 'UTC')")
    c.execute("INSERT INTO todos VALUES('t', 'by C')")
    T.eq(one(c, "SELECT substr(payload, 1, 1) FROM bec_ops WHERE kind='write'"), b"\xe2",
         "a write to another table is not marked")
    lang = one(b, "SELECT body FROM bec_ops WHERE kind='write' ORDER BY rowid DESC LIMIT 1")
    early = one(b, "SELECT body FROM bec_ops WHERE kind='write' ORDER BY rowid LIMIT 1")
    todo = one(c, "SELECT body FROM bec_ops WHERE kind='write'")
    # Hand-made: B's settings write re-signed without the mark, and C's
    # todos write re-signed with it (the same ciphertext: it still opens).
    def flip(db, body, byte):
        pay = one(db, "SELECT payload FROM bec_ops WHERE body=?", body)
        return becwire.make_op(key_of(db), "write", becwire.op_preds(body),
                               bytes([byte]) + pay[1:], group(a))
    unmarked = flip(b, early, 0xE2)
    marked = flip(c, todo, 0xE3)
    ops = list(bodies(a)) + list(bodies(b)) + list(bodies(c)) + [unmarked]
    if order:
        ops.reverse()
    for x in (a, c, e):
        for _ in range(2):            # twice: a refusal for a missing predecessor is retried
            deliver(x, ops)
        T.raises(lambda: ingest(x, marked), "unauthorized: an op marked as a write to a "
                 "write='admin' table", "a member's op marked as an admin op is refused, keys or not")
    T.eq(rows(e, "settings"), None, "E holds every op and reads none yet (not even the table)")
    a.execute("SELECT bec_add_member(?, 'member')", (pub(e),))  # its keyshare heals E
    ship(a, e)
    T.eq(locked(e), [], "E reads everything after its add")
    want = [("early", "yes"), ("tz", "UTC")]
    for x, name in ((a, "A (key held)"), (c, "C (key held)"), (e, "E (healed later)")):
        T.eq(rows(x, "settings"), want, "%s: X10 cancels B's concurrent write" % name)
        T.eq(rows(x, "todos"), [("t", "by C")], "%s: C's own write applies" % name)
    st = op_state(a)
    for x in (c, e):
        mine = op_state(x)
        T.eq({h: mine.get(h) for h in st}, st, "the same valid, role and reason for every write op")
    h_lang, h_unmarked = becwire.op_id(lang).hex(), becwire.op_id(unmarked).hex()
    T.eq(st[h_lang][:2], (0, "admin"), "B's concurrent write: an admin op, cancelled")
    T.check((st[h_lang][2] or "").startswith("membership: "), "with the membership reason: %r" % (st[h_lang],))
    T.eq(st[h_unmarked][:2], (0, None), "the unmarked copy: not an admin op, valid = 0")
    T.eq(st[h_unmarked][2], "ignored: policy: settings is writable by admins only (write='admin') "
         "and the op is not marked as an admin op", "ignored by the policy")
    for x in (a, c, e):
        T.eq(one(x, "SELECT bec_check()"), "ok", "bec_check")


# --- checkpoints in an encrypted group (issue 17) ----------------------------
def test_checkpoint_encrypted():
    """The digest covers rows only key holders read: a replay of the cut
    opens the envelopes with this replica's keys (so the author's bec_check
    and another member that holds a later op agree on R); a relay, and a
    member whose keys have not arrived, leave R unknown (NULL): they attest
    and dispute nothing, agree on sealing, and the member computes R once
    its keyshare arrives."""
    a, b, c, d = with_table("ck")
    a.execute("INSERT INTO todos VALUES('k1', 'in the cut')")
    r = R.joined(a, "ckr")              # a relay: never added, no key
    e = R.joined(a, "cke")              # added later
    k = one(a, "SELECT bec_checkpoint()")
    a.execute("INSERT INTO todos VALUES('k2', 'after the cut')")
    T.eq(one(a, "SELECT bec_check()"), "ok", "the author's bec_check: the replay opens the envelopes")
    for x in (b, c, r, e):
        ship(a, x)
    dig = lambda x: one(x, "SELECT digest FROM bec_checkpoints WHERE checkpoint=?", k)  # noqa: E731
    sealed = lambda x: one(x, "SELECT sealed FROM bec_checkpoints WHERE checkpoint=?", k)  # noqa: E731
    T.check(dig(a) is not None, "the author knows R")
    T.eq(dig(b), dig(a), "a member holding an op after the cut replays it to the same R")
    T.eq((dig(r), dig(e)), (None, None), "without the keys R is unknown (NULL)")
    for x, name in ((r, "relay"), (e, "keyless member-to-be")):
        T.eq(one(x, "SELECT count(*) FROM bec_disputes"), 0, "%s: no dispute listed" % name)
        T.eq(one(x, "SELECT bec_check()"), "ok", "%s: bec_check" % name)
    for x in (b, c):
        ship(x, a)
    for x in (b, c, r, e):
        ship(a, x)
    T.eq(len({one(x, "SELECT count(*) FROM bec_ops") for x in (a, b, c, r, e)}), 1, "the same ops")
    T.eq([sealed(x) for x in (a, b, c, r, e)], [1] * 5, "every replica agrees: sealed")
    T.raises(lambda: r.execute("SELECT bec_prune()"), "has not arrived",
             "a relay does not prune below a cut it cannot read")
    a.execute("SELECT bec_add_member(?, 'member')", (pub(e),))
    ship(a, e)
    one(e, "SELECT bec_attest()")
    T.eq(dig(e), dig(a), "once its keyshare arrives, the member computes R")
    T.eq(one(e, "SELECT bec_check()"), "ok", "and bec_check agrees")
    for x in (a, b, c, e):
        ship(x, r)
        ship(r, x)
    for x in (a, b, c, e, r):
        T.eq(one(x, "SELECT count(*) FROM bec_ops WHERE kind='dispute'"), 0,
             "no replica signed a dispute of an honest attestation")
    T.check(one(e, "SELECT bec_prune()") >= 1, "with the keys, the member may prune")
    T.eq(one(e, "SELECT bec_check()"), "ok", "bec_check after pruning")

# --- split view ----------------------------------------------------------------
def test_split_view():
    a, b, c, d = group_of_four("sv")
    ka = key_of(a)
    grp = group(a)
    k, wrong = os.urandom(32), os.urandom(32)
    members = [bytes.fromhex(pub(x)) for x in (a, b, c, d)]
    seeds = {None: k}
    for m in members:
        seeds[m] = k
    seeds[bytes.fromhex(pub(b))] = wrong
    op = becwire.make_op(ka, "rekey", heads(a), epoch_block(ka, grp, seeds), grp)
    e = becwire.op_id(op).hex()
    ingest(a, op)
    for x in (b, c, d):
        ship(a, x)
    T.eq([holds(x, e) for x in (a, b, c, d)], [1, 0, 1, 1],
         "the seed sealed to B fails the commitment: B has no key")
    T.eq(one(b, "SELECT count(*) FROM bec_store_epoch_bad"), 1, "B notes the bad seed")
    T.eq(one(b, "SELECT bec_heal()"), 1, "B asks for the epoch")
    T.check(pub(b) not in holders(b, e), "a member that asked is no holder")
    ship(b, a)
    T.check(one(a, "SELECT bec_heal()") >= 1, "A answers")
    ship(a, b)
    T.eq(holds(b, e), 1, "B is healed")
    everyone(a, b, c, d)
    h = [epochs(x) for x in (a, b, c, d)]
    T.check(all({k2: v[:2] + v[3:] for k2, v in x.items()}
                == {k2: v[:2] + v[3:] for k2, v in h[0].items()} for x in h),
            "every replica computes the same epochs and holders")
    for x in (a, b, c, d):
        T.eq(one(x, "SELECT bec_check()"), "ok", "bec_check after the heal")


def test_split_view_nobody():
    """A split view where no member gets the committed seed: a Byzantine
    admin seals a seed to everyone that is not the one its epoch commits
    to, and writes under it.  The write is locked with 'bad commitment' at
    every member alike (no replica reads anything from it), heal cannot
    repair it, and the next honest writer rotates past the epoch."""
    a, b, c, d = with_table("sn")
    ka, grp = key_of(a), group(a)
    k, wrong = os.urandom(32), os.urandom(32)
    seeds = {None: k}
    for x in (a, b, c, d):
        seeds[bytes.fromhex(pub(x))] = wrong
    rk = becwire.make_op(ka, "rekey", heads(a), epoch_block(ka, grp, seeds), grp)
    ingest(a, rk)
    e = becwire.op_id(rk)
    schema = bytes.fromhex(one(a, "SELECT hash FROM bec_ops WHERE kind='schema'"))
    pt = becwire.write_payload([schema], [(0, [becwire.Text(b"k")], {1: becwire.Text(b"byzantine")}, 2)])
    padded = pt + b"\x80" + bytes(256 - len(pt) % 256 - 1)
    preds = sorted(heads(a))
    kw = hashlib.blake2b(b"bec-e2ee-epoch-v1" + grp + e, digest_size=32, key=wrong).digest()
    ad = (b"bec-e2ee-ad-v1" + grp + bytes([becwire.KIND["write"]]) + ka.pub + uvarint(len(preds))
          + b"".join(preds) + uvarint(1) + e)
    nonce = os.urandom(24)
    w = becwire.make_op(ka, "write", preds, bytes([0xE2, 1]) + e + nonce + aead(kw, nonce, ad, padded), grp)
    ingest(a, w)
    for x in (b, c, d):
        ship(a, x)
    want = [(becwire.op_id(w).hex(), (e.hex(),), "bad commitment")]
    for x in (a, b, c, d):
        T.eq(holds(x, e.hex()), 0, "no member holds the epoch")
        T.eq(locked(x), want, "the write is locked alike everywhere: bad commitment")
        T.eq(rows(x), [], "and nobody reads it")
    for x in (b, c, d):
        one(x, "SELECT bec_heal()")
    everyone(a, b, c, d)
    for x in (a, b, c, d):
        T.eq(holds(x, e.hex()), 0, "heal cannot give a seed nobody holds")
    n = one(c, "SELECT count(*) FROM bec_ops WHERE kind='rekey'")
    c.execute("INSERT INTO todos VALUES('honest', 'after')")
    T.eq(one(c, "SELECT count(*) FROM bec_ops WHERE kind='rekey'"), n + 1,
         "the next honest writer rotates (it lacks the current seed)")
    everyone(a, b, c, d)
    for x in (a, b, c, d):
        T.eq(rows(x), [("honest", "after")], "every member reads the honest write")
        T.eq(locked(x), want, "the same bec_locked set everywhere")
        T.eq(one(x, "SELECT bec_check()"), "ok", "bec_check")

# --- relays, keys, acceptance --------------------------------------------------
def test_relay_and_acceptance():
    a, b, c, d = group_of_four("ry")
    a.execute("SELECT bec_remove_member(?)", (pub(c),))
    r = R.joined(a, "ryr")
    ship(a, r)
    T.eq(one(r, "SELECT count(*) FROM bec_ops"), one(a, "SELECT count(*) FROM bec_ops"),
         "the relay stores every op")
    T.check(len(epochs(r)) == 2 and all(v[2] == 0 for v in epochs(r).values()),
            "the relay holds no seed")
    T.eq({k: v[:2] + v[3:] for k, v in epochs(r).items()},
         {k: v[:2] + v[3:] for k, v in epochs(a).items()},
         "the relay computes the same holders and current epochs")
    T.eq(one(r, "SELECT bec_heal()"), 0, "heal on a relay does nothing")

    # A key with no X25519 form (the identity point) cannot be added.
    bad = "01" + "00" * 31
    T.raises(lambda: a.execute("SELECT bec_add_member(?, 'member')", (bad,)),
             "cannot receive keys", "bec_add_member refuses a small-order key")
    ka = key_of(a)
    grp = group(a)
    op = becwire.make_op(ka, "add", heads(a), bytes.fromhex(bad) + b"\x02", grp)
    T.raises(lambda: ingest(r, op), "cannot receive keys", "acceptance refuses it")
    # Keyless checks: a malformed block, a keyshare naming a non-epoch op.
    op = becwire.make_op(ka, "rekey", heads(a), b"\x01" + bytes(40), grp)
    T.raises(lambda: ingest(r, op), "bad epoch block", "a malformed epoch block")
    create = bytes.fromhex(one(a, "SELECT hash FROM bec_ops WHERE kind='create'"))
    op = becwire.make_op(ka, "keyshare", heads(a), uvarint(1) + create + uvarint(0), grp)
    T.raises(lambda: ingest(r, op), "not an epoch op", "a keyshare naming a create op")
    # A rekey or keyshare in a plaintext group.
    p, q, _, _ = group_of_four("ryp", encrypted=False)
    kp = key_of(p)
    seeds = {None: os.urandom(32), kp.pub: None}
    seeds[kp.pub] = seeds[None]
    op = becwire.make_op(kp, "rekey", heads(p), epoch_block(kp, group(p), seeds), group(p))
    T.raises(lambda: ingest(p, op), "rekey in a plaintext group", "rekey in plaintext")


# --- secrets ---------------------------------------------------------------------
def test_secrets():
    a, b, c, d = group_of_four("se")
    b.execute("SELECT bec_rekey()")
    for x in (a, c, d):
        ship(b, x)
    kb = key_of(b)
    grp = group(b)
    nseen = 0
    for (h, p) in b.execute("SELECT hash, payload FROM bec_ops WHERE kind IN ('encrypt','rekey')"):
        commit, boxes = parse_block(p)
        mine = [x for x in boxes if x[:8] == kb.pub[:8]]
        if not mine:
            continue
        seed = open_box(mine[0], kb)
        nseen += 1
        T.check(seed is not None and commit_of(seed) == commit, "B's box opens to the committed seed")
        ke = hashlib.blake2b(b"bec-e2ee-epoch-v1" + grp + bytes.fromhex(h), digest_size=32,
                             key=seed).digest()
        for name, blob in (("the database file", file_bytes(os.path.join(R.dir, "seb"))),):
            T.check(seed not in blob and ke not in blob, "no seed or epoch key in %s" % name)
        vals = sql_blobs(b)
        T.check(len(vals) > 20 and not any(seed in (v if isinstance(v, bytes) else v.encode())
                                            or seed.hex() in str(v) for v in vals),
                "no SQL value holds a seed")
        T.eq(holds(b, h), 1, "B holds it")
    T.eq(nseen, 1, "B's box in its own rekey")
    T.eq(one(b, "SELECT count(*) FROM bec_store_epoch_key"), 2, "two sealed seeds stored")

    # A passphrase identity opens its boxes after bec_unlock.
    p = connect(R.path("sep"))
    p.execute("SELECT bec_keygen('correct horse')")
    p.execute("SELECT bec_join(?)", (one(a, "SELECT bec_group_id()"),))
    a.execute("SELECT bec_add_member(?, 'member')", (pub(p),))
    p.close()
    p = connect(os.path.join(R.dir, "sep"))
    ship(a, p)
    e = current(a)[0]
    T.eq(holds(p, e), 0, "a locked identity opens nothing")
    T.eq(one(p, "SELECT bec_unlock('correct horse')"), 1, "unlock")
    T.eq(one(p, "SELECT bec_heal()"), 0, "heal after unlock: nothing missing")
    T.eq(holds(p, e), 1, "its boxes open after unlock")


# --- an add whose keyshare fails ---------------------------------------------------
def test_add_keyshare_fails():
    """The rule: an add and the keyshare signed with it are one transaction.
    A keyshare that cannot be signed (an error: here a trigger makes storing
    it fail) rolls the add back; nothing is stored and the error is
    returned.  A keyshare that is signed but lacks a seed the adder does not
    hold (it asks for it instead) leaves the add standing; another member's
    heal repairs it, and the newcomer then reads the whole history."""
    a = connect(R.path("kfa"))
    a.execute("SELECT bec_keygen()")
    a.execute("SELECT bec_create_group('encrypted')")
    e = R.joined(a, "kfe")
    n = one(a, "SELECT count(*) FROM bec_ops")
    a.execute("CREATE TEMP TRIGGER fail_ks BEFORE INSERT ON main.bec_store_op WHEN "
              "new.kind=%d BEGIN SELECT RAISE(ABORT, 'injected keyshare failure'); END"
              % becwire.KIND["keyshare"])
    T.raises(lambda: a.execute("SELECT bec_add_member(?, 'member')", (pub(e),)),
             "injected keyshare failure", "the add fails with the keyshare's error")
    T.eq(one(a, "SELECT count(*) FROM bec_ops"), n, "no op stored: the add is rolled back")
    T.eq(one(a, "SELECT count(*) FROM bec_members WHERE pubkey=?", pub(e)), 0,
         "the newcomer is no member")
    T.eq(one(a, "SELECT bec_check()"), "ok", "bec_check after the rollback")
    a.execute("DROP TRIGGER fail_ks")

    # Repair: X (an admin added concurrently with B's rekey) lacks B's epoch,
    # and adds E: the add stands, E lacks the epoch until A heals.
    b, x = R.joined(a, "kfb"), R.joined(a, "kfx")
    a.execute("SELECT bec_add_member(?, 'admin')", (pub(b),))
    a.execute("CREATE VIRTUAL TABLE todos USING bec(id TEXT PRIMARY KEY, title TEXT)")
    a.execute("INSERT INTO todos VALUES('h', 'history')")
    ship(a, b)
    a.execute("SELECT bec_add_member(?, 'admin')", (pub(x),))
    eb = one(b, "SELECT bec_rekey()")
    ship(a, x)
    ship(b, x)
    T.eq(holds(x, eb), 0, "X lacks B's epoch")
    x.execute("SELECT bec_add_member(?, 'member')", (pub(e),))
    T.eq(one(x, "SELECT count(*) FROM bec_members WHERE pubkey=?", pub(e)), 1,
         "X's add stands")
    ship(x, e)
    T.eq(holds(e, eb), 0, "E lacks the current epoch")
    T.eq(rows(e), None, "and reads nothing yet")
    for src in (x, b):
        ship(src, a)
    T.check(one(a, "SELECT bec_heal()") >= 1, "A heals the holes")
    ship(a, e)
    T.eq(holds(e, eb), 1, "E holds B's epoch after A's heal")
    T.eq(one(e, "SELECT min(i_hold) FROM bec_epochs WHERE valid"), 1, "and every valid epoch")
    T.eq(rows(e), [("h", "history")], "E reads the whole history")
    T.eq(one(e, "SELECT bec_check()"), "ok", "bec_check at E")


# --- the writer's safety rule, remembered per connection ---------------------------
def write_epochs(db):
    """The epochs (hex) the last write op of db names (its envelope)."""
    p = one(db, "SELECT payload FROM bec_ops WHERE kind='write' ORDER BY rowid DESC LIMIT 1")
    T.check(p[0] == 0xE2 and p[1] < 17, "an envelope")
    return sorted(p[2 + 32 * i:34 + 32 * i].hex() for i in range(p[1]))


def test_safety_rule_remembered():
    """A connection remembers the epochs its safety rule approved while only
    schema and write ops are stored; whatever could change them makes it ask
    again.  Each case would write under a stale epoch (readable by a member
    who is gone, or under an op that is no epoch: a failed statement) if the
    remembered rule were kept."""
    # Another connection's write: a second connection of A removes C.
    a, b, c, d = with_table("sr1")
    a.execute("INSERT INTO todos VALUES('r0', 'before')")
    e0 = current(a)
    T.eq(write_epochs(a), e0, "the first write names the current epoch")
    a2 = connect(os.path.join(R.dir, "sr1a"))
    a2.execute("SELECT bec_remove_member(?)", (pub(c),))
    e1 = current(a2)
    T.check(e1 != e0, "the other connection rotated")
    a.execute("INSERT INTO todos VALUES('r1', 'after')")
    T.eq(write_epochs(a), e1, "the next write names the new epoch")
    a2.close()
    everyone(a, b, c, d)
    T.eq(rows(c), [("r0", "before")], "C does not read the write after its removal")
    T.eq(rows(d), [("r0", "before"), ("r1", "after")], "D reads both")

    # A removal arriving by sync (B removes C, with its rekey).
    a, b, c, d = with_table("sr2")
    a.execute("INSERT INTO todos VALUES('r0', 'before')")
    b.execute("SELECT bec_remove_member(?)", (pub(c),))
    eb = current(b)
    sync(b, "a", a, "b")
    a.execute("INSERT INTO todos VALUES('r1', 'after')")
    T.eq(write_epochs(a), eb, "the write after the sync names B's epoch")
    everyone(a, b, c, d)
    T.eq(rows(c), [("r0", "before")], "the removed C does not read it")

    # A member leaving (no rekey) by sync: the next write rotates.
    a, b, c, d = with_table("sr3")
    a.execute("INSERT INTO todos VALUES('r0', 'before')")
    e0 = current(a)
    c.execute("SELECT bec_remove_member(?)", (pub(c),))
    sync(c, "a", a, "c")
    n = one(a, "SELECT count(*) FROM bec_ops WHERE kind='rekey'")
    a.execute("INSERT INTO todos VALUES('r1', 'after C left')")
    T.eq(one(a, "SELECT count(*) FROM bec_ops WHERE kind='rekey'"), n + 1,
         "the writer rotates after the leave arrived")
    T.check(write_epochs(a) != e0 and write_epochs(a) == current(a), "and writes under it")
    everyone(a, b, c, d)
    T.eq(rows(c), [("r0", "before")], "the leaver does not read it")

    # A key change: B's rekey arrives; the next write names it.
    a, b, c, d = with_table("sr4")
    a.execute("INSERT INTO todos VALUES('r0', 'x')")
    ek = one(b, "SELECT bec_rekey()")
    ship(b, a)
    a.execute("INSERT INTO todos VALUES('r1', 'y')")
    T.eq(write_epochs(a), [ek], "the write names the rekey's epoch")

    # A rollback: in a rolled-back transaction A removed C (remove, rekey) and
    # wrote under the new epoch; then two of B's write ops take those seqs.
    a, b, c, d = with_table("sr5")
    a.execute("INSERT INTO todos VALUES('r0', 'x')")
    e0 = current(a)
    a.execute("BEGIN")
    a.execute("SELECT bec_remove_member(?)", (pub(c),))
    a.execute("INSERT INTO todos VALUES('gone', 'rolled back')")
    a.execute("ROLLBACK")
    T.eq(current(a), e0, "the rollback restores the epoch")
    b.execute("INSERT INTO todos VALUES('b1', 'by B')")
    b.execute("INSERT INTO todos VALUES('b2', 'by B')")
    ship(b, a)
    a.execute("INSERT INTO todos VALUES('r1', 'after the rollback')")
    T.eq(write_epochs(a), e0, "the write names the epoch that is current")
    everyone(a, b, c, d)
    for x in (a, b, c, d):
        T.eq(rows(x), [("b1", "by B"), ("b2", "by B"), ("r0", "x"),
                       ("r1", "after the rollback")], "every member reads every row")
        T.eq(one(x, "SELECT bec_check()"), "ok", "bec_check")

    # A rollback of a learned seed: the connection's write key goes with it
    # (E, added concurrently with B's rekey, is healed inside a transaction
    # that is rolled back; B's next write under that epoch stays locked).
    a, b, c, d = with_table("sr6")
    e = R.joined(a, "sr6e")
    a.execute("SELECT bec_add_member(?, 'member')", (pub(e),))
    b.execute("SELECT bec_rekey()")
    b.execute("INSERT INTO todos VALUES('n1', 'under B')")
    for x in (a, b):
        ship(x, e)
    T.eq(rows(e), [], "E cannot read B's write yet")
    ship(b, a)
    T.check(one(a, "SELECT bec_heal()") >= 1, "A heals E")
    share = one(a, "SELECT body FROM bec_ops WHERE kind='keyshare' ORDER BY rowid DESC LIMIT 1")
    e.execute("BEGIN")
    ingest(e, share)
    T.eq(rows(e), [("n1", "under B")], "the keyshare unlocks the write")
    e.execute("ROLLBACK")
    b.execute("INSERT INTO todos VALUES('n2', 'later')")
    ship(b, e)
    T.eq((rows(e), sorted(r for _, _, r in locked(e))), ([], ["no key"] * 2),
         "after the rollback E has both writes locked")
    ship(a, e)
    T.eq(rows(e), [("n1", "under B"), ("n2", "later")], "the keyshare again")
    T.eq((locked(e), one(e, "SELECT bec_check()")), ([], "ok"), "nothing locked")

def test_encrypt_midway():
    """bec_encrypt_group() encrypts from its op onwards: table ops with it in
    their causal past carry the envelope; a write concurrent with it stays
    plaintext and is applied everywhere alike (the rule is a function of the
    op's past), in both delivery orders."""
    for rev in (False, True):
        tag = "em%d" % rev
        a, b, c, d = group_of_four(tag, encrypted=False)
        a.execute("CREATE VIRTUAL TABLE todos USING bec(id TEXT PRIMARY KEY, title TEXT)")
        for x in (b, c, d):
            ship(a, x)
        c.execute("INSERT INTO todos VALUES('w1', 'before')")
        ship(c, a)
        e = one(a, "SELECT bec_encrypt_group()")
        T.eq(one(a, "SELECT author FROM bec_epochs WHERE epoch=?", e), pub(a),
             "bec_epochs names the epoch's author")
        a.execute("INSERT INTO todos VALUES('w2', 'encrypted')")
        c.execute("INSERT INTO todos VALUES('w3', 'concurrent')")
        for x in (a, b, c, d):
            for y in (a, b, c, d):
                if x is not y:
                    ship(x, y, reverse=rev)
        c.execute("INSERT INTO todos VALUES('w4', 'after')")
        everyone(a, b, c, d)
        want = [("w1", "before"), ("w2", "encrypted"), ("w3", "concurrent"), ("w4", "after")]
        flags = [f for (f,) in c.execute("SELECT encrypted FROM bec_ops WHERE kind='write' ORDER BY depth")]
        T.eq(sorted(flags), [0, 0, 1, 1], "%s: two plaintext writes, two envelopes" % tag)
        for x in (a, b, c, d):
            T.eq(rows(x), want, "%s: every replica shows every row" % tag)
            T.eq(locked(x), [], "%s: nothing locked" % tag)
            T.eq(one(x, "SELECT bec_check()"), "ok", "%s: bec_check" % tag)
        T.eq(one(c, "SELECT encrypted FROM bec_ops WHERE kind='write' ORDER BY rowid DESC LIMIT 1"), 1,
             "%s: C's write after it saw the encrypt op is encrypted" % tag)

def test_lost_counter_removal():
    """Scenario 7: A removes B || B removes A; B loses on seniority.  D,
    having seen only B's ops, writes w under B's epoch.  A has w locked (no
    key) until D heals it in a sync; then A reads w.  Later writes name only
    A's epoch: B reads w (its own losing rotation, the honest limit), never
    what follows."""
    a, b, c, d = with_table("s7")
    a.execute("SELECT bec_remove_member(?)", (pub(b),))
    ea = current(a)
    b.execute("SELECT bec_remove_member(?)", (pub(a),))
    eb = current(b)
    ship(b, d)
    d.execute("INSERT INTO todos VALUES('w', 'under B')")
    T.eq(write_epochs(d), eb, "D writes under B's epoch")
    for x in (b, d):
        ship(x, a)
    T.eq((rows(a), [r for _, _, r in locked(a)]), ([], ["no key"]),
         "A has w locked: it lacks B's epoch")
    sync(d, "a", a, "d")
    T.eq(rows(a), [("w", "under B")], "D's sync heals A, which reads w")
    everyone(a, b, c, d)
    for x in (a, c, d):
        T.eq(current(x), ea, "only A's epoch is current (B's lost)")
    c.execute("INSERT INTO todos VALUES('later', 'after the outcome')")
    T.eq(write_epochs(c), ea, "a later write names only A's epoch")
    everyone(a, b, c, d)
    for x in (a, c, d):
        T.eq(rows(x), [("later", "after the outcome"), ("w", "under B")], "members read both")
        T.eq(locked(x), [], "nothing locked at a member")
    T.eq(rows(b), [("w", "under B")], "B reads w (its losing rotation), not the later write")
    T.eq([r for _, _, r in locked(b)], ["no key"], "the later write is locked at B")


def test_reenrolled_device():
    """Scenario 12: C's device key is stolen (a copy of C's replica and key
    file); C is re-enrolled (A adds a new key, removes the old one): the
    thief, holding every op, reads nothing written under the new epoch."""
    a, b, c, d = with_table("s12")
    c.execute("INSERT INTO todos VALUES('old', 'before the theft')")
    ship(c, a)
    thief = R.clone(c, "s12thief")
    c2 = R.joined(a, "s12c2")
    a.execute("SELECT bec_add_member(?, 'member')", (pub(c2),))
    a.execute("SELECT bec_remove_member(?)", (pub(c),))
    a.execute("INSERT INTO todos VALUES('new', 'after re-enrolment')")
    for x in (b, d, c2, thief):
        ship(a, x)
    T.eq(rows(c2), [("new", "after re-enrolment"), ("old", "before the theft")],
         "the re-enrolled device reads everything")
    T.eq(rows(thief), [("old", "before the theft")], "the thief reads only the old row")
    T.eq([r for _, _, r in locked(thief)], ["no key"], "the new write is locked for the thief")


def test_docs_threat_model():
    """docs/encryption.md tells users the guarantees, the honest limits and
    the threat model table (one row per adversary of E2EE.md section 13)."""
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs",
                           "encryption.md")) as f:
        doc = f.read()
    for h in ("## Guarantees", "## Limits (honest)", "## Threat model"):
        T.check(h in doc, "docs/encryption.md has %r" % h)
    table = doc.split("## Threat model", 1)[-1].split("\n## ", 1)[0]
    T.check("| adversary | learns | does not learn |" in table, "the threat model is a table")
    for row in ("| relay, sync server, or eavesdropper", "| removed member",
                "| device key stolen before the removal", "| device key stolen after the removal",
                "| malicious current member"):
        T.check(("\n" + row) in table, "the table has the row %r" % row)
    for word in ("No forward secrecy", "plaintext rows", "Membership ops stay in clear"):
        T.check(word in doc, "the limits say %r" % word)


test_create_and_encrypt()
test_admin_only()
test_removal(False)
test_removal(True)
test_concurrent_removals(0)
test_concurrent_removals(1)
test_removed_rekey()
test_newcomer_history()
test_heal()
test_heal_by_sync()
test_split_view()
test_split_view_nobody()
test_relay_and_acceptance()
test_secrets()
test_relay_bytes()
test_removed_reader(False)
test_removed_reader(True)
test_concurrent_removals_data()
test_newcomer_reads_history()
test_unlock_by_heal()
test_split_view_write()
test_resigned_and_flipped()
test_leaver_rotated_by_writer()
test_plaintext_refused()
test_admin_table(0)
test_admin_table(1)
test_checkpoint_encrypted()
for seed in (1, 2, 3):
    test_random_convergence(seed)
test_add_keyshare_fails()
test_safety_rule_remembered()
test_encrypt_midway()
test_lost_counter_removal()
test_reenrolled_device()
test_docs_threat_model()
R.cleanup()
T.done()
