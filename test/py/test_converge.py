"""Differential convergence test (issue 11): the same ops give the same state,
whatever they contain and however they arrive.

    make && BEC_EXT=$PWD/build/bec /usr/bin/python3 test/py/test_converge.py
    BEC_CONVERGE_SEED=17 BEC_CONVERGE_VERBOSE=1 ...    replay one seed, with its ops
    BEC_CONVERGE_SEEDS=2000 BEC_CONVERGE_START=10000 ... more seeds, another range

Per seed (one random.Random(seed); libsodium's randomness is seeded too, by
importing test/sim/bytesim.py, so a seed replays exactly on the same build):

  * three writers W0 (creator, admin), W1 (admin), W2 (member) make what an
    honest app makes, with plain SQL on the real extension: random schemas
    (declared types, composite keys, names differing only in case),
    INSERT / INSERT OR REPLACE / OR IGNORE / UPDATE (keys too) / DELETE in
    transactions (some rolled back), with keys and values of every storage
    class (NaN, +-0.0, +-inf, 1 vs 1.0, text with NUL bytes, invalid UTF-8,
    blobs, huge integers, long values), DROP TABLE, members added and
    removed, and syncs between writers (so writes are concurrent);
  * a hostile admin H, whose ops are made by hand with test/py/becwire.py:
    schema ops with arbitrary type strings ('TEXT UNIQUE', 'INT, x TEXT',
    ...), writes whose values do not fit their columns, NaN keys, writes
    naming unknown or old incarnations, drops and removals made on stale
    heads so they race the writers' ops; and ops acceptance must refuse
    (REFUSED: malformed schema and write payloads, a schema op by a member
    M that is never an admin and by an outsider), each checked refused by
    every replica (never stored, never left pending);
  * then every op (the writers' bec_ops bodies and every hand-made op) is
    delivered to fresh replicas: bec_ingest in a random order, in causal
    order, in reverse causal order (everything waits in the pending area),
    by sync from the writers, and by sync relayed through that replica;
    the writers also sync with each other and re-ingest the hand-made ops;
  * every replica must end with the same op set and valid flags (and
    reasons, if bec_ops has a reason column), bec_members, rows of every
    bec table compared with their storage classes, bec_conflicts, and
    bec_check() = 'ok'.  A hand-made op refused by one replica and stored by
    another is a failure; refused by all, it is just a refusal.

Switches that turn generators off (to find which one a failure needs):
BEC_CONVERGE_NO_HOSTILE, _NO_TYPES (hostile type strings), _NO_NAN,
_NO_NUMEQ (integral reals, +-0.0), _NO_NUL, _NO_UTF8, _NO_LONG, _NO_MEMBERS,
_NO_DROP, _NO_SYNC (writers never sync before the end), _NO_CASE (no table
names that differ only in case), _NO_CONSTRAINTS (no declared constraints),
_NO_ALTER (no bec_alter, no hand-made ADD COLUMN ops), _NO_COUNTER (no
COUNTER columns, no hand-made steps), _NO_POLICY (no write='admin'
tables), each =1.

Encrypted groups (issue 15, BEC_CONVERGE_ENCRYPTED=1; the normal run adds
BEC_CONVERGE_ENC_SEEDS of them, 6 by default): W0 makes the group with
bec_create_group('encrypted'), so every schema and write op is an envelope
and the writers' syncs heal.  H's hand-made schema and write ops are
plaintext, so acceptance refuses them everywhere.  The fresh replicas that
ingest in random, causal and reverse order are copies of W2 made before it
held any op, with W2's key file: same identity, so the same seeds once they
hold the same ops; F-sync and F-relay are relays (keyless).  Every replica
must hold the same ops, valid flags and members; replicas holding the same
seeds (bec_epochs.i_hold) must also agree on reasons, rows, conflicts and
bec_locked, and W2 and its copies must be among them; the relays show no
table.

Declared constraints (issue 13): some honest and hostile schemas declare
strict=1, NOT NULL with a DEFAULT, DEFAULTs, COLLATE, one-column CHECKs and
CHECKs over two columns (merge groups); the writers' statements that break them
are refused, the hostile writes that break them are stored and ignored (the
same reason everywhere), and after every run no replica shows a row that
breaks its table's constraints (no_violations: SQLite itself checks each
row against a plain table declared the same way).

Schema evolution (issue 13): the writers run bec_alter('t', 'ADD COLUMN ...')
(names that collide between concurrent writers, constraints, strict types)
and write the added columns; the hostile admin makes ADD COLUMN ops by hand
(columns named like the create's, options that differ, hostile types) and
writes that name ADD ops (its own and the writers', in or out of their causal
past, of other tables), and malformed ones acceptance refuses (an added key
column, a mask bit past the named ADD ops, an ADD op named twice).  Every
replica must show the same columns (bec_columns) in the same order.

Write policy (issue 13, docs/tables.md "Write policy"): some honest schemas
are write='admin'; W2 (a member) is refused at its statements, and a writer
demoted or removed concurrently with its writes to such a table has them
cancelled, alike on every replica: in an encrypted group the relays and the
copies of W2 that lack a key when the ops arrive judge them by the envelope's
admin mark (test_e2ee.py test_admin_table makes marks by hand).

Counters (issue 13, docs/tables.md "Counters"): some honest schemas and ADD
COLUMNs declare COUNTER columns, which the writers step (SET c = c + k, k up
to +-2^62) as well as set, reset and delete; the hostile member writes
steps (becwire.Step: to counters and to columns that are not, of -2^63 and
of 2^62; some cells stepped twice in one op, their combination in or out of
range) and non-integers to counters.  Every replica must agree, and no
counter shows anything but an integer.
"""
import os
import random
import sqlite3
import struct
import sys
import time
import traceback

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "test", "sim"))
sys.path.insert(0, HERE)

import bytesim  # noqa: E402  (first: it makes libsodium's randomness seeded)
from becwire import (Key, Step, Text, blake, decode_schema, make_op, op_id, op_preds,  # noqa: E402
                     read_varint, schema_add, schema_create, schema_drop, write_payload,
                     SCHEMA_VERSION, schema_rename_table)
from bectest import T, load_bec  # noqa: E402

OFF = {k for k in ("HOSTILE", "TYPES", "NAN", "NUMEQ", "NUL", "UTF8", "LONG", "MEMBERS", "DROP", "SYNC", "CASE",
                   "CONSTRAINTS", "ALTER", "COUNTER", "POLICY")
       if os.environ.get("BEC_CONVERGE_NO_" + k) == "1"}
VERBOSE = os.environ.get("BEC_CONVERGE_VERBOSE") == "1"
ENCRYPTED = os.environ.get("BEC_CONVERGE_ENCRYPTED") == "1"


# ---------------------------------------------------------------------------
# Values.  Each is (feature, SQL expression, Python value for hand-made ops);
# a feature in OFF removes it.

VALUES = [
    ("", "0", 0), ("", "1", 1), ("", "-7", -7), ("", "42", 42),
    ("", "9223372036854775807", 2 ** 63 - 1), ("", "-9223372036854775808", -2 ** 63),
    ("NUMEQ", "1.0", 1.0), ("NUMEQ", "0.0", 0.0), ("NUMEQ", "-0.0", -0.0), ("NUMEQ", "42.0", 42.0),
    ("", "1.5", 1.5), ("", "-2.25", -2.25), ("", "1e300", 1e300),
    ("", "9e999", float("inf")), ("", "-9e999", float("-inf")),
    ("NAN", "(9e999-9e999)", float("nan")),
    ("", "'a'", "a"), ("", "''", ""), ("", "'1'", "1"), ("", "'1.0'", "1.0"), ("", "'A'", "A"),
    ("NUL", "'a'||char(0)||'b'", Text(b"a\x00b")), ("NUL", "'a'||char(0)||'c'", Text(b"a\x00c")),
    ("NUL", "char(0)", Text(b"\x00")),
    ("UTF8", "CAST(x'ff00fe' AS TEXT)", Text(b"\xff\x00\xfe")), ("UTF8", "CAST(x'c3' AS TEXT)", Text(b"\xc3")),
    ("", "x''", b""), ("", "x'00ff'", b"\x00\xff"), ("", "x'61'", b"a"),
    ("LONG", "replace(hex(zeroblob(1500)), '00', 'zy')", "zy" * 1500),
    ("LONG", "zeroblob(5000)", bytes(5000)),
]
NAN_BITS = [struct.unpack(">d", bytes.fromhex(h))[0] for h in ("7ff8000000000000", "fff8000000000001")]


def values():
    return [v for v in VALUES if v[0] not in OFF]


def hostile_value(rng):
    x = rng.random()
    if x < 0.06 and "COUNTER" not in OFF:
        return Step(rng.choice([1, -1, 7, 2 ** 62, -2 ** 62, 2 ** 63 - 1, -2 ** 63]))
    if x < 0.08 and "NAN" not in OFF:
        return rng.choice(NAN_BITS)
    if x < 0.12:
        return None
    if x < 0.5:
        return rng.choice([v for v in values() if v[1] in HOT])[2]
    return rng.choice(values())[2]


