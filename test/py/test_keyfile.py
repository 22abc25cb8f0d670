"""Issue 11, class 6: the secret key is never readable through SQL or in a copy
of the database file.

An unsealed key lives in an owner-only key file, by default beside the
database ("<file>-bec-key"), or at the path set with bec_key_file(path); for
a database without a file, only in the connection's memory.  A key sealed
under a passphrase stays in the database.  A database written by an older
bec (a plaintext 'seckey' row) moves its key out when bec is loaded.

    BEC_EXT=$PWD/build/bec /usr/bin/python3 test/py/test_keyfile.py
"""
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bectest import T, connect, one  # noqa: E402
from becwire import Key  # noqa: E402

TMP = tempfile.mkdtemp(prefix="bec_keyfile_")
MAGIC = b"bec-key-v1\n"
SUFFIXES = ("", "-wal", "-shm", "-journal", "-bec-key")


def fresh(name):
    """A path in the test directory with no database or key file yet."""
    p = os.path.join(TMP, name)
    for s in SUFFIXES:
        if os.path.lexists(p + s):
            if os.path.isdir(p + s) and not os.path.islink(p + s):
                shutil.rmtree(p + s)
            else:
                os.remove(p + s)
    return p


def seed_of(path):
    """The seed in a key file (asserting the v1 format)."""
    with open(path, "rb") as f:
        b = f.read()
    T.check(len(b) == 43 and b.startswith(MAGIC), "key file format: %r" % b[:12])
    return b[len(MAGIC):]


def leaks(data, seed):
    """Does data (bytes or text) hold the seed, raw or as hex?"""
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogateescape")
    low = data.lower()
    return seed in data or seed.hex().encode() in low


def file_bytes(path):
    out = b""
    for s in ("", "-wal", "-journal"):
        if os.path.exists(path + s):
            with open(path + s, "rb") as f:
                out += f.read()
    return out


def sql_values(db):
    """Every value of every table in sqlite_master, and of bec's views."""
    names = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    names += ["bec_ops", "bec_members", "bec_heads", "bec_peers"]
    vals = []
    for n in names:
        try:
            for row in db.execute('SELECT * FROM "%s"' % n.replace('"', '""')):
                vals.extend(row)
        except sqlite3.Error:
            pass
    return vals, names


def no_sql_leak(db, seed, what):
    vals, names = sql_values(db)
    T.check(len(names) > 5 and len(vals) > 5, "%s: the scan read the tables" % what)
    bad = [v for v in vals if isinstance(v, (bytes, str)) and leaks(v, seed)]
    T.check(not bad, "%s: a SQL value holds the secret key" % what)


def try_sign(path, keyfile=None):
    """Opens path afresh and signs; returns None or the error text."""
    db = connect(path)
    try:
        if keyfile:
            one(db, "SELECT bec_key_file(?)", keyfile)
        T.check(one(db, "SELECT count(*) FROM bec_ops") > 0, "reading works whatever the key file")
        one(db, "SELECT bec_sign(x'5a')")
        return None
    except sqlite3.Error as e:
        return str(e)
    finally:
        db.close()


def shell(*args):
    return subprocess.run(["sqlite3", "-batch"] + list(args), capture_output=True).stdout


