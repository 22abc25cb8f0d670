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

KIND = {"create": 1, "add": 2, "remove": 3, "app": 4, "schema": 5, "write": 6,
        "root-open": 7, "dkg-deal": 8, "dkg-ack": 9, "name": 10,
        "root-request": 11, "root-approve": 12, "root-session": 13,
        "root-share": 14, "root": 15,
        "rekey": 16, "keyshare": 17, "encrypt": 18,
        "checkpoint": 19, "attest": 20, "dispute": 21, "config": 22}
ROLE = {"admin": 1, "member": 2, "relay": 3}
F_OFFER, F_SHARED_IS_HEADS, F_FILTER, F_KNOWS_ALL, F_SAME_HEADS = 1, 2, 4, 8, 16
# The extension byte of a version-2 message.
X_WANT_SNAPSHOT, X_SNAPSHOT, X_NO_SNAPSHOT, X_READER, X_SEALED = 1, 2, 4, 8, 16
X_WANT_BAND, X_BAND, X_NO_BAND = 0x20, 0x40, 0x80   # a longer band


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
    """BLAKE2b-256: the op id (of the header) and the payload hash."""
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


def verify(pub, sig, msg):
    """True if sig is a valid Ed25519 signature of msg by pub."""
    return sodium.crypto_sign_verify_detached(sig, msg, ctypes.c_ulonglong(len(msg)), pub) == 0


def make_header(key, kind, preds, payload, group, epochs=()):
    """The header of an op (op format 2): version 2, kind, group tag (zero
    in create), author, key epochs (must be empty in format 2), sorted
    predecessors, payload length and BLAKE2b-256 of the payload."""
    if kind == "create":
        group = None
    h = bytes([2, KIND[kind]]) + (group[:8] if group else bytes(8)) + key.pub
    epochs = sorted(set(epochs))
    h += uvarint(len(epochs)) + b"".join(epochs)
    preds = sorted(set(preds))
    h += uvarint(len(preds)) + b"".join(preds)
    return h + uvarint(len(payload)) + blake(payload)


def signed_message(group, op_id):
    """What an op's signature covers: "bec-op-v2" || group id (all zero for
    create) || op id."""
    return b"bec-op-v2" + (group or bytes(32)) + op_id


def make_op(key, kind, preds, payload, group):
    """The signed encoding of an op: header || signature || body (the
    payload).  group: the 32-byte group id (ignored, all zero, for create).
    Its id is blake(header), op_id(encoding)."""
    if kind == "create":
        group = None
    header = make_header(key, kind, preds, payload, group)
    return header + key.sign(signed_message(group, blake(header))) + payload


def decode_op(b):
    """An op's fields as a dict (kind name, tag, author, epochs, preds,
    payload_len, payload_hash, header, sig, body, id), or None unless b is
    exactly one op whose body matches its header.  It checks the layout
    only (not minimal varints or the kind rules: bec's decoder does), and
    not the signature: verify(m["author"], m["sig"], signed_message(group,
    m["id"]))."""
    return _decode(b, False)


def decode_header(b):
    """The fields of a header-only encoding (header || signature, exactly),
    body None; or None."""
    return _decode(b, True)


def _decode(b, header_only):
    try:
        if b[0] != 2 or not 1 <= b[1] <= len(KIND):
            return None
        m = {"kind": [k for k, v in KIND.items() if v == b[1]][0],
             "tag": bytes(b[2:10]), "author": bytes(b[10:42])}
        i = 42

        def hashes(i):
            n, i = read_varint(b, i)
            if i + 32 * n > len(b):
                raise IndexError
            hs = [bytes(b[i + 32 * k:i + 32 * k + 32]) for k in range(n)]
            if hs != sorted(set(hs)):
                raise IndexError
            return hs, i + 32 * n
        m["epochs"], i = hashes(i)
        if m["epochs"]:
            return None           # reserved for end-to-end encryption
        m["preds"], i = hashes(i)
        m["payload_len"], i = read_varint(b, i)
        m["payload_hash"] = bytes(b[i:i + 32])
        i += 32
        if i + 64 > len(b) or len(m["payload_hash"]) != 32:
            return None
        m["header"], m["sig"] = bytes(b[:i]), bytes(b[i:i + 64])
        m["id"] = blake(m["header"])
        i += 64
        if header_only:
            m["body"] = None
            return m if i == len(b) else None
        m["body"] = bytes(b[i:])
        if len(m["body"]) != m["payload_len"] or blake(m["body"]) != m["payload_hash"]:
            return None
        return m
    except IndexError:
        return None