KEY_TYPES = ["", "", "BLOB", "BLOB", "NUMERIC", "TEXT", "INTEGER", "REAL", "INT", "VARCHAR(10)"]
TYPES = ["TEXT", "INTEGER", "INT", "REAL", "BLOB", "", "NUMERIC", "VARCHAR(10)", "DOUBLE PRECISION", "BOOLEAN"]
HOSTILE_TYPES = ["TEXT UNIQUE", "TEXT COLLATE NOCASE", "INT, x TEXT", "TEXT NOT NULL", "INTEGER PRIMARY KEY",
                 "BLOB CHECK(0)", "TEXT DEFAULT(1)", "TEXT)", "(TEXT", "VARCHAR(10,20)", "REAL AS (1)",
                 "TEXT GENERATED ALWAYS AS (1)", "TEXT REFERENCES x", "INT PRIMARY KEY DESC", "TEXT,",
                 "INTEGER NOT NULL ON CONFLICT IGNORE", "NUMERIC(1,2)", "A B C D E F G", "INT)--", ",", "-1",
                 "TEXT COLLATE RTRIM", "INT UNIQUE, PRIMARY KEY(c0)"]
NAMES = ["t0", "t1", "t2", "T0", "t 3", 'q"t']
# Keys that are equal, or nearly, in some column type: drawn often, so that
# concurrent writes meet on them.
HOT = ["1", "1.0", "0", "0.0", "-0.0", "'1'", "'a'", "x'61'", "'a'||char(0)||'b'", "'a'||char(0)||'c'",
       "CAST(x'ff00fe' AS TEXT)", "CAST(x'ff00fd' AS TEXT)", "x'00ff'"]


# Declared constraints (issue 13).
STRICT_TYPES = ["INTEGER", "INT", "REAL", "TEXT", "BLOB", "ANY"]
DEFAULT_OF = {"INTEGER": "0", "INT": "7", "REAL": "0.5", "TEXT": "'d'", "BLOB": "x'00'", "ANY": "'a'"}
LOOSE_DEFAULTS = ["0", "'d'", "x'00'", "-3", "NULL"]
ONE_CHECKS = ["typeof({c}) <> 'real'", "{c} IS NULL OR abs({c}) < 1000 OR typeof({c}) IN ('text', 'blob')",
              "{c} IS NULL OR typeof({c}) <> 'text' OR length({c}) <= 4", "{c} IS NOT 'a'"]
GROUP_CHECKS = ["typeof({a}) <> 'blob' OR typeof({b}) <> 'blob'", "{a} IS NULL OR {b} IS NULL OR {a} <= {b}"]


def constraint_decl(rng, n, pk, types):
    """Column declarations for n columns c0.. (pk: the key's indexes, types:
    their types) with random constraints, and the table-level extras."""
    strict = rng.random() < 0.3
    cols, extra, counters = [], [], set()
    for i in range(n):
        t = rng.choice(STRICT_TYPES) if strict else types[i]
        d = "c%d %s" % (i, t)
        if i not in pk and "COUNTER" not in OFF and rng.random() < 0.2:
            # a counter: no CHECK, no merge group (counters.add)
            d = "c%d %s COUNTER%s" % (i, "INTEGER" if strict else rng.choice(["INTEGER", "INT", ""]),
                                      rng.choice(["", " DEFAULT 5", " DEFAULT -2"]))
            counters.add(i)
        elif i not in pk:
            x = rng.random()
            dflt = DEFAULT_OF[t] if strict else rng.choice(LOOSE_DEFAULTS)
            if x < 0.3 and dflt != "NULL":
                d += " NOT NULL DEFAULT %s" % dflt
            elif x < 0.55:
                d += " DEFAULT %s" % dflt
            if rng.random() < 0.35:
                d += " CHECK (%s)" % rng.choice(ONE_CHECKS).format(c="c%d" % i)
            if rng.random() < 0.15:
                d += " COLLATE %s" % rng.choice(["NOCASE", "RTRIM", "BINARY"])
        cols.append(d)
    nonkey = [i for i in range(n) if i not in pk and i not in counters]
    if len(nonkey) >= 2 and rng.random() < 0.5:
        a, b = rng.sample(nonkey, 2)
        extra.append("CHECK (%s)" % rng.choice(GROUP_CHECKS).format(a="c%d" % a, b="c%d" % b))
    if strict:
        extra.append("strict=1")
    return cols, extra


def hostile_constraints(rng, cols):
    """becwire schema_create arguments for hand-made columns with
    constraints: (cols, opts, checks); read masks sometimes wrong."""
    out = []
    for c in cols:
        if not c[2] and "COUNTER" not in OFF and rng.random() < 0.15:
            out.append((c[0], rng.choice(["INTEGER", "TEXT"]), 0, rng.choice([16, 18]), rng.choice([3, "d"])))
        elif not c[2] and rng.random() < 0.4:
            out.append(c + (3 if rng.random() < 0.5 else 2, rng.choice([0, "d", b"\x00", None])))
        else:
            out.append(c)
    nonkey = [i for i, c in enumerate(cols) if not c[2]]
    checks = []
    if nonkey and rng.random() < 0.5:
        i = rng.choice(nonkey)
        checks.append(("", ONE_CHECKS[0].format(c="c%d" % i), [i] if rng.random() < 0.9 else [0]))
    if len(nonkey) >= 2 and rng.random() < 0.5:
        a, b = rng.sample(nonkey, 2)
        checks.append(("g", GROUP_CHECKS[1].format(a="c%d" % a, b="c%d" % b), sorted([a, b])))
    return out, (1 if rng.random() < 0.2 else 0), checks


def no_violations(r):
    """Failure strings for every row a bec table of replica r shows that
    breaks its declared constraints: SQLite checks each row as it is
    inserted into a plain table declared the same way (STRICT for
    strict=1), without the key (bec's key identity is not SQL's)."""
    import re
    out = []
    for name, sql in r.db.execute("SELECT name, sql FROM sqlite_master WHERE type='table' AND sql LIKE "
                                  "'CREATE VIRTUAL TABLE%USING bec(%' AND name NOT LIKE 'bec_%'").fetchall():
        decl = sql[sql.index("bec(") + 4:sql.rindex(")")]
        for (c,) in r.db.execute("SELECT name FROM bec_columns WHERE tbl=? AND merge='counter'", (name,)):
            for (v,) in r.db.execute("SELECT DISTINCT typeof(%s) FROM %s" % (qid(c), qid(name))):
                if v != "integer":
                    out.append("%s: counter %s.%s shows a value of type %s" % (r.name, name, c, v))
        decl = re.sub(r"\bCOUNTER\b", "", decl)
        if "CHECK" not in decl and "NOT NULL" not in decl and "strict" not in decl:
            continue
        strict = re.search(r",\s*strict\s*=\s*1", decl) is not None
        decl = re.sub(r",\s*(strict\s*=\s*\d|write\s*=\s*'\w+')", "", decl)
        decl = re.sub(r",\s*PRIMARY KEY\s*\([^)]*\)", "", decl)
        decl = re.sub(r"PRIMARY KEY", "", decl)
        try:
            r.db.execute("DROP TABLE IF EXISTS temp.bec_chk")
            r.db.execute("CREATE TEMP TABLE bec_chk(%s)%s" % (decl, " STRICT" if strict else ""))
            for (rowid,) in r.db.execute("SELECT rowid FROM %s" % qid(name)).fetchall():
                try:
                    r.db.execute("INSERT INTO temp.bec_chk SELECT * FROM %s WHERE rowid=?" % qid(name), (rowid,))
                except sqlite3.IntegrityError as e:
                    out.append("%s: table %s shows row %d, which breaks its constraints: %s"
                               % (r.name, name, rowid, e))
        except sqlite3.Error as e:
            out.append("%s: cannot check table %s (%s): %s" % (r.name, name, decl, e))
        r.db.execute("DROP TABLE IF EXISTS temp.bec_chk")
    return out


# The kinds of op acceptance must refuse that the hostile generator makes.
REFUSED = ["schema.version", "schema.ncol0", "schema.keypos", "schema.nokey", "schema.trailing",
           "schema.truncated", "schema.member", "schema.outsider",
           "write.version", "write.truncated", "write.trailing", "write.tableindex", "write.nchange0",
           "write.duptable", "write.keymask", "write.maskwidth"]
if "ALTER" not in OFF:
    REFUSED += ["schema.addkey", "write.addmask", "write.dupadd"]
ADD_NAMES = ["x0", "x1", "X1", "x2"]


def names():
    return [n for n in NAMES if n != "T0" or "CASE" not in OFF]


def qid(name):
    """An identifier quoted for SQL."""
    return '"' + name.replace('"', '""') + '"'


def short(x):
    """repr with long values cut, for the log."""
    if isinstance(x, (list, tuple)):
        return "[" + ", ".join(short(v) for v in x) + "]"
    if isinstance(x, dict):
        return "{" + ", ".join("%s: %s" % (k, short(v)) for k, v in x.items()) + "}"
    if isinstance(x, (bytes, str)) and len(x) > 12:
        return "%s...(%d)" % (repr(x[:6]), len(x))
    if isinstance(x, float) and x != x:
        return "nan:" + struct.pack(">d", x).hex()
    return repr(x)


