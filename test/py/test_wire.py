"""test_wire.py - op format 2 as docs/wire-format.md gives it, checked from
the document's side: test/py/becwire.py (written from the document, not from
the C code) rebuilds the golden vectors of test/vectors/ops.txt byte for
byte, and bec accepts what becwire makes and refuses what the document
calls malformed.  Also: a database of op format 1 is refused on open with a
message naming the format."""
import os
import sqlite3
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bectest import ROOT, T, connect, load_bec, one  # noqa: E402
from becwire import (Key, blake, decode_header, decode_op, make_header,  # noqa: E402
                     make_op, op_id, signed_message, uvarint, verify)

# --- golden vectors --------------------------------------------------------
# The same ops test/unit/test_codec.c builds: author seed 32 x 0x01.
key = Key(bytes([1]) * 32)
target = bytes([0xBB]) * 32
create = make_op(key, "create", [], b"bec golden nonce", None)
group = op_id(create)
add = make_op(key, "add", [group], target + bytes([1]), group)
app = make_op(key, "app", [op_id(add)], b"hello", group)
remove = make_op(key, "remove", [op_id(app)], target, group)
write = make_op(key, "write", [op_id(remove)], b"\x00\x01\x02", group)
mine = [("create", create), ("add", add), ("app", app), ("remove", remove), ("write", write)]

golden = []
with open(os.path.join(ROOT, "test", "vectors", "ops.txt")) as f:
    for line in f:
        if line.startswith("#") or not line.strip():
            continue
        kind, h, enc = line.split()
        golden.append((kind, bytes.fromhex(h), bytes.fromhex(enc)))
T.eq(len(golden), 5, "five golden vectors")
T.check("op format 2" in open(os.path.join(ROOT, "test", "vectors", "ops.txt")).readline(),
        "the vector file names its format")
for (kind, h, enc), (mkind, menc) in zip(golden, mine):
    T.eq(kind, mkind, "vector kind")
    T.eq(enc.hex(), menc.hex(), "%s: becwire makes the golden bytes" % kind)
    T.eq(op_id(enc), h, "%s: id is BLAKE2b-256 of the header" % kind)
    m = decode_op(enc)
    T.check(m is not None, "%s: decodes" % kind)
    if m is None:
        continue
    T.eq(m["id"], h, "%s: decoded id" % kind)
    T.eq(blake(m["header"]), h, "%s: id = blake(header)" % kind)
    T.eq(m["header"] + m["sig"] + m["body"], enc, "%s: header || signature || body" % kind)
    T.eq(m["payload_hash"], blake(m["body"]), "%s: payload hash" % kind)
    T.eq(m["epochs"], [], "%s: no key epochs" % kind)
    T.check(verify(key.pub, m["sig"], signed_message(None if kind == "create" else group, h)),
            "%s: signature over bec-op-v2 || group || id" % kind)
    hd = decode_header(m["header"] + m["sig"])
    T.check(hd is not None and hd["id"] == h and hd["body"] is None, "%s: header-only decode" % kind)

# --- bec accepts what the document describes ----------------------------
db = connect()
db.execute("SELECT bec_keygen()")
T.eq(one(db, "SELECT bec_join(?)", group.hex()), group.hex(), "join the golden group")
for kind, enc in mine:
    T.eq(one(db, "SELECT bec_verify(?, ?)", enc, group.hex()), 1, "%s: bec_verify" % kind)
    if kind == "write":
        # 00 01 02 is no table payload (docs/tables.md): a verdict on the op
        T.raises(lambda: db.execute("SELECT bec_ingest(?)", (enc,)), "malformed", "golden write")
        continue
    T.eq(one(db, "SELECT bec_ingest(?)", enc), op_id(enc).hex(), "%s: bec_ingest returns the id" % kind)
for kind, enc in mine[:4]:
    row = db.execute("SELECT kind, payload, body FROM bec_ops WHERE hash=?", (op_id(enc).hex(),)).fetchone()
    T.eq(row, (kind, decode_op(enc)["body"], enc), "%s: bec_ops kind, payload, body" % kind)
T.eq(one(db, "SELECT bec_check()"), "ok", "bec_check")