def op_id(b):
    """The id of an encoded op: BLAKE2b-256 of its header (neither the
    signature nor the body is covered; the header covers the body by its
    hash), or None if no header parses.  A copy with a broken signature or
    body has the id of the op whose header it carries."""
    try:
        i = 42
        for _ in range(2):                    # key epochs, predecessors
            n, i = read_varint(b, i)
            i += 32 * n
        _, i = read_varint(b, i)              # payload length
        i += 32                               # payload hash
    except IndexError:
        return None
    return blake(bytes(b[:i])) if i + 64 <= len(b) else None


def decode_msg(b):
    """A sync message as a dict, or None if it does not parse to its end.
    heads is None when SAME_HEADS; filter is (n_bit, probes, seed (8 bytes),
    bits) or None."""
    try:
        m = {"version": b[0], "flags": b[1], "ext": 0}
        i = 2
        if m["version"] == 2:
            m["ext"], i = b[2], 3
        m["tag"], m["session"] = b[i:i + 8], b[i + 8:i + 16]
        i += 16
        m["round"], i = read_varint(b, i)
        m["reader"] = None
        if m["ext"] & X_READER:
            if i + 32 > len(b):
                raise IndexError
            m["reader"], i = bytes(b[i:i + 32]), i + 32

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
        m["snapshot"] = None
        if m["ext"] & X_SNAPSHOT:
            n, i = read_varint(b, i)
            m["snapshot"], i = bytes(b[i:i + n]), i + n
        m["want_band"] = None
        if m["ext"] & X_WANT_BAND:
            k, i = bytes(b[i:i + 32]), i + 32
            held, i = read_varint(b, i)
            preds, i = hashes(i)
            m["want_band"] = (k, held, preds)
        m["band"] = None
        if m["ext"] & X_BAND:
            n, i = read_varint(b, i)
            m["band"], i = bytes(b[i:i + n]), i + n
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
    ext = m.get("ext", 0)
    out = bytearray([2, flags, ext] if ext else [1, flags])
    out += m["tag"] + m["session"] + uvarint(m["round"])
    if ext & X_READER:
        out += m["reader"]
    if m["heads"] is not None:
        out += uvarint(len(m["heads"])) + b"".join(sorted(set(m["heads"])))
    out += uvarint(len(m["shared"])) + b"".join(sorted(set(m["shared"])))
    if m["filter"] is not None:
        nbit, k, seed, bits = m["filter"]
        out += uvarint(nbit)
        if nbit:
            out += bytes([k]) + seed + bits
    if ext & X_SNAPSHOT:
        out += uvarint(len(m["snapshot"])) + m["snapshot"]
    if ext & X_WANT_BAND:
        k, held, preds = m["want_band"]
        out += k + uvarint(held) + uvarint(len(preds)) + b"".join(sorted(set(preds)))
    if ext & X_BAND:
        out += uvarint(len(m["band"])) + m["band"]
    out += uvarint(len(m["needs"])) + b"".join(sorted(set(m["needs"])))
    out += uvarint(len(m["ops"]))
    for op in m["ops"]:
        out += uvarint(len(op)) + op
    return bytes(out)


# ---------------------------------------------------------------------------
# The snapshot (docs/wire-format.md "Snapshot"), parsed and rebuilt by hand.

# The digest's sections after ops, members and tables (bec-cut-v4), in order.
SNAPSHOT_SECTIONS = ("root", "epochs", "names", "checkpoints")


def snapshot_bytes(b, i):
    n, i = read_varint(b, i)
    return bytes(b[i:i + n]), i + n


def _snap_list(b, i):
    n, i = read_varint(b, i)
    out = []
    for _ in range(n):
        x, i = snapshot_bytes(b, i)
        out.append(x)
    return out, i


# A row leaf in a version-4 message: tokens (docs/wire-format.md
# "Snapshot"): varint 2*len then len literal bytes, or varint 2*off+1, the
# 32 bytes at offset off of the leaf expanded so far.
SNAPSHOT_REF = 32


def row_encode(leaf):
    """The tokens bec sends for a row leaf: left to right, a reference to
    the earliest 32 bytes that end before the next 32 and equal them, else
    a literal byte."""
    first = {}
    out = bytearray()
    i = lit = added = 0
    n = len(leaf)

    def literal(a, b):
        if b > a:
            out.extend(uvarint(2 * (b - a)) + leaf[a:b])
    while i + SNAPSHOT_REF <= n:
        while added + SNAPSHOT_REF <= i:
            first.setdefault(leaf[added:added + SNAPSHOT_REF], added)
            added += 1
        j = first.get(leaf[i:i + SNAPSHOT_REF])
        if j is None:
            i += 1
            continue
        literal(lit, i)
        out.extend(uvarint(2 * j + 1))
        i += SNAPSHOT_REF
        lit = i
    literal(lit, n)
    return bytes(out)