def cell(t, v):
    """A value with its storage class, comparable and printable."""
    if isinstance(v, float):
        return (t, struct.pack(">d", v).hex())
    return (t, v)


# ---------------------------------------------------------------------------
# Replicas.

class Rep:
    def __init__(self, name, src=None):
        self.name = name
        self.db = sqlite3.connect(":memory:", isolation_level=None)
        if src is not None:
            src.backup(self.db)
        load_bec(self.db)
        self.pub = None

    def q(self, sql, *args):
        row = self.db.execute(sql, args).fetchone()
        return None if row is None else row[0]

    def heads(self):
        return [bytes.fromhex(r[0]) for r in self.db.execute("SELECT hash FROM bec_heads ORDER BY hash")]

    def bodies(self):
        return [r[0] for r in self.db.execute("SELECT body FROM bec_ops")]

    def tables(self):
        """The current incarnation of every table name, from the schema ops
        this replica holds, by the rule of docs/tables.md (greatest (depth,
        hash) among the valid schema ops of a name, case-insensitively):
        {lower name: (name, cols, create hash)} for the names that exist.
        In an encrypted group the payloads are ciphertext: the tables this
        replica shows, with no hash."""
        if ENCRYPTED:
            out = {}
            for (t,) in self.db.execute("SELECT name FROM sqlite_master WHERE type='table' AND sql LIKE "
                                        "'CREATE VIRTUAL TABLE%USING bec(%' AND name NOT LIKE 'bec_%'").fetchall():
                cols = [(n.encode(), ty.encode(), 1 + cid if m == "key" else 0)
                        for cid, n, ty, m in self.db.execute("SELECT cid, name, type, merge FROM bec_columns "
                                                             "WHERE tbl=? ORDER BY cid", (t,)).fetchall()]
                out[t.lower()] = (t, cols, None)
            return out
        # incarnations: a name is a register (create, RENAME TO); a drop
        # ends the incarnations it lists; per name, the greater naming op
        ops = [(bytes.fromhex(h), (depth, h), decode_schema(p)) for h, depth, p in self.db.execute(
            "SELECT hash, depth, payload FROM bec_ops WHERE kind='schema' AND valid")]
        inc = {h: [s[1], o, s[2]] for h, o, s in ops if s and s[0] == "create"}
        dropped = set()
        for h, o, s in ops:
            if s and s[0] == "rename" and s[2] in inc and o > inc[s[2]][1]:
                inc[s[2]][:2] = [s[1], o]
            elif s and s[0] == "drop":
                dropped.update(s[2])
        win = {}
        for h, (name, o, cols) in inc.items():
            if h not in dropped and (name.lower() not in win or o > win[name.lower()][0]):
                win[name.lower()] = (o, name, cols, h)
        return {k: (name.decode("utf-8", "replace"), cols, h) for k, (_, name, cols, h) in win.items()}

    def adds(self, applied=False):
        """Every ADD COLUMN op this replica holds (with applied, those the
        merge does not ignore): {create hash: [add hash]}."""
        out = {}
        for h, p in self.db.execute("SELECT hash, payload FROM bec_ops WHERE kind='schema'%s"
                                    % (" AND reason IS NULL" if applied else "")):
            if len(p) > 2 and p[0] == SCHEMA_VERSION and p[1] == 3:
                n, i = read_varint(p, 2)
                out.setdefault(bytes(p[i + n:i + n + 32]), []).append(bytes.fromhex(h))
        return out

    def shown_cols(self, name):
        """The columns table name shows here (its added ones too)."""
        return [r[1] for r in self.db.execute("PRAGMA table_info(%s)" % qid(name))]

    def creates(self):
        """Every create op this replica holds: (hash, cols); none can be read
        in an encrypted group."""
        out = []
        if ENCRYPTED:
            return out
        for h, p in self.db.execute("SELECT hash, payload FROM bec_ops WHERE kind='schema'"):
            s = decode_schema(p)
            if s and s[0] == "create":
                out.append((bytes.fromhex(h), s[2]))
        return out


def session(a, b, limit=200):
    """One sync session, a offers to b (each names the other by its name);
    None when it ends, else the error."""
    try:
        m = a.q("SELECT bec_sync_offer(?)", b.name)
        send, recv = a, b
        n = 0
        while m is not None:
            n += 1
            if n > limit:
                return "no end after %d messages" % limit
            m = recv.q("SELECT bec_sync_apply(?, ?)", send.name, m)
            send, recv = recv, send
        return None
    except sqlite3.Error as e:
        return "%s -> %s: %s" % (send.name, recv.name, e)


def snapshot(r):
    """Everything that must agree between replicas holding the same ops."""
    db = r.db
    db.text_factory = bytes
    try:
        s = {}
        cols = [c[1].decode() for c in db.execute("PRAGMA table_info(bec_ops)")]
        extra = ", reason" if "reason" in cols else ""
        s["ops"] = sorted(db.execute("SELECT hash, valid%s FROM bec_ops" % extra))
        s["members"] = sorted(db.execute("SELECT pubkey, role, rank, added_by, added_in FROM bec_members"))
        s["tables"] = {}
        for (t,) in db.execute("SELECT name FROM sqlite_master WHERE type='table' AND sql LIKE "
                               "'CREATE VIRTUAL TABLE%' AND name NOT LIKE 'bec_%' ORDER BY name").fetchall():
            t = t.decode("utf-8", "replace")
            try:
                names = [c[1].decode("utf-8", "replace") for c in db.execute("PRAGMA table_info(%s)" % qid(t))]
                sel = ", ".join("typeof(%s), %s" % (qid(c), qid(c)) for c in names)
                rows = [tuple(cell(row[i], row[i + 1]) for i in range(0, len(row), 2))
                        for row in db.execute("SELECT %s FROM %s" % (sel, qid(t)))]
                s["tables"][t.lower()] = (t, names, sorted(rows, key=repr))
            except sqlite3.Error as e:
                s["tables"][t.lower()] = "error: %s" % e
        ccols = ["table", "pk", "column", "value", "op", "author"]
        sel = ", ".join("typeof(%s), %s" % (qid(c), qid(c)) for c in ccols)
        s["columns"] = db.execute("SELECT * FROM bec_columns").fetchall()
        s["conflicts"] = sorted((tuple(cell(row[i], row[i + 1]) for i in range(0, len(row), 2))
                                 for row in db.execute("SELECT %s FROM bec_conflicts" % sel)), key=repr)
        if ENCRYPTED:
            s["locked"] = sorted(db.execute("SELECT op, epochs, reason FROM bec_locked"))
            s["held"] = sorted(db.execute("SELECT epoch FROM bec_epochs WHERE i_hold"))
    finally:
        db.text_factory = str
    return s


def diff(a, b):
    out = []
    for k in a:
        if a[k] == b[k]:
            continue
        if k == "ops":
            da = {x[0]: x[1:] for x in a[k]}
            db_ = {x[0]: x[1:] for x in b[k]}
            d = [(h[:12].decode(), da.get(h), db_.get(h)) for h in sorted(set(da) | set(db_))
                 if da.get(h) != db_.get(h)]
            out.append("ops differ (hash, here, there): %r" % d[:6])
        elif k == "tables":
            for t in sorted(set(a[k]) | set(b[k])):
                x, y = a[k].get(t), b[k].get(t)
                if x == y:
                    continue
                if isinstance(x, tuple) and isinstance(y, tuple) and x[:2] == y[:2]:
                    sx, sy = set(x[2]), set(y[2])
                    out.append("table %s rows: only here %s; only there %s"
                               % (t, short(sorted(sx - sy, key=repr))[:400], short(sorted(sy - sx, key=repr))[:400]))
                else:
                    out.append("table %s: %s != %s" % (t, short(x)[:300], short(y)[:300]))
        elif k == "conflicts":
            sx, sy = set(a[k]), set(b[k])
            out.append("conflicts: only here %s; only there %s"
                       % (short(sorted(sx - sy, key=repr))[:400], short(sorted(sy - sx, key=repr))[:400]))
        else:
            out.append("%s: %s != %s" % (k, short(a[k])[:300], short(b[k])[:300]))
    return "; ".join(out)


# ---------------------------------------------------------------------------
# One scenario.

