"""becwire.py - the tests' own codec of docs/wire-format.md: ops made and
signed by hand (libsodium through ctypes) and sync messages taken apart and
put back together, so tests can build what a hostile peer would send.  It is
written from the document, not from the C code, so the tests also check the
document.  One copy serves every test (test_sync.py, test_membership_random.py,
test/sim/bytesim.py).
"""
import ctypes
import ctypes.util
import hashlib

sodium = ctypes.CDLL(ctypes.util.find_library("sodium") or "libsodium.so.23")
if sodium.sodium_init() < 0:
    raise SystemExit("libsodium failed to initialize")

KIND = {"create": 1, "add": 2, "remove": 3, "app": 4, "schema": 5, "write": 6}
ROLE = {"admin": 1, "member": 2}
F_OFFER, F_SHARED_IS_HEADS, F_FILTER, F_KNOWS_ALL, F_SAME_HEADS = 1, 2, 4, 8, 16


def uvarint(n):
    """A minimal LEB128 varint."""
    out = bytearray()
    while True:
        c = n & 0x7F
        n >>= 7
        out.append(c | 0x80 if n else c)
        if not n:
            return bytes(out)


def read_varint(b, i):
    """(value, next offset); IndexError past the end."""
    v, shift = 0, 0
    while True:
        c = b[i]
        i += 1
        v |= (c & 0x7F) << shift
        shift += 7
        if not c & 0x80:
            return v, i


def blake(b):
    """BLAKE2b-256, the op id and the digest inside the signed message."""
    return hashlib.blake2b(b, digest_size=32).digest()


class Key:
    """An Ed25519 key pair from a 32-byte seed."""

    def __init__(self, seed32):
        self.pk = ctypes.create_string_buffer(32)
        self.sk = ctypes.create_string_buffer(64)
        sodium.crypto_sign_seed_keypair(self.pk, self.sk, seed32)
        self.pub = self.pk.raw
        self.hex = self.pub.hex()

    def sign(self, msg):
        sig = ctypes.create_string_buffer(64)
        sodium.crypto_sign_detached(sig, None, msg, ctypes.c_ulonglong(len(msg)), self.sk)
        return sig.raw


def make_op(key, kind, preds, payload, group):
    """The signed encoding of an op.  group: the 32-byte group id (ignored,
    all zero, for create).  Signed message: "bec-op-v1" || group id ||
    BLAKE2b-256 of the encoding without its signature."""
    if kind == "create":
        group = None
    body = bytes([1, KIND[kind]]) + (group[:8] if group else bytes(8)) + key.pub
    preds = sorted(set(preds))
    body += uvarint(len(preds)) + b"".join(preds) + uvarint(len(payload)) + payload
    msg = b"bec-op-v1" + (group or bytes(32)) + blake(body)
    return body + key.sign(msg)