class RowTokens(bytes):
    """A row leaf given as its tokens: snapshot_encode sends it as it is
    (a test's other encodings, hostile ones too)."""


def row_expand(tok):
    """The row leaf tokens expand to (ValueError if they do not)."""
    out = bytearray()
    i = 0
    while i < len(tok):
        c, i = read_varint(tok, i)
        if c & 1:
            off = c >> 1
            if off + SNAPSHOT_REF > len(out):
                raise ValueError("a reference past the bytes before it")
            out.extend(out[off:off + SNAPSHOT_REF])
        else:
            if c == 0 or i + (c >> 1) > len(tok):
                raise ValueError("an empty or truncated literal")
            out.extend(tok[i:i + (c >> 1)])
            i += c >> 1
    return bytes(out)


def snapshot_parse(b):
    """A snapshot (docs/wire-format.md "Snapshot") as a dict; its row
    leaves expanded (version 4: sent as tokens)."""
    s = {"version": b[0], "group": bytes(b[1:33])}
    i = 33
    s["checkpoint"], i = snapshot_bytes(b, i)
    s["claims"], i = _snap_list(b, i)
    s["chain"], i = _snap_list(b, i)
    s["n_op"], i = read_varint(b, i)
    s["k"], i = read_varint(b, i)
    s["ops_root"], i = bytes(b[i:i + 32]), i + 32
    s["proofs"] = None
    if s["version"] >= 2:
        # per head of the cut, then per chain op in the cut:
        # (id, leaf index, depth, valid, [audit path hashes])
        s["proofs"], i = _snap_proofs(b, i)
    s["members"], i = _snap_list(b, i)
    n, i = read_varint(b, i)
    s["tables"] = []
    for _ in range(n):
        head, i = snapshot_bytes(b, i)
        rows, i = _snap_list(b, i)
        if s["version"] >= 4:
            rows = [row_expand(r) for r in rows]
        s["tables"].append((head, rows))
    # version 3 (bec-cut-v4): the leaves of the sections after the tables
    for sec in SNAPSHOT_SECTIONS:
        s[sec], i = _snap_list(b, i)
    # version 5: the band of cut headers (pruned form) and the proofs of
    # the band's and the boundary's ops leaves
    s["band"], s["band_proofs"] = None, None
    if s["version"] >= 5:
        s["band"], i = _snap_list(b, i)
        s["band_proofs"], i = _snap_proofs(b, i)
    # version 6: the headers (pruned form) of the cut's losing writes
    s["losers"] = None
    if s["version"] >= 6:
        s["losers"], i = _snap_list(b, i)
    assert i == len(b), "the whole message parsed"
    return s


def _snap_proofs(b, i):
    """A counted list of proofs: (id, leaf index, depth, valid, [audit
    path hashes]) each."""
    n, i = read_varint(b, i)
    out = []
    for _ in range(n):
        oid, i = bytes(b[i:i + 32]), i + 32
        idx, i = read_varint(b, i)
        depth, i = read_varint(b, i)
        valid, i = b[i], i + 1
        npath, i = read_varint(b, i)
        path = [bytes(b[i + 32 * j:i + 32 * j + 32]) for j in range(npath)]
        i += 32 * npath
        out.append((oid, idx, depth, valid, path))
    return out, i


def _snap_proofs_bytes(proofs):
    out = uvarint(len(proofs))
    for oid, idx, depth, valid, path in proofs:
        out += oid + uvarint(idx) + uvarint(depth) + bytes([valid])
        out += uvarint(len(path)) + b"".join(path)
    return out


def frame(x):
    return uvarint(len(x)) + x


def flist(xs):
    return uvarint(len(xs)) + b"".join(frame(x) for x in xs)