class Scenario:
    def __init__(self, seed):
        self.seed = seed
        self.rng = random.Random(seed)
        bytesim.reseed_sodium(seed)
        self.log_lines = []
        self.hand = []           # every hand-made op, in the order made
        self.what = {}           # hash (hex) -> what a hand-made op does
        self.errs = {}           # (replica, hash) -> the error its ingest raised
        self.fails = []
        self.sync_fails = []
        self.stats = {}

    def log(self, *a):
        line = " ".join(str(x) for x in a)
        self.log_lines.append(line)
        if VERBOSE:
            print("  " + line, flush=True)

    def count(self, k):
        self.stats[k] = self.stats.get(k, 0) + 1

    def fail(self, what):
        self.fails.append(what)

    def sync_fail(self, what):
        """Failed sessions come in bursts (the same cause each round): one
        line per seed, placed after the differences in state."""
        self.sync_fails.append(what)

    # -- setup ------------------------------------------------------------
    def setup(self):
        self.ws = [Rep("W%d" % i) for i in range(3)]
        if ENCRYPTED:
            # W2's key in a file, so that copies of it read what it reads.
            import tempfile
            self.keydir = tempfile.TemporaryDirectory(prefix="bec_converge_")
            self.w2key = os.path.join(self.keydir.name, "w2.key")
            self.ws[2].q("SELECT bec_key_file(?)", self.w2key)
        for w in self.ws:
            w.pub = w.q("SELECT bec_keygen()")
        w0 = self.ws[0]
        self.group = bytes.fromhex(w0.q("SELECT bec_create_group(%s)" % ("'encrypted'" if ENCRYPTED else "")))
        self.hkey = Key(bytes.fromhex("%064x" % (self.seed * 7919 + 13)))
        self.outsider = Key(bytes.fromhex("%064x" % (self.seed * 7919 + 14)))
        # M: a member that nobody ever promotes (honest_member never picks
        # it), so its schema ops are refused at acceptance.
        self.mkey = Key(bytes.fromhex("%064x" % (self.seed * 7919 + 15)))
        w0.q("SELECT bec_add_member(?, 'admin')", self.ws[1].pub)
        w0.q("SELECT bec_add_member(?, 'member')", self.ws[2].pub)
        if "HOSTILE" not in OFF:
            w0.q("SELECT bec_add_member(?, 'admin')", self.hkey.hex)
            w0.q("SELECT bec_add_member(?, 'member')", self.mkey.hex)
        for w in self.ws[1:]:
            w.q("SELECT bec_join(?)", self.group.hex())
            if ENCRYPTED and w is self.ws[2]:
                self.w2blank = sqlite3.connect(":memory:")
                w.db.backup(self.w2blank)
            err = session(w0, w)
            if err:
                self.fail("setup sync: " + err)
        self.stale = []          # (heads, creates) snapshots for racing ops
        self.hlast = None        # H's last op, so its ops form chains
        self.refuse = {}         # hash -> category of an op acceptance must refuse

    # -- honest SQL ---------------------------------------------------------
    def run_sql(self, w, stmts, txn):
        db = w.db
        try:
            if txn:
                db.execute("BEGIN")
            for s in stmts:
                self.log(w.name, s[:160])
                try:
                    db.execute(s).fetchall()
                    self.count("sql.ok")
                except sqlite3.Error as e:
                    self.log("   refused:", e)
                    self.count("sql.refused")
                    if not txn:
                        return
            if txn:
                end = "ROLLBACK" if self.rng.random() < 0.15 else "COMMIT"
                self.log(w.name, end)
                db.execute(end)
        except sqlite3.Error as e:
            self.log("   refused:", e)
            self.count("sql.refused")
        if db.in_transaction:
            db.execute("ROLLBACK")

    def key_sql(self, n):
        vs = [v[1] for v in values() if v[0] != "LONG" or self.rng.random() < 0.3]
        hot = [v for v in HOT if v in vs or v == "CAST(x'ff00fd' AS TEXT)" and "UTF8" not in OFF]
        return [self.rng.choice(hot if self.rng.random() < 0.6 else vs) for _ in range(n)]

    def honest_write(self, w):
        rng = self.rng
        tabs = list(w.tables().values())
        if not tabs:
            return self.honest_schema(w)
        stmts = []
        for _ in range(rng.choice([1, 1, 1, 2, 3, 4])):
            name, cols, _ = rng.choice(tabs)
            cn = [c[0].decode("utf-8", "replace") for c in cols]
            keys = [cn[i] for i in sorted(range(len(cols)), key=lambda i: cols[i][2]) if cols[i][2]]
            info = w.db.execute("SELECT name, merge FROM bec_columns WHERE tbl=? ORDER BY cid", (name,)).fetchall()
            if info:
                # its columns as this writer shows them: renamed, dropped, added
                keys = [r[0] for r in info if r[1] == "key"]
                cn = [r[0] for r in info if r[1] == "key" or rng.random() < 0.8]
            other = [c for c in cn if c not in keys]
            cond = " AND ".join("%s = %s" % (qid(k), v) for k, v in zip(keys, self.key_sql(len(keys))))
            x = rng.random()
            if x < 0.45:
                verb = rng.choice(["INSERT", "INSERT OR REPLACE", "INSERT OR REPLACE", "INSERT OR IGNORE"])
                ctr = [r[0] for r in info if r[1] == "counter"] if info else []
                vals = [(rng.choice(["0", "1", "-3", "9"]) if c in ctr and rng.random() < 0.9
                         else rng.choice(values())[1]) if c in other else None for c in cn]
                ks = iter(self.key_sql(len(keys)))
                vals = [next(ks) if c in keys else v for c, v in zip(cn, vals)]
                stmts.append("%s INTO %s(%s) VALUES(%s)" % (verb, qid(name), ", ".join(map(qid, cn)), ", ".join(vals)))
            elif (x < 0.62 or rng.random() < 0.5) and info \
                    and [r for r in info if r[1] == "counter" and r[0] in other]:
                c = rng.choice([r[0] for r in info if r[1] == "counter" and r[0] in other])
                k = rng.choice([1, 1, -1, 3, 2 ** 62, -2 ** 62])
                # a row it shows, mostly: steps meet on rows that exist
                where = cond if rng.random() < 0.3 else \
                    "rowid = (SELECT rowid FROM %s LIMIT 1 OFFSET %d)" % (qid(name), rng.randrange(3))
                stmts.append("UPDATE %s SET %s = %s + %d WHERE %s" % (qid(name), qid(c), qid(c), k, where))
                self.count("counter.step")
            elif x < 0.65 and other:
                c = rng.choice(other)
                stmts.append("UPDATE %s SET %s = %s WHERE %s" % (qid(name), qid(c), rng.choice(values())[1], cond))
            elif x < 0.72:
                k = rng.choice(keys)
                stmts.append("UPDATE %s SET %s = %s WHERE %s" % (qid(name), qid(k), self.key_sql(1)[0], cond))
            elif x < 0.92:
                stmts.append("DELETE FROM %s WHERE %s" % (qid(name), cond))
            elif x < 0.96:
                stmts.append("DELETE FROM %s" % qid(name))
            else:
                stmts.append("SELECT bec_sign(%s)" % rng.choice(values())[1])
        self.run_sql(w, stmts, len(stmts) > 1 or rng.random() < 0.1)

    def honest_alter(self, w, tabs):
        """bec_alter ADD, RENAME or DROP COLUMN on a table w shows."""
        rng = self.rng
        name = rng.choice(sorted(tabs.values()))[0]
        shown = w.shown_cols(name)
        quoted = "'%s'" % name.replace("'", "''")
        if rng.random() < 0.1:
            d = "RENAME TO %s" % qid(rng.choice(names()))
            self.count("rename.honest")
            return self.run_sql(w, ["SELECT bec_alter(%s, '%s')" % (quoted, d.replace("'", "''"))], False)
        if shown and rng.random() < 0.45:
            col = rng.choice(shown)
            if rng.random() < 0.5:
                d = "RENAME COLUMN %s TO %s" % (qid(col), rng.choice(ADD_NAMES + ["y0", "Y0", "c0"]))
            else:
                d = "DROP COLUMN %s" % qid(col)
            self.count("alter.honest")
            return self.run_sql(w, ["SELECT bec_alter(%s, '%s')" % (quoted, d.replace("'", "''"))], False)
        sql = w.q("SELECT sql FROM sqlite_master WHERE name=?", name) or ""
        strict = "strict=1" in sql
        col = rng.choice(ADD_NAMES)
        t = rng.choice(STRICT_TYPES) if strict else rng.choice(TYPES)
        if "COUNTER" not in OFF and rng.random() < 0.15:
            self.count("alter.counter")
            d = "ADD COLUMN %s INTEGER COUNTER%s" % (col, rng.choice(["", " DEFAULT 3"]))
            lit = "'" + d.replace("'", "''") + "'"
            return self.run_sql(w, ["SELECT bec_alter('%s', %s)" % (name.replace("'", "''"), lit)], False)
        d = "ADD COLUMN %s %s" % (col, t)
        dflt = DEFAULT_OF[t] if strict else rng.choice(LOOSE_DEFAULTS)
        x = rng.random()
        if x < 0.3 and dflt != "NULL":
            d += " NOT NULL DEFAULT %s" % dflt
        elif x < 0.6:
            d += " DEFAULT %s" % dflt
        if rng.random() < 0.3:
            d += " CHECK (%s)" % rng.choice(ONE_CHECKS).format(c=col)
        if rng.random() < 0.1:
            d += " COLLATE NOCASE"
        lit = "'" + d.replace("'", "''") + "'"
        self.count("alter.honest")
        self.run_sql(w, ["SELECT bec_alter('%s', %s)" % (name.replace("'", "''"), lit)], False)

    def honest_schema(self, w):
        rng = self.rng
        tabs = w.tables()
        if tabs and "ALTER" not in OFF and rng.random() < 0.3:
            return self.honest_alter(w, tabs)
        if tabs and "DROP" not in OFF and rng.random() < 0.3:
            name = rng.choice(sorted(tabs.values()))[0]
            return self.run_sql(w, ["DROP TABLE %s" % qid(name)], False)
        name = rng.choice(names()[:2] if rng.random() < 0.6 else names())
        n = rng.randrange(1, 5)
        if n > 1 and rng.random() < 0.3:
            pk = rng.sample(range(n), rng.randrange(1, n + 1))
        else:
            pk = [rng.randrange(n)]
        types = [rng.choice(KEY_TYPES if i in pk else TYPES) for i in range(n)]
        cols = ["c%d %s" % (i, types[i]) for i in range(n)]
        extra = []
        nonkey = [i for i in range(n) if i not in pk]
        if nonkey and "COUNTER" not in OFF and rng.random() < 0.5:
            i = rng.choice(nonkey)
            cols[i] = "c%d INTEGER COUNTER" % i
        if "CONSTRAINTS" not in OFF and rng.random() < 0.4:
            cols, extra = constraint_decl(rng, n, pk, types)
        if len(pk) > 1 or rng.random() < 0.5:
            cols.append("PRIMARY KEY(%s)" % ", ".join("c%d" % i for i in pk))
        else:
            cols[pk[0]] = cols[pk[0]].replace(" ", " PRIMARY KEY ", 1) if " NOT NULL" in cols[pk[0]] \
                else cols[pk[0]] + " PRIMARY KEY"
        cols += extra
        if "POLICY" not in OFF and rng.random() < 0.25:
            cols.append("write='admin'")
            self.count("policy.tables")
        self.run_sql(w, ["CREATE VIRTUAL TABLE %s USING bec(%s)" % (qid(name), ", ".join(cols))], False)

    def honest_member(self, w):
        rng = self.rng
        who = rng.choice(self.ws[1:] + ([self.hkey] if "HOSTILE" not in OFF else []))
        pub = who.pub if isinstance(who, Rep) else who.hex
        wname = who.name if isinstance(who, Rep) else "H"
        try:
            if rng.random() < 0.5:
                self.log(w.name, "removes", wname)
                w.q("SELECT bec_remove_member(?)", pub)
            else:
                role = rng.choice(["admin", "member"])
                self.log(w.name, "adds", wname, role)
                w.q("SELECT bec_add_member(?, ?)", pub, role)
            self.count("member.ok")
        except sqlite3.Error as e:
            self.log("   refused:", e)
            self.count("member.refused")

    # -- hostile ops ----------------------------------------------------------
    def malformed(self, w):
        """An op that acceptance must refuse on every replica (docs/tables.md
        "Payloads", docs/membership.md "Acceptance"): malformed payload
        bytes, or a schema op by a key with no admin grant.  Made on w's
        heads, so w judges it at once; it is delivered everywhere."""
        rng = self.rng
        creates = w.creates()
        cats = [c for c in REFUSED if creates or not (c.startswith("write.") or c == "schema.addkey")]
        cat = rng.choice(cats)
        key = self.mkey if cat == "schema.member" else self.outsider if cat == "schema.outsider" else self.hkey
        name = rng.choice(names())
        n = rng.randrange(1, 4)
        cols = [("c%d" % i, rng.choice(TYPES), 1 if i == 0 else 0) for i in range(n)]
        good = schema_create(name, cols)
        kind = "schema"
        if cat == "schema.version":
            payload = bytes([rng.choice([1, 2, SCHEMA_VERSION + 1])]) + good[1:]
        elif cat == "schema.ncol0":
            payload = good[:3 + good[2]] + b"\x00\x00\x01\x00"
        elif cat == "schema.keypos":
            bad = rng.choice([n + 2, 0x80, 1])   # out of range (2 key columns), or position 1 twice
            payload = schema_create(name, cols + [("k", "TEXT", bad)])
        elif cat == "schema.nokey":
            payload = schema_create(name, [(c, t, 0) for c, t, _ in cols])
        elif cat == "schema.addkey":
            h = rng.choice(creates)[0]
            payload = schema_add(name, h, ("x0", "TEXT", 1))
            if rng.random() < 0.5:             # two columns
                payload = schema_create(name, [("x0", "TEXT", 0), ("x1", "TEXT", 0)])
                payload = bytes([SCHEMA_VERSION, 3]) + payload[2:3 + payload[2]] + h + payload[3 + payload[2]:]
        elif cat == "schema.trailing":
            payload = good + bytes([rng.randrange(256)])
        elif cat == "schema.truncated":
            payload = good[:rng.randrange(1, len(good))]
        elif cat.startswith("schema."):
            payload = good
        else:
            kind = "write"
            h, tcols = rng.choice(creates)
            nk = sum(1 for c in tcols if c[2])
            nonkey = [i for i, c in enumerate(tcols) if not c[2]]
            keys = [rng.choice([1, "a", b"b"]) for _ in range(nk)]
            written = {i: 1 for i in nonkey[:1]}
            good = write_payload([h], [(0, keys, written, len(tcols))])
            if cat == "write.version":
                payload = bytes([rng.choice([1, 2, 4])]) + good[1:]
            elif cat == "write.truncated":
                payload = good[:rng.randrange(1, len(good))]
            elif cat == "write.trailing":
                payload = good + bytes([rng.randrange(256)])
            elif cat == "write.tableindex":
                payload = write_payload([h], [(1, keys, None)])
            elif cat == "write.nchange0":
                payload = write_payload([h], [])
            elif cat == "write.duptable":
                payload = write_payload([h, h], [(0, keys, None)])
            elif cat == "write.addmask":          # a bit past the named ADD ops
                ah = w.adds(True).get(h, [])[:1]     # (one the merge applies: parsed)
                if (len(tcols) + len(ah)) % 8 == 0:     # (the bit in the mask's last byte)
                    ah = []
                payload = write_payload([h], [(0, keys, {len(tcols) + len(ah): 1}, len(tcols) + len(ah) + 1)],
                                        adds=[ah])
            elif cat == "write.dupadd":
                ah = (w.adds().get(h) or [bytes(32)])[0]
                payload = write_payload([h], [(0, keys, written, len(tcols))], adds=[[ah, ah]])
            elif cat == "write.keymask":
                k = [i for i, c in enumerate(tcols) if c[2]][0]
                payload = write_payload([h], [(0, keys, {k: 1}, len(tcols))])
            else:                              # a mask bit at i >= n_col
                payload = write_payload([h], [(0, keys, {len(tcols): 1}, len(tcols) + 1)])
        op = make_op(key, kind, w.heads(), payload, self.group)
        self.hand.append(op)
        self.refuse[op_id(op).hex()] = cat
        self.what[op_id(op).hex()] = "malformed %s: %s" % (cat, payload.hex()[:80])
        try:
            w.q("SELECT bec_ingest(?)", op)
            self.fail("%s: acceptance stored a malformed op (%s): %s" % (w.name, cat, payload.hex()[:120]))
        except sqlite3.Error as e:
            self.log("H on", w.name, "malformed", cat, "->", op_id(op).hex()[:12], "refused:", e)
            want = "unauthorized" if cat in ("schema.member", "schema.outsider") else "malformed"
            if want not in str(e) and not (ENCRYPTED and "malformed: plaintext table op" in str(e)):
                self.fail("%s: %s refused, but not as %s: %s" % (w.name, cat, want, e))
            self.count("hand.refused")
            self.count("refused." + cat)

    def hostile(self, w):
        rng = self.rng
        if rng.random() < 0.2:
            return self.malformed(w)
        if self.stale and rng.random() < 0.35:
            heads, creates = rng.choice(self.stale)
            where = "stale"
        else:
            heads, creates = w.heads(), w.creates()
            where = "heads"
        preds = list(heads)
        if self.hlast and rng.random() < 0.5:
            preds.append(self.hlast)
        x = rng.random()
        if "ALTER" not in OFF and creates and rng.random() < 0.15:
            h, cols = rng.choice(creates)
            col = rng.choice(ADD_NAMES + ["c0", "C1"])
            types = HOSTILE_TYPES if "TYPES" not in OFF and rng.random() < 0.2 else TYPES
            c = (col, rng.choice(types), 0)
            if rng.random() < 0.4:
                c += (3 if rng.random() < 0.5 else rng.choice([1, 2]), rng.choice([0, "d", None, 5]))
            checks = [("", ONE_CHECKS[0].format(c=col), [0])] if rng.random() < 0.3 else []
            opts = 1 if rng.random() < 0.15 else 0
            kind, payload = "schema", schema_add(rng.choice(names()), h, c, opts, checks)
            if rng.random() < 0.4:
                # a rename or drop of a column id: the create's, or an ADD op's
                pool = w.adds().get(h, [])
                tgt, idx = (rng.choice(pool), 0) if pool and rng.random() < 0.5 else (h, rng.randrange(len(cols) + 1))
                nm = rng.choice(names()).encode()
                head = (bytes([SCHEMA_VERSION, 4 if rng.random() < 0.6 else 5]) + bytes([len(nm)]) + nm + h + tgt
                        + bytes([idx]))
                new = rng.choice(ADD_NAMES + ["c0", "C1", "y0"]).encode()
                payload = head + (bytes([len(new)]) + new if head[1] == 4 else b"")
                what = "%s column %s/%d of %s" % ("rename" if head[1] == 4 else "drop", tgt.hex()[:12], idx,
                                                   h.hex()[:12])
            self.count("alter.hand")
            what = "add column %r to %s opts %d checks %r" % (c, h.hex()[:12], opts, checks)
        elif x < 0.3:
            name = rng.choice(names())
            n = rng.randrange(1, 4)
            types = HOSTILE_TYPES if "TYPES" not in OFF else TYPES
            cols = [("c%d" % i, rng.choice(types) if rng.random() < 0.6 else rng.choice(TYPES), 0) for i in range(n)]
            pk = rng.sample(range(n), rng.randrange(1, n + 1))
            for pos, i in enumerate(pk, 1):
                cols[i] = (cols[i][0], cols[i][1], pos)
            if "CONSTRAINTS" not in OFF and rng.random() < 0.35:
                hc, opts, checks = hostile_constraints(rng, cols)
                payload = schema_create(name, hc, opts, checks)
                what = "create %s %r opts %d checks %r" % (name, hc, opts, checks)
            else:
                payload, what = schema_create(name, cols), "create %s %r" % (name, cols)
            kind = "schema"
        elif x < 0.4 and "DROP" not in OFF:
            name = rng.choice(names())
            # a drop lists incarnations in its author's past (the one w shows
            # at name, or any create); a RENAME TO names one
            creates = w.creates()
            t = w.tables().get(name.lower())
            hs = [t[2]] if t and t[2] else [rng.choice(creates)[0]] if creates else []
            if hs and rng.random() < 0.3:
                new = rng.choice(names())
                self.count("rename.hand")
                kind, payload, what = "schema", schema_rename_table(new, hs[0]), "rename %s to %s" % (
                    hs[0].hex()[:12], new)
            elif hs:
                self.count("drop.hand")
                kind, payload, what = "schema", schema_drop(name, hs), "drop %s" % name
            else:
                name = rng.choice(names())
                kind, payload, what = "schema", schema_create(name, [("c0", "TEXT", 1)]), "create %s" % name
        elif x < 0.9:
            kind = "write"
            if creates and rng.random() < 0.92:
                h, cols = rng.choice(creates)
                tname = "create " + h.hex()[:12]
            else:
                h = rng.choice(heads) if rng.random() < 0.5 else bytes(rng.getrandbits(8) for _ in range(32))
                cols = [(b"c0", b"", 1)]
                tname = "unknown " + h.hex()[:12]
            nk = sum(1 for c in cols if c[2])
            # ADD ops of the table (any replica's: maybe not in the causal
            # past), sometimes of another table
            pool = [a for lst in w.adds().values() for a in lst] if rng.random() < 0.1 \
                else w.adds().get(h, [])
            ah = rng.sample(pool, min(len(pool), rng.randrange(0, 3))) if "ALTER" not in OFF else []
            ncol = len(cols) + len(ah)
            changes = []
            for _ in range(rng.randrange(1, 4)):
                keys = [hostile_value(rng) for _ in range(nk)]
                if rng.random() < 0.25:
                    changes.append((0, keys, None))
                else:
                    written = {i: hostile_value(rng) for i, c in enumerate(cols) if not c[2] and rng.random() < 0.7}
                    written.update({len(cols) + k: hostile_value(rng) for k in range(len(ah)) if rng.random() < 0.7})
                    changes.append((0, keys, written, ncol))
            steps = [(k, i) for k, c in enumerate(changes) if c[2] for i, v in c[2].items() if isinstance(v, Step)]
            if steps and rng.random() < 0.5:
                # the same cell stepped again in the op: combined, in or out of range
                k, i = rng.choice(steps)
                changes.append((0, changes[k][1], {i: Step(rng.choice([1, 2 ** 62, 2 ** 63 - 1, -2 ** 62]))},
                                changes[k][3]))
                self.count("counter.combined")
            payload = write_payload([h], changes, adds=[ah])
            if ah:
                self.count("write.adds")
            what = "write %s adds %s %s" % (tname, [a.hex()[:12] for a in ah], short(changes))
        elif "MEMBERS" not in OFF:
            who = rng.choice(self.ws[1:])
            kind, payload, what = "remove", bytes.fromhex(who.pub), "remove " + who.name
        else:
            return
        op = make_op(self.hkey, kind, preds, payload, self.group)
        self.hand.append(op)
        self.what[op_id(op).hex()] = what
        try:
            w.q("SELECT bec_ingest(?)", op)
            self.hlast = op_id(op)
            self.log("H on", w.name, where, what, "->", op_id(op).hex()[:12],
                     "stored" if w.q("SELECT count(*) FROM bec_ops WHERE hash=?", op_id(op).hex()) else "pending")
            self.count("hand.stored")
        except sqlite3.Error as e:
            self.log("H on", w.name, where, what, "-> refused:", e)
            self.count("hand.refused")

    # -- the run --------------------------------------------------------------
    def step(self):
        rng = self.rng
        w = rng.choice(self.ws)
        x = rng.random()
        if rng.random() < 0.15:
            self.stale.append((w.heads(), w.creates()))
        if x < 0.45:
            self.honest_write(w)
        elif x < 0.55:
            self.honest_schema(w if rng.random() < 0.3 else self.ws[rng.randrange(2)])
        elif x < 0.62 and "MEMBERS" not in OFF:
            self.honest_member(self.ws[rng.randrange(2)])
        elif x < 0.72 and "SYNC" not in OFF:
            a, b = rng.sample(self.ws, 2)
            self.log("sync", a.name, "->", b.name)
            err = session(a, b)
            if err:
                self.sync_fail("writers' sync failed: %s" % err)
        elif "HOSTILE" not in OFF:
            self.hostile(w)
        else:
            self.honest_write(w)

    def deliver(self):
        rng = self.rng
        ws = self.ws
        # The writers exchange everything and take the hand-made ops again.
        for p in range(2):
            for a in ws:
                for b in ws:
                    if a is not b:
                        err = session(a, b)
                        if err:
                            self.sync_fail("final sync between writers: %s" % err)
            if p == 1 and ENCRYPTED:
                # Heal in the last pass signed keyshares: one more pass
                # brings them to every writer.
                for a in ws:
                    for b in ws:
                        if a is not b:
                            err = session(a, b)
                            if err:
                                self.sync_fail("final sync between writers: %s" % err)
            if p == 0:
                for w in ws:
                    for op in self.hand:
                        try:
                            w.q("SELECT bec_ingest(?)", op)
                        except sqlite3.Error:
                            pass
        ops = {}
        for w in ws:
            for b in w.bodies():
                ops[op_id(b)] = b
        for op in self.hand:
            ops.setdefault(op_id(op), op)
        depth = {}

        def dep(h):
            if h not in depth:
                ps = [p for p in op_preds(ops[h]) if p in ops] if h in ops else []
                depth[h] = 1 + max([dep(p) for p in ps], default=0)
            return depth[h]
        sys.setrecursionlimit(10000)
        causal = sorted(ops, key=lambda h: (dep(h), h))
        orders = {"random": rng.sample(causal, len(causal)), "causal": causal, "reverse": causal[::-1]}
        self.stats["ops"] = len(ops)
        fresh = []
        for name, order in orders.items():
            if ENCRYPTED:
                # W2's identity, no op yet: it only ingests, so signs nothing.
                f = Rep("F-" + name, self.w2blank)
                f.q("SELECT bec_key_file(?)", self.w2key)
            else:
                f = Rep("F-" + name)
                f.q("SELECT bec_keygen()")
                f.q("SELECT bec_join(?)", self.group.hex())
            for h in order:
                try:
                    f.q("SELECT bec_ingest(?)", ops[h])
                except sqlite3.Error as e:
                    self.log(f.name, "refuses", h.hex()[:12], "(hand-made)" if h in self.hand_ids else "", e)
                    self.errs[(f.name, h.hex())] = "ingest: %s" % e
            fresh.append(f)
        fs = Rep("F-sync")
        fs.q("SELECT bec_keygen()")
        fs.q("SELECT bec_join(?)", self.group.hex())
        for w in rng.sample(ws, len(ws)):
            err = session(w, fs) if rng.random() < 0.5 else session(fs, w)
            if err:
                self.fail("sync into a fresh replica: %s" % err)
        fr = Rep("F-relay")
        fr.q("SELECT bec_keygen()")
        fr.q("SELECT bec_join(?)", self.group.hex())
        err = session(fr, fs)
        if err:
            self.fail("relayed sync: %s" % err)
        for r in ws + fresh + [fs, fr]:
            self.log(r.name, "holds", r.q("SELECT count(*) FROM bec_ops"), "ops,",
                     r.q("SELECT count(DISTINCT hash) FROM bec_pending"), "pending; rejected:",
                     [tuple(x) for x in r.db.execute("SELECT substr(hash, 1, 12), reason FROM bec_rejected")])
        return fresh + [fs, fr]

    def explain(self, a, sa, b, sb):
        """What the ops that one of two replicas lacks are, and why the
        other refused them (bec_rejected), for the failure message."""
        ha = {x[0].decode() for x in sa["ops"]}
        hb = {x[0].decode() for x in sb["ops"]}
        out = []
        for h in sorted(ha ^ hb)[:3]:
            lacks = b if h in ha else a
            out.append("%s %s, not stored by %s: %s" % (h[:12], self.what.get(h, "(an op of a writer)"),
                                                        lacks.name, self.why(lacks, h)))
        return ("\n    " + "\n    ".join(out)) if out else ""

    def why(self, r, h, depth=0):
        """Why replica r does not hold op h: its rejection, or the error its
        ingest raised, or the missing op it waits for, followed."""
        why = r.q("SELECT reason FROM bec_rejected WHERE hash=? ORDER BY rowid DESC", h)
        if why is None:
            why = self.errs.get((r.name, h))
        if why is None:
            m = r.q("SELECT missing FROM bec_pending WHERE hash=?", h)
            if m is not None:
                why = "waits for %s %s" % (m[:12], self.what.get(m, "(an op of a writer)"))
                if depth < 6:
                    why += ", " + self.why(r, m, depth + 1)
        return why or "not received"

    def compare(self, reps):
        snaps = [(r, snapshot(r)) for r in reps]
        ref, s0 = snaps[0]
        if ENCRYPTED:
            self.compare_encrypted(snaps)
        for r, s in ([] if ENCRYPTED else snaps[1:]):
            if s != s0:
                self.fail("%s differs from %s: %s%s" % (r.name, ref.name, diff(s0, s), self.explain(ref, s0, r, s)))
        for r in reps:
            for h in r.db.execute("SELECT hash FROM bec_ops UNION SELECT hash FROM bec_pending").fetchall():
                if h[0] in self.refuse:
                    self.fail("%s holds %s, which acceptance must refuse (%s)" % (r.name, h[0][:12], self.refuse[h[0]]))
            chk = r.q("SELECT bec_check()")
            if chk != "ok":
                self.fail("%s: bec_check: %s" % (r.name, str(chk)[:400]))
            for f in no_violations(r):
                self.fail(f)
        r = reps[0]
        for (why,) in r.db.execute("SELECT reason FROM bec_ops WHERE reason LIKE 'constraint:%'"):
            self.count("constraint.ignored")
            self.count("constraint." + why.split()[1])
        for (why,) in r.db.execute("SELECT reason FROM bec_ops WHERE reason LIKE '%COLUMN%' OR reason LIKE 'ignored: alter%'"):
            self.count("alter.ignored")
        self.stats["alter.shown"] = self.stats.get("alter.shown", 0) + r.q(
            "SELECT count(*) FROM bec_columns WHERE name IN ('x0', 'x1', 'X1', 'x2')")
        self.stats["counter.columns"] = self.stats.get("counter.columns", 0) + r.q(
            "SELECT count(*) FROM bec_columns WHERE merge='counter'")
        self.stats["counter.stepped"] = self.stats.get("counter.stepped", 0) + r.q(
            "SELECT count(*) FROM bec_store_conflict WHERE col <= -2 AND col % 2 = 0")
        self.stats["constrained.tables"] = self.stats.get("constrained.tables", 0) + r.q(
            "SELECT count(*) FROM sqlite_master WHERE sql LIKE 'CREATE VIRTUAL TABLE%USING bec(%' "
            "AND (sql LIKE '%CHECK%' OR sql LIKE '%NOT NULL%' OR sql LIKE '%strict=1%')")

    def compare_encrypted(self, snaps):
        """All replicas: the same ops, valid flags and members.  Replicas that
        hold the same seeds: the same everything (reasons, rows, conflicts,
        bec_locked).  W2 and its copies hold the same seeds; relays show no
        table and hold no seed."""
        def keyless(s):
            return {"ops": [(x[0],) for x in s["ops"]], "members": s["members"]}

        def mvalid(s):
            # invalid under the membership rules, where the reason says so:
            # a replica without the key shows "locked: ..." for an encrypted
            # op whatever its validity (as every relay does alike).
            return {x[0]: (x[2] or b"").startswith(b"membership:") for x in s["ops"]
                    if not (x[2] or b"").startswith(b"locked:")}
        ref, s0 = snaps[0]
        for r, s in snaps[1:]:
            if keyless(s) != keyless(s0):
                self.fail("%s differs from %s: %s%s" % (r.name, ref.name, diff(keyless(s0), keyless(s)),
                                                        self.explain(ref, s0, r, s)))
            m0, m = mvalid(s0), mvalid(s)
            d = [h[:12] for h in set(m0) & set(m) if m0[h] != m[h]]
            if d:
                self.fail("%s and %s differ on membership validity: %s" % (r.name, ref.name, d[:6]))
        groups = {}
        for r, s in snaps:
            groups.setdefault(repr(s["held"]), []).append((r, s))
        for g in groups.values():
            r0, g0 = g[0]
            for r, s in g[1:]:
                if s != g0:
                    self.fail("%s differs from %s (same seeds): %s" % (r.name, r0.name, diff(g0, s)))
        by = {r.name: s for r, s in snaps}
        for name in ("F-random", "F-causal", "F-reverse"):
            if name in by and by[name]["held"] != by["W2"]["held"]:
                self.fail("%s (W2's identity) holds other seeds than W2" % name)
        for name in ("F-sync", "F-relay"):
            if name in by and (by[name]["tables"] or by[name]["held"]):
                self.fail("%s, a relay, shows a table or holds a seed" % name)
        self.stats["enc.groups"] = self.stats.get("enc.groups", 0) + len(groups)
        self.stats["enc.held"] = self.stats.get("enc.held", 0) + len(by["W2"]["held"])
        self.stats["enc.rows"] = self.stats.get("enc.rows", 0) + sum(
            len(t[2]) for t in by["W2"]["tables"].values() if isinstance(t, tuple))

    def run(self):
        t0 = time.time()
        reps = []
        try:
            self.setup()
            for _ in range(self.rng.randrange(20, 45)):
                self.step()
            self.hand_ids = {op_id(op) for op in self.hand}
            reps = self.deliver()
            self.compare(reps + self.ws)
        except Exception as e:       # a harness error is a failure too
            self.fail("exception: %s\n%s" % (e, traceback.format_exc()))
        if self.sync_fails:
            self.fail("%d sync sessions failed; the first: %s" % (len(self.sync_fails), self.sync_fails[0]))
        for r in reps + getattr(self, "ws", []):
            r.db.close()
        self.stats["seconds"] = round(time.time() - t0, 2)
        return self.fails