# ... and refuses what it calls malformed.
def refused(enc, why, what):
    T.raises(lambda: db.execute("SELECT bec_ingest(?)", (enc,)), why, what)


k2 = Key(bytes([2]) * 32)
heads = [bytes.fromhex(r[0]) for r in db.execute("SELECT hash FROM bec_heads")]
good = make_op(key, "app", heads, b"payload", group)
m = decode_op(good)
refused(b"\x01" + good[1:], "unknown format version 1", "op format 1")
hdr = make_header(key, "app", heads, b"payload", group, epochs=[bytes(32)])
refused(hdr + key.sign(signed_message(group, blake(hdr))) + b"payload", "key epochs",
        "a key epoch (reserved for end-to-end encryption)")
refused(m["header"] + m["sig"] + b"payloaD", "payload hash", "a body that is not the header's")
refused(m["header"] + m["sig"] + b"payload!", "header says", "a body longer than the header says")
refused(m["header"] + m["sig"], "body of 0 bytes", "a header-only encoding is no op")
forged = m["header"] + bytes([m["sig"][0] ^ 1]) + m["sig"][1:] + m["body"]
T.eq(op_id(forged), m["id"], "a forged signature keeps the id")
refused(forged, "bad signature", "a forged signature")
T.eq(one(db, "SELECT count(*) FROM bec_rejected WHERE hash=?", m["id"].hex()), 0,
     "rejected copies are not logged under the op's id")
T.eq(one(db, "SELECT count(*) FROM bec_rejected WHERE hash=?", blake(forged).hex()), 1,
     "... but under the hash of their bytes")
T.eq(one(db, "SELECT bec_ingest(?)", good), m["id"].hex(), "the real op after its forged copy")
T.eq(one(db, "SELECT count(*) FROM bec_ops WHERE hash=?", m["id"].hex()), 1, "... is stored")
other = make_op(k2, "app", [m["id"]], b"x", group)
refused(other, "unauthorized", "an outsider's op")
T.eq(one(db, "SELECT count(*) FROM bec_rejected WHERE hash=?", op_id(other).hex()), 1,
     "a verdict on an op is logged under its id")

# --- a database of op format 1 is refused on open --------------------------
d = tempfile.mkdtemp()
path = os.path.join(d, "v1.db")
old = sqlite3.connect(path, isolation_level=None)
old.execute("CREATE TABLE bec_store_config(key TEXT PRIMARY KEY, value) WITHOUT ROWID")
old.execute("INSERT INTO bec_store_config VALUES('format', 1)")
old.close()
c = sqlite3.connect(path, isolation_level=None)
try:
    load_bec(c)
    T.check(False, "loading bec into a format-1 database must fail")
except sqlite3.Error as e:
    T.check("op format 1" in str(e) and "format 2 only" in str(e) and "re-create the group" in str(e),
            "the refusal names the format: %s" % e)
c.close()
# Also when bec was loaded before the old storage appeared (checked on first use).
c = connect(os.path.join(d, "late.db"))
c.execute("CREATE TABLE bec_store_config(key TEXT PRIMARY KEY, value) WITHOUT ROWID")
c.execute("INSERT INTO bec_store_config VALUES('format', 1)")
T.raises(lambda: c.execute("SELECT * FROM bec_ops").fetchall(), "op format 1", "first use refuses too")
c.close()
# A newer format is refused as well.
c = sqlite3.connect(os.path.join(d, "v3.db"), isolation_level=None)
c.execute("CREATE TABLE bec_store_config(key TEXT PRIMARY KEY, value) WITHOUT ROWID")
c.execute("INSERT INTO bec_store_config VALUES('format', 3)")
try:
    load_bec(c)
    T.check(False, "loading bec into a format-3 database must fail")
except sqlite3.Error as e:
    T.check("newer bec" in str(e), "a newer format is named: %s" % e)
c.close()
# A database bec writes records format 2.
c = connect(os.path.join(d, "new.db"))
c.execute("SELECT bec_keygen()")
T.eq(one(c, "SELECT value FROM bec_store_config WHERE key='format'"), 2, "new databases record format 2")
c.close()
T.check(uvarint(300) == b"\xac\x02", "varint")
T.done()