# --- a new identity on a file database -------------------------------------
for mode in ("delete", "wal"):
    p = fresh("new-%s.db" % mode)
    db = connect(p)
    db.execute("PRAGMA journal_mode=%s" % mode)
    pk = one(db, "SELECT bec_keygen()")
    one(db, "SELECT bec_create_group()")
    one(db, "SELECT bec_sign(x'01')")
    kp = p + "-bec-key"
    T.eq(one(db, "SELECT bec_key_file()"), kp, "%s: the key file is beside the database" % mode)
    T.eq(stat.S_IMODE(os.stat(kp).st_mode), 0o600, "%s: the key file is mode 0600" % mode)
    T.check(stat.S_ISREG(os.lstat(kp).st_mode), "%s: a regular file" % mode)
    seed = seed_of(kp)
    T.eq(Key(seed).hex, pk, "%s: the key file holds this identity's seed" % mode)
    T.eq(one(db, "SELECT count(*) FROM bec_store_config WHERE key LIKE 'seckey%'"), 0,
         "%s: no secret key row" % mode)
    no_sql_leak(db, seed, mode)
    T.check(not leaks(file_bytes(p), seed), "%s: raw database, WAL and journal bytes" % mode)
    if mode == "wal":
        T.check(os.path.exists(p + "-wal"), "wal: the WAL was checked while in use")
    vac = fresh("vacuum-%s.db" % mode)
    db.execute("VACUUM INTO ?", (vac,))
    T.check(os.path.getsize(vac) > 0 and not leaks(file_bytes(vac), seed), "%s: VACUUM INTO copy" % mode)
    T.check(not os.path.exists(vac + "-bec-key"), "%s: VACUUM INTO copies no key" % mode)
    dump = shell(p, ".dump")
    T.check(b"bec_store_config" in dump and not leaks(dump, seed), "%s: .dump of the shell" % mode)
    bak = fresh("backup-%s.db" % mode)
    shell(p, ".backup %s" % bak)
    T.check(os.path.getsize(bak) > 0 and not leaks(file_bytes(bak), seed), "%s: .backup copy" % mode)
    # bec_lock forgets the key; the next op reads the file again.
    one(db, "SELECT bec_lock()")
    T.check(one(db, "SELECT bec_sign(x'02')") is not None, "%s: signs after bec_lock" % mode)
    T.eq(one(db, "SELECT bec_unlock('ignored')"), 1, "%s: bec_unlock of an unsealed key" % mode)
    db.close()
    T.eq(try_sign(p), None, "%s: a new connection signs with the key file" % mode)

# --- an unsafe or wrong key file is refused ---------------------------------
p = os.path.join(TMP, "new-delete.db")
kp = p + "-bec-key"
for bits in (0o640, 0o604, 0o620, 0o700 | 0o010):
    os.chmod(kp, bits)
    err = try_sign(p)
    T.check(err is not None and "open to group or others" in err and kp in err,
            "mode %o refused: %s" % (bits, err))
os.chmod(kp, 0o400)
T.eq(try_sign(p), None, "an owner-only read-only key file is fine")
os.chmod(kp, 0o600)
os.rename(kp, kp + ".real")
os.symlink(kp + ".real", kp)
err = try_sign(p)
T.check(err is not None and "symbolic link" in err, "a symlink is refused: %s" % err)
os.remove(kp)
if os.geteuid() == 0:
    os.rename(kp + ".real", kp)
    os.chown(kp, 65534, -1)
    err = try_sign(p)
    T.check(err is not None and "belongs to another user" in err, "another owner is refused: %s" % err)
    os.chown(kp, 0, -1)
    os.rename(kp, kp + ".real")
with open(kp + ".real", "rb") as f:
    good = f.read()