def replay_command(seed):
    env = "".join("BEC_CONVERGE_NO_%s=1 " % k for k in sorted(OFF))
    for k in ("LD_PRELOAD", "BEC_EXT"):
        if os.environ.get(k):
            env = "%s=%s %s" % (k, os.environ[k], env)
    if ENCRYPTED:
        env += "BEC_CONVERGE_ENCRYPTED=1 "
    return "%sBEC_CONVERGE_SEED=%d BEC_CONVERGE_VERBOSE=1 /usr/bin/python3 test/py/test_converge.py" % (env, seed)


# ---------------------------------------------------------------------------
# The smallest reproductions of what the generator found first, as named
# cases (each builds its ops, delivers them in two orders or paths to fresh
# replicas and compares them as the seeds do).

def fresh(group, name):
    f = Rep(name)
    f.q("SELECT bec_keygen()")
    f.q("SELECT bec_join(?)", group.hex())
    return f


def ingest_all(r, ops):
    for op in ops:
        try:
            r.q("SELECT bec_ingest(?)", op)
        except sqlite3.Error:
            pass


def same_state(reps):
    """Failure strings for every replica that differs from the first, and
    every bec_check() that is not 'ok'."""
    out = []
    s0 = snapshot(reps[0])
    for r in reps[1:]:
        s = snapshot(r)
        if s != s0:
            out.append("%s differs from %s: %s" % (r.name, reps[0].name, diff(s0, s)))
    for r in reps:
        chk = r.q("SELECT bec_check()")
        if chk != "ok":
            out.append("%s: bec_check: %s" % (r.name, chk))
    return out