def decode_msg(b):
    """A sync message as a dict, or None if it does not parse to its end.
    heads is None when SAME_HEADS; filter is (n_bit, probes, seed (8 bytes),
    bits) or None."""
    try:
        m = {"version": b[0], "flags": b[1], "tag": b[2:10], "session": b[10:18]}
        i = 18
        m["round"], i = read_varint(b, i)

        def hashes(i):
            n, i = read_varint(b, i)
            if i + 32 * n > len(b):
                raise IndexError
            return [bytes(b[i + 32 * k:i + 32 * k + 32]) for k in range(n)], i + 32 * n
        m["heads"] = None
        if not m["flags"] & F_SAME_HEADS:
            m["heads"], i = hashes(i)
        if m["flags"] & F_SHARED_IS_HEADS:
            m["shared"] = list(m["heads"] or [])
        else:
            m["shared"], i = hashes(i)
        m["filter"] = None
        if m["flags"] & F_FILTER:
            nbit, i = read_varint(b, i)
            if nbit:
                m["filter"] = (nbit, b[i], bytes(b[i + 1:i + 9]), bytes(b[i + 9:i + 9 + nbit // 8]))
                i += 9 + nbit // 8
            else:
                m["filter"] = (0, 0, b"", b"")
        m["needs"], i = hashes(i)
        n, i = read_varint(b, i)
        m["ops"] = []
        for _ in range(n):
            ln, i = read_varint(b, i)
            m["ops"].append(bytes(b[i:i + ln]))
            i += ln
        return m if i == len(b) else None
    except IndexError:
        return None


def encode_msg(m):
    """The bytes of a message dict as decode_msg gives it (SAME_HEADS when
    heads is None; the shared list always written out)."""
    flags = m["flags"] & ~(F_SHARED_IS_HEADS | F_FILTER | F_SAME_HEADS)
    if m["heads"] is None:
        flags |= F_SAME_HEADS
    if m["filter"] is not None:
        flags |= F_FILTER
    out = bytearray([1, flags]) + m["tag"] + m["session"] + uvarint(m["round"])
    if m["heads"] is not None:
        out += uvarint(len(m["heads"])) + b"".join(sorted(set(m["heads"])))
    out += uvarint(len(m["shared"])) + b"".join(sorted(set(m["shared"])))
    if m["filter"] is not None:
        nbit, k, seed, bits = m["filter"]
        out += uvarint(nbit)
        if nbit:
            out += bytes([k]) + seed + bits
    out += uvarint(len(m["needs"])) + b"".join(sorted(set(m["needs"])))
    out += uvarint(len(m["ops"]))
    for op in m["ops"]:
        out += uvarint(len(op)) + op
    return bytes(out)


# ---------------------------------------------------------------------------
# Payloads of schema and write ops (docs/tables.md), for hand-made table ops.
import struct  # noqa: E402

SCHEMA_CREATE, SCHEMA_DROP = 1, 2


class Text:
    """A text value given as raw bytes (NUL bytes, invalid UTF-8)."""

    def __init__(self, raw):
        self.raw = raw


def enc_value(v):
    """value := tag, then its bytes.  None NULL, int, float (any bits: NaN,
    -0.0, inf), str or Text: text, bytes: blob."""
    if v is None:
        return b"\x00"
    if isinstance(v, bool):
        v = int(v)
    if isinstance(v, int):
        return b"\x01" + uvarint(((v << 1) ^ (v >> 63)) & 0xFFFFFFFFFFFFFFFF)
    if isinstance(v, float):
        return b"\x02" + struct.pack(">d", v)
    if isinstance(v, (str, Text)):
        raw = v.raw if isinstance(v, Text) else v.encode()
        return b"\x03" + uvarint(len(raw)) + raw
    return b"\x04" + uvarint(len(v)) + bytes(v)


def schema_create(name, cols):
    """cols: (name, declared type, key position 0 or 1..n) per column; names
    and types as str, or as bytes (any bytes a hostile op may carry)."""
    def raw(x):
        return x if isinstance(x, bytes) else x.encode()
    nb = raw(name)
    out = bytes([1, SCHEMA_CREATE]) + uvarint(len(nb)) + nb + uvarint(len(cols))
    for cname, ctype, pk in cols:
        cb, tb = raw(cname), raw(ctype)
        out += uvarint(len(cb)) + cb + uvarint(len(tb)) + tb + uvarint(pk)
    return out


def schema_drop(name):
    nb = name.encode()
    return bytes([1, SCHEMA_DROP]) + uvarint(len(nb)) + nb


def write_payload(tables, changes):
    """tables: the 32-byte hashes of the create ops written.  changes:
    ("upsert", table_index, [key values], {column index: value}, n_col) or
    ("delete", table_index, [key values])."""
    out = bytes([1]) + uvarint(len(tables)) + b"".join(tables) + uvarint(len(changes))
    for ch in changes:
        ti, keys = ch[1], ch[2]
        out += uvarint(ti * 2 + (1 if ch[0] == "delete" else 0))
        out += b"".join(enc_value(k) for k in keys)
        if ch[0] != "delete":
            vals, ncol = ch[3], ch[4]
            mask = bytearray((ncol + 7) // 8)
            for i in vals:
                mask[i // 8] |= 1 << (i % 8)
            out += bytes(mask) + b"".join(enc_value(vals[i]) for i in sorted(vals))
    return out