def snapshot_encode(s):
    """The bytes of a dict as snapshot_parse gives it."""
    out = bytes([s["version"]]) + s["group"] + frame(s["checkpoint"])
    out += flist(s["claims"]) + flist(s["chain"])
    out += uvarint(s["n_op"]) + uvarint(s["k"]) + s["ops_root"]
    if s["version"] >= 2:
        out += _snap_proofs_bytes(s["proofs"])
    out += flist(s["members"]) + uvarint(len(s["tables"]))
    for head, rows in s["tables"]:
        if s["version"] >= 4:
            rows = [r if isinstance(r, RowTokens) else row_encode(r) for r in rows]
        out += frame(head) + flist(rows)
    for sec in SNAPSHOT_SECTIONS:
        out += flist(s[sec])
    if s["version"] >= 5:
        out += flist(s["band"]) + _snap_proofs_bytes(s["band_proofs"])
    if s["version"] >= 6:
        out += flist(s["losers"])
    return out



# ---------------------------------------------------------------------------
# Table payloads (docs/tables.md, "Payloads (byte by byte)"): schema and
# write ops made by hand, and schema payloads read back.

class Text(bytes):
    """A text value given as its raw bytes (which need not be UTF-8), so a
    test can write text that Python's str cannot hold."""


def zigzag(v):
    """The zigzag form of a signed 64-bit integer."""
    return ((v << 1) ^ (v >> 63)) & 0xFFFFFFFFFFFFFFFF


def encode_value(v):
    """One value: None NULL, int integer (64-bit), float real (big-endian
    IEEE 754), str or Text text, bytes blob."""
    import struct
    if v is None:
        return b"\x00"
    if isinstance(v, bool):
        v = int(v)
    if isinstance(v, int):
        return b"\x01" + uvarint(zigzag(v))
    if isinstance(v, float):
        return b"\x02" + struct.pack(">d", v)
    if isinstance(v, Text):
        return b"\x03" + uvarint(len(v)) + bytes(v)
    if isinstance(v, str):
        b = v.encode("utf-8", "surrogatepass")
        return b"\x03" + uvarint(len(b)) + b
    if isinstance(v, (bytes, bytearray)):
        return b"\x04" + uvarint(len(v)) + bytes(v)
    if isinstance(v, Step):
        return b"\x05" + uvarint(((v.n << 1) ^ (v.n >> 63)) & ((1 << 64) - 1))
    raise TypeError("no bec value for %r" % (v,))


class Step:
    """A COUNTER's step as a write payload's cell (tag 5): write_payload
    encodes Step(n) as "add n to what the column shows"."""

    def __init__(self, n):
        self.n = n


def _name(s):
    b = s.encode("utf-8", "surrogatepass") if isinstance(s, str) else bytes(s)
    return uvarint(len(b)) + b


SCHEMA_VERSION = 3    # the first byte of schema payloads this bec reads