def group_with_admin(hkey):
    """A writer that created a group and made hkey an admin; (writer, group)."""
    w = Rep("W")
    w.q("SELECT bec_keygen()")
    group = bytes.fromhex(w.q("SELECT bec_create_group()"))
    w.q("SELECT bec_add_member(?, 'admin')", hkey.hex)
    return w, group


def case_pending_child_refused(ctype, key):
    """An op waiting in the pending area that acceptance refuses (a write
    with a NaN key, a create whose type SQL cannot parse) must not make its
    parent's ingest fail: the op sets must end the same in causal order and
    children first, and an honest sync afterwards must complete."""
    h = Key(bytes(31) + b"\x03")
    w, group = group_with_admin(h)
    heads = w.heads()
    create = make_op(h, "schema", heads, schema_create("t", [("k", ctype, 1), ("v", "", 0)]), group)
    child = make_op(h, "write", [op_id(create)], write_payload([op_id(create)], [(0, [key], {1: 1}, 2)]), group)
    base = w.bodies()
    a, b = fresh(group, "causal"), fresh(group, "children-first")
    ingest_all(a, base + [create, child])
    ingest_all(b, [child, create] + base[::-1])
    out = same_state([a, b])
    err = session(w, b)
    if err:
        out.append("an honest sync afterwards fails: %s" % err)
    return out