os.mkdir(kp)
err = try_sign(p)
T.check(err is not None and "not a regular file" in err, "a directory is refused: %s" % err)
os.rmdir(kp)
err = try_sign(p)
T.check(err is not None and "is missing" in err and kp in err, "a missing key file: %s" % err)
for bad in (good[:-1], good + b"\0", b"bec-key-v2\n" + good[11:]):
    with open(os.open(kp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as f:
        f.write(bad)
    err = try_sign(p)
    T.check(err is not None and "not a bec key file" in err, "a damaged key file: %s" % err)
os.remove(kp)
shutil.copy(os.path.join(TMP, "new-wal.db-bec-key"), kp)
os.chmod(kp, 0o600)
err = try_sign(p)
T.check(err is not None and "another identity" in err, "another identity's key file: %s" % err)
os.remove(kp)
os.rename(kp + ".real", kp)
T.eq(try_sign(p), None, "the right key file again")

# --- a copy of the database file alone cannot sign ---------------------------
cp = fresh("copy.db")
shutil.copy(p, cp)
err = try_sign(cp)
T.check(err is not None and "is missing" in err, "a copied database cannot sign: %s" % err)
orig, copy = connect(p), connect(cp)
T.eq(one(copy, "SELECT bec_check()"), "ok", "the copy reads and checks")
h = one(orig, "SELECT bec_sign(x'03')")
T.eq(one(copy, "SELECT bec_ingest(?)", one(orig, "SELECT bec_op(?)", h)), h,
     "the copy still takes ops from the original, as a read-only replica")
T.raises(lambda: copy.execute("SELECT bec_sign(x'04')"), "bec_sign: the secret key file",
         "the copy's write says the key file is missing")
orig.close()
copy.close()

# --- the key file set by the app --------------------------------------------
p2 = fresh("override.db")
os.makedirs(os.path.join(TMP, "keys"), exist_ok=True)
kf = os.path.join(TMP, "keys", "override.key")
if os.path.exists(kf):
    os.remove(kf)
db = connect(p2)
T.eq(one(db, "SELECT bec_key_file(?)", kf), kf, "bec_key_file(path) returns the path in effect")
pk2 = one(db, "SELECT bec_keygen()")
one(db, "SELECT bec_create_group()")
T.check(os.path.exists(kf) and not os.path.exists(p2 + "-bec-key"), "the key went to the set path")
T.eq(stat.S_IMODE(os.stat(kf).st_mode), 0o600, "set path: mode 0600")
T.eq(Key(seed_of(kf)).hex, pk2, "set path: this identity's seed")
T.eq(one(db, "SELECT bec_key_file(NULL)"), p2 + "-bec-key", "NULL: back to the default")
T.raises(lambda: db.execute("SELECT bec_sign(x'01')"), "is missing", "the default path has no key")
T.eq(one(db, "SELECT bec_key_file(?)", kf), kf, "set again")
T.check(one(db, "SELECT bec_sign(x'01')") is not None, "signs with the set key file")
T.raises(lambda: db.execute("SELECT bec_key_file('')"), "non-empty text", "an empty path")
T.raises(lambda: db.execute("SELECT bec_key_file(1)"), "non-empty text", "a number")
db.execute("CREATE VIEW kv AS SELECT bec_key_file('/tmp/elsewhere') AS k")
T.raises(lambda: db.execute("SELECT * FROM kv").fetchall(), "unsafe use",
         "bec_key_file is DIRECTONLY: a view cannot move the key")
db.close()
err = try_sign(p2)
T.check(err is not None and "is missing" in err, "without the setting the key is not found: %s" % err)
T.eq(try_sign(p2, kf), None, "with the setting it is")
# A key file moved by the user: point to it.
moved = os.path.join(TMP, "keys", "moved.key")
os.rename(kf, moved)
T.eq(try_sign(p2, moved), None, "bec_key_file points to a moved key")
os.rename(moved, kf)
# keygen never overwrites a key file
p3 = fresh("exists.db")
with open(os.open(p3 + "-bec-key", os.O_WRONLY | os.O_CREAT, 0o600), "wb") as f:
    f.write(b"not mine")
db = connect(p3)
T.raises(lambda: db.execute("SELECT bec_keygen()"), "already exists", "keygen refuses an existing key file")
T.eq(one(db, "SELECT bec_pubkey()"), None, "no identity was stored")
with open(p3 + "-bec-key", "rb") as f:
    T.eq(f.read(), b"not mine", "the existing file is untouched")
db.close()

# --- databases without a file ------------------------------------------------
m = connect()
pkm = one(m, "SELECT bec_keygen()")
T.eq(one(m, "SELECT bec_key_file()"), None, "in memory: no key file")
T.eq(one(m, "SELECT count(*) FROM bec_store_config WHERE key LIKE 'seckey%'"), 0, "in memory: no key row")
one(m, "SELECT bec_create_group()")
one(m, "SELECT bec_lock()")
T.check(one(m, "SELECT bec_sign(x'01')") is not None, "in memory: bec_lock keeps the only copy")
mc = connect()
m.backup(mc)
T.eq(one(mc, "SELECT bec_pubkey()"), pkm, "a copy of an in-memory database")
T.raises(lambda: mc.execute("SELECT bec_sign(x'02')"), "only in the memory",
         "the copy cannot sign: the key lived in the other connection")
for path in ("", ):
    t = connect(path)      # a temporary database
    one(t, "SELECT bec_keygen()")
    T.eq(one(t, "SELECT bec_key_file()"), None, "temporary database: memory only")
    t.close()
kfm = os.path.join(TMP, "keys", "memory.key")
if os.path.exists(kfm):
    os.remove(kfm)
m2 = connect()
one(m2, "SELECT bec_key_file(?)", kfm)
pkm2 = one(m2, "SELECT bec_keygen()")
one(m2, "SELECT bec_create_group()")
T.eq(Key(seed_of(kfm)).hex, pkm2, "in memory with bec_key_file: the key is in that file")
mc2 = connect()
m2.backup(mc2)
one(mc2, "SELECT bec_key_file(?)", kfm)
T.check(one(mc2, "SELECT bec_sign(x'03')") is not None, "a copy pointed at the key file signs")

# --- a passphrase-sealed key stays in the database ----------------------------
ps = fresh("sealed.db")
db = connect(ps)
one(db, "SELECT bec_keygen('correct horse')")
one(db, "SELECT bec_create_group()")
T.check(not os.path.exists(ps + "-bec-key"), "sealed: no key file")
T.eq(one(db, "SELECT count(*) FROM bec_store_config WHERE key='seckey_sealed'"), 1, "sealed: in the database")
db.close()
err = try_sign(ps)
T.check(err is not None and "bec_unlock" in err, "sealed: locked in a new connection: %s" % err)
db = connect(ps)
T.eq(one(db, "SELECT bec_unlock('correct horse')"), 1, "sealed: unlock")
T.check(one(db, "SELECT bec_sign(x'01')") is not None, "sealed: signs after unlock")
db.close()


# --- a database written by an older bec moves its key out on open -------------
def legacy(name, mode):
    """A database as an older bec left it: the seed as a plain row."""
    p = fresh(name)
    db = connect(p)
    db.execute("PRAGMA journal_mode=%s" % mode)
    one(db, "SELECT bec_pubkey()")      # the storage tables
    db.close()
    seed = os.urandom(32)
    old = sqlite3.connect(p, isolation_level=None)   # no bec: as the old keygen did
    old.execute("INSERT OR REPLACE INTO bec_store_config(key, value) VALUES('seckey', ?)", (seed,))
    old.execute("INSERT OR REPLACE INTO bec_store_config(key, value) VALUES('pubkey', ?)", (Key(seed).pub,))
    return p, seed, old


for mode in ("delete", "wal"):
    p, seed, old = legacy("legacy-%s.db" % mode, mode)
    T.check(leaks(file_bytes(p), seed), "%s: the old database holds the seed (the test is real)" % mode)
    if mode == "wal":
        T.check(leaks(open(p + "-wal", "rb").read(), seed), "wal: the seed is in the WAL")
    db = connect(p)                    # loading bec moves the key out
    kp = p + "-bec-key"
    T.check(os.path.exists(kp), "%s: the key file was written on open" % mode)
    T.eq(stat.S_IMODE(os.stat(kp).st_mode), 0o600, "%s: migrated key file mode" % mode)
    T.eq(seed_of(kp), seed, "%s: the key file holds the old seed" % mode)
    T.eq(one(db, "SELECT count(*) FROM bec_store_config WHERE key='seckey'"), 0, "%s: the row is gone" % mode)
    T.eq(one(old, "SELECT count(*) FROM bec_store_config WHERE key='seckey'"), 0,
         "%s: gone for other connections too" % mode)
    no_sql_leak(db, seed, "%s legacy" % mode)
    T.check(not leaks(file_bytes(p), seed), "%s: no seed left in the database, WAL or journal bytes" % mode)
    if mode == "wal":
        T.eq(os.path.getsize(p + "-wal"), 0, "wal: the WAL was checkpointed and emptied")
    T.eq(one(db, "SELECT bec_pubkey()"), Key(seed).hex, "%s: the same identity" % mode)
    g = one(db, "SELECT bec_create_group()")
    h = one(db, "SELECT bec_sign(x'01')")
    T.eq(one(db, "SELECT author FROM bec_ops WHERE hash=?", h), Key(seed).hex,
         "%s: signs with the same public key" % mode)
    T.eq(one(db, "SELECT author FROM bec_ops WHERE hash=?", g), Key(seed).hex, "%s: create op too" % mode)
    db.close()
    old.close()
    T.eq(try_sign(p), None, "%s: later connections use the key file" % mode)

# The key file cannot be written: the row stays (the key is not lost), reading
# works, and signing says why; once the path is free, the move completes.
p, seed, old = legacy("legacy-blocked.db", "delete")
old.close()
os.mkdir(p + "-bec-key")
db = connect(p)
T.eq(one(db, "SELECT bec_pubkey()"), Key(seed).hex, "blocked: reading works")
T.eq(one(db, "SELECT count(*) FROM bec_store_config WHERE key='seckey'"), 1, "blocked: the key is not lost")
try:
    db.execute("SELECT bec_create_group()")
    err = None
except sqlite3.Error as e:
    err = str(e)
T.check(err is not None and "still holds its secret key" in err and "not a regular file" in err,
        "blocked: signing says why: %s" % err)
os.rmdir(p + "-bec-key")
T.check(one(db, "SELECT bec_create_group()") is not None, "blocked: signs once the path is free")
T.eq(seed_of(p + "-bec-key"), seed, "blocked: moved on the retry")
T.eq(one(db, "SELECT count(*) FROM bec_store_config WHERE key='seckey'"), 0, "blocked: row gone after the move")
db.close()

# An in-memory database given an old row moves it to the connection's memory.
m = connect()
one(m, "SELECT bec_pubkey()")
s = os.urandom(32)
m.execute("INSERT INTO bec_store_config(key, value) VALUES('seckey', ?), ('pubkey', ?)", (s, Key(s).pub))
g = one(m, "SELECT bec_create_group()")
T.eq(one(m, "SELECT author FROM bec_ops WHERE hash=?", g), Key(s).hex, "in memory: an old row signs")
T.eq(one(m, "SELECT count(*) FROM bec_store_config WHERE key='seckey'"), 0, "in memory: the old row is gone")
# A damaged or foreign old row is left in place and named.
for name, value, why in (("damaged.db", b"\x00\x11", "damaged"),
                         ("foreign.db", os.urandom(32), "not the key of this database's identity")):
    p = fresh(name)
    db = connect(p)
    one(db, "SELECT bec_keygen()")
    one(db, "SELECT bec_create_group()")
    db.execute("INSERT INTO bec_store_config(key, value) VALUES('seckey', ?)", (value,))
    db.close()
    err = try_sign(p)
    T.check(err is not None and "still holds its secret key" in err and why in err,
            "%s: refused and named: %s" % (name, err))
    db = connect(p)
    T.eq(one(db, "SELECT count(*) FROM bec_store_config WHERE key='seckey'"), 1, "%s: left in place" % name)
    db.close()

shutil.rmtree(TMP, ignore_errors=True)
T.done()