def schema_create(name, cols, opts=0, checks=(), check_version=1):
    """A schema payload (version 3) creating table name.  cols: (name, type,
    pk) per column, pk 0 or the column's 1-based position in the key,
    optionally followed by flags (1 NOT NULL, 2 DEFAULT, 16 COUNTER) and the DEFAULT
    value.  opts: 1 strict=1, 2 write='admin'.  checks: (name, expr,
    [column indexes read]).  Nothing is checked, so a test can write what
    the decoder must refuse."""
    out = bytes([SCHEMA_VERSION, 1]) + _name(name) + uvarint(len(cols))
    for col in cols:
        cname, ctype, pk = col[0], col[1], col[2]
        flags = col[3] if len(col) > 3 else 0
        out += _name(cname) + _name(ctype) + uvarint(pk) + uvarint(flags)
        if flags & 2:
            out += encode_value(col[4])
    out += uvarint(opts) + uvarint(check_version) + uvarint(len(checks))
    for cname, expr, reads in checks:
        mask = bytearray((len(cols) + 7) // 8)
        for i in reads:
            mask[i // 8] |= 1 << (i % 8)
        out += _name(cname) + _name(expr) + bytes(mask)
    return out


def schema_add(name, create_hash, col, opts=0, checks=(), check_version=1):
    """A schema payload (version 3) adding one column to the table whose
    create op is create_hash (bec_alter's ADD COLUMN).  col: (name, type,
    pk[, flags, default]) as in schema_create; checks read column 0."""
    body = schema_create(name, [col], opts, checks, check_version)
    head = bytes([SCHEMA_VERSION, 1]) + _name(name)
    return (bytes([SCHEMA_VERSION, 3]) + _name(name) + bytes(create_hash)
            + body[len(head):])


def schema_drop(name, creates, sort=True):
    """A schema payload dropping the incarnations whose create ops are the
    32-byte hashes creates (listed ascending unless sort is False), at
    table name (a label)."""
    creates = sorted(bytes(h) for h in creates) if sort else [bytes(h) for h in creates]
    return (bytes([SCHEMA_VERSION, 2]) + _name(name) + uvarint(len(creates))
            + b"".join(creates))


def schema_rename_column(name, create_hash, target, idx, new):
    """RENAME COLUMN: the column (target op's hash, its index there) of the
    table whose create op is create_hash gets name new."""
    return (bytes([SCHEMA_VERSION, 4]) + _name(name) + bytes(create_hash)
            + bytes(target) + uvarint(idx) + _name(new))


def schema_drop_column(name, create_hash, target, idx):
    """DROP COLUMN: the column (target op's hash, its index there)."""
    return (bytes([SCHEMA_VERSION, 5]) + _name(name) + bytes(create_hash)
            + bytes(target) + uvarint(idx))


def schema_rename_table(new, create_hash):
    """RENAME TO: the incarnation whose create op is create_hash is named
    new."""
    return bytes([SCHEMA_VERSION, 6]) + _name(new) + bytes(create_hash)


def _skip_value(p, i):
    tag = p[i]
    i += 1
    if tag in (1, 5):
        return read_varint(p, i)[1]
    if tag == 2:
        return i + 8
    if tag in (3, 4):
        n, i = read_varint(p, i)
        return i + n
    return i


def decode_schema(p):
    """A schema payload as ("create", name, [(col, type, pk)]),
    ("drop", name, [create hashes]) or ("rename", new name, create hash);
    names and types as bytes; None if malformed or another alter.
    Constraints are read past, not returned."""
    try:
        if p[0] != SCHEMA_VERSION or p[1] not in (1, 2, 6):
            return None
        i = 2
        n, i = read_varint(p, i)
        name, i = bytes(p[i:i + n]), i + n
        if p[1] == 2:
            nd, i = read_varint(p, i)
            hs = [bytes(p[i + 32 * k:i + 32 * k + 32]) for k in range(nd)]
            i += 32 * nd
            return ("drop", name, hs) if i == len(p) and nd >= 1 else None
        if p[1] == 6:
            h, i = bytes(p[i:i + 32]), i + 32
            return ("rename", name, h) if i == len(p) else None
        nc, i = read_varint(p, i)
        cols = []
        for _ in range(nc):
            n, i = read_varint(p, i)
            cname, i = bytes(p[i:i + n]), i + n
            n, i = read_varint(p, i)
            ctype, i = bytes(p[i:i + n]), i + n
            pk, i = read_varint(p, i)
            flags, i = read_varint(p, i)
            if flags & 2:
                i = _skip_value(p, i)
            cols.append((cname, ctype, pk))
        _, i = read_varint(p, i)
        _, i = read_varint(p, i)
        nk, i = read_varint(p, i)
        for _ in range(nk):
            n, i = read_varint(p, i)
            i += n
            n, i = read_varint(p, i)
            i += n
            i += (nc + 7) // 8
        return ("create", name, cols) if i == len(p) else None
    except IndexError:
        return None


def write_payload(tables, changes, adds=None):
    """A write payload (version 3).  tables: the 32-byte hashes of the create
    ops written.  adds: per table, the 32-byte hashes of the ADD COLUMN ops
    whose columns its changes write (default none); column n_col+k of a
    table is the column of its k-th ADD op.  changes: (table_index, keys,
    cols) with keys the key values in key order and cols None for a delete,
    else {column index: value} for an upsert; the mask is sized by n_col
    (+ adds), given as the 4th item of the change (default: 1 + the largest
    index written).  A value Step(n) is a counter's step."""
    adds = adds or [[] for _ in tables]
    out = (bytes([3]) + uvarint(len(tables)) + b"".join(tables)
           + b"".join(uvarint(len(a)) for a in adds)
           + b"".join(h for a in adds for h in a) + uvarint(len(changes)))
    for ch in changes:
        ti, keys, cols = ch[0], ch[1], ch[2]
        out += uvarint(ti * 2 + (1 if cols is None else 0))
        out += b"".join(encode_value(k) for k in keys)
        if cols is not None:
            ncol = ch[3] if len(ch) > 3 else (max(cols) + 1 if cols else 1)
            mask = bytearray((ncol + 7) // 8)
            for i in cols:
                mask[i // 8] |= 1 << (i % 8)
            out += bytes(mask) + b"".join(encode_value(cols[i]) for i in sorted(cols))
    return out


def op_preds(op):
    """The predecessor hashes of an encoded op (docs/wire-format.md)."""
    return list(decode_op(op)["preds"])