def case_name_case_after_validity():
    """Admin A creates "t"; admin H creates "T" on top of it; A, not having
    seen that, removes H, so H's create is invalid and A's "t" is the table
    everywhere: its name must be shown the same whatever the order."""
    h = Key(bytes(31) + b"\x02")
    w, group = group_with_admin(h)
    w.db.execute("CREATE VIRTUAL TABLE t USING bec(k TEXT PRIMARY KEY, v)")
    hop = make_op(h, "schema", w.heads(), schema_create("T", [("k", "TEXT", 1), ("w", "", 0)]), group)
    w.q("SELECT bec_remove_member(?)", h.hex)
    base = w.bodies()
    a, b = fresh(group, "create-first"), fresh(group, "removal-first")
    ingest_all(a, base[:-1] + [hop, base[-1]])
    ingest_all(b, base + [hop])
    return same_state([a, b])


def case_equal_keys(ktype, k1, k2):
    """Two writers insert keys that SQLite finds equal but that differ in
    storage class or sign (1 and 1.0, 0 and -0.0) concurrently: every
    replica must show the same key."""
    w0 = Rep("W0")
    w0.q("SELECT bec_keygen()")
    group = bytes.fromhex(w0.q("SELECT bec_create_group()"))
    w1 = fresh(group, "W1")
    w0.q("SELECT bec_add_member(?, 'admin')", w1.q("SELECT bec_pubkey()"))
    w0.db.execute("CREATE VIRTUAL TABLE t USING bec(k %s PRIMARY KEY, v)" % ktype)
    ingest_all(w1, w0.bodies())
    w0.db.execute("INSERT INTO t VALUES(%s, 'a')" % k1)
    w1.db.execute("INSERT INTO t VALUES(%s, 'b')" % k2)
    a, b = fresh(group, "W0-first"), fresh(group, "W1-first")
    ingest_all(a, w0.bodies() + w1.bodies())
    ingest_all(b, w1.bodies() + w0.bodies())
    return same_state([a, b])


NAMED = [
    ("pending child with a NaN key refused on release", lambda: case_pending_child_refused("REAL", float("nan"))),
    ("pending child create with type '-1' refused on release", lambda: case_pending_child_refused("-1", 1.5)),
    ("table name spelling after a validity change", case_name_case_after_validity),
    ("keys 1 and 1.0 in an untyped column", lambda: case_equal_keys("", "1", "1.0")),
    ("keys 0 and -0.0 in an untyped column", lambda: case_equal_keys("", "0", "-0.0")),
]


def run_named():
    """(passed, failed) of the named cases."""
    npass = nfail = 0
    for name, fn in NAMED:
        bytesim.reseed_sodium(0)
        try:
            fails = fn()
        except Exception as e:
            fails = ["exception: %s\n%s" % (e, traceback.format_exc())]
        for f in fails[:3]:
            print("FAIL named case %s: %s" % (name, f), flush=True)
        npass, nfail = (npass + 1, nfail) if not fails else (npass, nfail + 1)
    return npass, nfail


def run_seeds(seeds):
    """Runs seeds in this process; prints a line per seed, FAIL lines and
    RESULT; exits."""
    totals = {}
    failed = []
    t0 = time.time()
    for seed in seeds:
        print("seed %d begins" % seed, flush=True)
        sc = Scenario(seed)
        fails = sc.run()
        for k, v in sc.stats.items():
            totals[k] = totals.get(k, 0) + v
        if fails:
            # One failure per seed; its first differences as FAIL lines.
            failed.append(seed)
            T.check(False, "seed %d: %s" % (seed, fails[0]))
            for f in fails[1:5]:
                print("FAIL seed %d: %s" % (seed, f), flush=True)
            if len(fails) > 5:
                print("FAIL seed %d: %d more differences" % (seed, len(fails) - 5), flush=True)
            print("  replay: %s" % replay_command(seed), flush=True)
        else:
            T.check(True)
    # The generators did what they are for (on a run of some size).
    if len(seeds) >= 20:
        for what in ("sql.ok", "sql.refused") + (() if "HOSTILE" in OFF else ("hand.stored", "hand.refused")) \
                + (() if "CONSTRAINTS" in OFF else ("constrained.tables",)) \
                + (() if "CONSTRAINTS" in OFF or "HOSTILE" in OFF else ("constraint.ignored",)) \
                + (() if "CONSTRAINTS" in OFF or "COUNTER" in OFF else ("counter.columns", "counter.step")) \
                + (() if "COUNTER" in OFF or "HOSTILE" in OFF else ("constraint.counter",)):
            T.check(totals.get(what, 0) > 0, "no %s in %d seeds" % (what, len(seeds)))
        if "HOSTILE" not in OFF:
            # Every kind of op acceptance must refuse was made (each kind
            # about once in 8 seeds; a smaller run checks the groups).
            for what in REFUSED if len(seeds) >= 100 else ("schema.", "write.", "schema.member"):
                T.check(any(k.startswith("refused." + what) for k in totals),
                        "no refused.%s in %d seeds" % (what, len(seeds)))
    print("converge: %d seeds, %d failed %s, off: %s; %s; %.1fs"
          % (len(seeds), len(failed), failed[:50], sorted(OFF) or "none",
             {k: v for k, v in sorted(totals.items()) if k != "seconds"}, time.time() - t0), flush=True)
    T.done()


def run_children(first, n, extra_env, crashed):
    """Seeds first..first+n-1 in child processes (a crash is a failure and
    the next child goes on after it); (passed, failed)."""
    import subprocess
    npass = nfail = 0
    cur, end = first, first + n
    while cur < end:
        env = dict(os.environ, BEC_CONVERGE_CHILD="1", BEC_CONVERGE_START=str(cur),
                   BEC_CONVERGE_SEEDS=str(end - cur), **extra_env)
        p = subprocess.Popen([sys.executable, os.path.abspath(__file__)], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace")
        last, got, failed_seeds = None, None, set()
        for line in p.stdout:
            if line.startswith("seed ") and line.endswith(" begins\n"):
                last = int(line.split()[1])
                continue
            if line.startswith("FAIL"):
                failed_seeds.add(last)
            if line.startswith("RESULT "):
                got = [int(x) for x in line.split()[1:3]]
                continue
            sys.stdout.write(line)
            sys.stdout.flush()
        rc = p.wait()
        if got is not None and rc in (0, 1):
            npass, nfail = npass + got[0], nfail + got[1]
            break
        # The child died during seed `last`: count what it finished, go on.
        seed = last if last is not None else cur
        crashed.append(seed)
        print("FAIL seed %d: the process died (exit %d)" % (seed, rc), flush=True)
        print("  replay: %s%s" % ("BEC_CONVERGE_ENCRYPTED=1 " if extra_env else "", replay_command(seed)),
              flush=True)
        nfail += len(failed_seeds - {None}) + 1
        npass += len(set(range(cur, seed)) - failed_seeds)
        cur = seed + 1
    return npass, nfail


def main():
    """One seed (BEC_CONVERGE_SEED) runs here, so a crash shows directly.  A
    range runs in child processes: a seed that crashes one (a sanitizer
    report, a signal) is a failure, and the next child goes on after it."""
    if os.environ.get("BEC_CONVERGE_SEED"):
        return run_seeds([int(os.environ["BEC_CONVERGE_SEED"])])
    default = "30" if os.environ.get("BEC_SAN") == "1" else "120"
    n = int(os.environ.get("BEC_CONVERGE_SEEDS", default))
    first = int(os.environ.get("BEC_CONVERGE_START", "0"))
    if os.environ.get("BEC_CONVERGE_CHILD") == "1":
        return run_seeds(range(first, first + n))
    # The named cases, when no generator is switched off.
    npass, nfail = run_named() if not OFF else (0, 0)
    crashed = []
    p1, f1 = run_children(first, n, {}, crashed)
    npass, nfail = npass + p1, nfail + f1
    if not ENCRYPTED:
        # Encrypted groups: a few seeds in the normal run.
        ne = int(os.environ.get("BEC_CONVERGE_ENC_SEEDS", "2" if os.environ.get("BEC_SAN") == "1" else "6"))
        p1, f1 = run_children(first, ne, {"BEC_CONVERGE_ENCRYPTED": "1"}, crashed)
        npass, nfail = npass + p1, nfail + f1
    if crashed:
        print("converge: seeds that crashed the process: %s" % crashed, flush=True)
    print("RESULT %d %d" % (npass, nfail), flush=True)
    sys.exit(1 if nfail else 0)


main()
