"""test_local_batch.py - local statements against their readers (issue 18):
the guard of writing a statement's rows in batches instead of one nested
statement each.  Whatever path a local INSERT/UPDATE/DELETE takes to the
shadow table, every reader must see the rows the statement wrote so far
(inside a statement, a self-join, a trigger on another table, a savepoint,
a transaction) and what is stored and signed must not change.

Three differentials over a generated mix of INSERT / UPDATE / DELETE /
INSERT OR FAIL / OR IGNORE / OR REPLACE / savepoints / rollbacks /
self-reading statements:
  - a bec table and a plain SQLite table given the same statements show the
    same rows after every statement, and the same errors (a statement that
    reads its own table excepted: SQLite computes a virtual table's UPDATE
    values before its first write, a plain table's as it goes; the plain
    table then takes bec's rows);
  - two clones (one identity) given the same statements store byte-identical
    shadow rows and sign byte-identical write ops (Ed25519 is deterministic);
  - the change feed's kind per change (insert/update/delete) is the plain
    table's: a row that existed before the op is an update;
  - batching on, and off (BEC_NO_LOCAL_BATCH=1, the test knob, in a child
    process of its own): the same file given the same statements stores
    byte-identical shadow rows, signed ops, feed and results;
  - UPDATEs on an INTEGER key whose batches are written by an UPDATE of
    their key range (dense, with gaps) or by the upsert (far apart, the ends
    of the i64 range), batching on and off: byte-identical shadow rows after
    every statement, ops, feed, and each form seen in the trace;
  - a transaction's UPDATEs (never batched) after a DROP TABLE: the rows are
    the replay of the signed ops (bec_check), where a batch written inside
    xRelease lost a change from the op (bytesim seed 78).
(UPSERT and RETURNING are refused by SQLite on any virtual table.)

    BEC_EXT=$PWD/build/bec /usr/bin/python3 test/py/test_local_batch.py
"""
import os
import random
import sqlite3
import subprocess
import sys

from bectest import T, Replicas, code, connect, one

R = Replicas("bec_lbatch_")

DECLS = {
    "t": "id INTEGER PRIMARY KEY, a TEXT, n INTEGER NOT NULL DEFAULT 0 CHECK (n >= 0)",
    "k": "id TEXT PRIMARY KEY, a TEXT, n INTEGER NOT NULL DEFAULT 0 CHECK (n >= 0)",
    # without rules: each change is judged as it is made (bec_crdt.c
    # local_judge), cross-checked at the op's acceptance (BEC_CHECK_JUDGED)
    "u": "id INTEGER PRIMARY KEY, a TEXT, n",
    "w": "id TEXT PRIMARY KEY, a TEXT, n",
}

# Every local op whose changes were judged as made is read again in full at
# its acceptance and must be judged alike, else the statement fails (a test
# knob read once per process; the child processes inherit it).
os.environ["BEC_CHECK_JUDGED"] = "1"


def plain(decl_by_name):
    db = sqlite3.connect(":memory:", isolation_level=None)
    for name, decl in decl_by_name.items():
        db.execute("CREATE TABLE %s(%s)" % (name, decl))
    return db


def rows(db, table):
    return db.execute("SELECT id, a, n FROM %s ORDER BY id" % table).fetchall()


def run(db, sql, args=()):
    """(error code, rows) of one statement; rows read to the end."""
    try:
        return 0, db.execute(sql, args).fetchall()
    except sqlite3.Error as e:
        return getattr(e, "sqlite_errorcode", -1), None


def gen_mix(rng, table, n):
    """n statements on table (INTEGER or TEXT keys from a small set, so
    inserts collide, updates hit rows written earlier in the statement and
    the transaction, and CHECK fails now and then)."""
    key = (lambda i: i) if table in ("t", "u") else (lambda i: "k%02d" % i)
    ns = [0, 1, 5, -1]
    if table in ("u", "w"):
        # (no NOT NULL there: a NULL is stored as given)
        ns += [2.5, None, "t", b"\x00b", float("nan")]
    out = []
    depth = 0
    intxn = False
    for _ in range(n):
        r = rng.random()
        ks = [key(rng.randrange(12)) for _ in range(3)]
        if r < 0.08 and not intxn:
            out.append(("BEGIN", ())); intxn = True
        elif r < 0.16 and intxn and depth == 0:
            out.append((rng.choice(["COMMIT", "COMMIT", "ROLLBACK"]), ())); intxn = False
        elif r < 0.22 and intxn:
            out.append(("SAVEPOINT s%d" % depth, ())); depth += 1
        elif r < 0.27 and depth:
            depth -= 1
            out.append((rng.choice(["RELEASE s%d", "ROLLBACK TO s%d"]) % depth, ()))
        elif r < 0.40:
            verb = rng.choice(["INSERT", "INSERT OR FAIL", "INSERT OR IGNORE",
                               "INSERT OR REPLACE", "INSERT OR ABORT"])
            vals = ", ".join("(?, ?, ?)" for _ in ks)
            args = []
            for k in ks:
                args += [k, rng.choice(["x", "yy", None, "z" * 30]), rng.choice(ns)]
            out.append(("%s INTO %s VALUES %s" % (verb, table, vals), tuple(args)))
        elif r < 0.56:
            # every row, one column, sometimes failing part way (n-3 < 0)
            verb = rng.choice(["UPDATE", "UPDATE OR FAIL", "UPDATE OR IGNORE", "UPDATE OR ABORT"])
            out.append(("%s %s SET n=n+%d" % (verb, table, rng.choice([1, 2, -3])), ()))
        elif r < 0.66:
            out.append(("UPDATE %s SET a=coalesce(a, '') || '+' WHERE id IN (?, ?)" % table,
                        (ks[0], ks[1])))
        elif r < 0.74:
            # reads its own writes: the sum over the table as the statement
            # has changed it so far (SQLite evaluates the subquery per row)
            out.append(("UPDATE %s SET n=(SELECT count(*) FROM %s WHERE n > 1) + n" % (table, table), ()))
        elif r < 0.80:
            # a self-join: each row takes the a of another row, maybe one
            # this statement wrote already
            out.append(("UPDATE %s SET a=(SELECT b.a FROM %s AS b WHERE b.id<%s.id "
                        "ORDER BY b.id DESC LIMIT 1) WHERE a IS NOT NULL" % (table, table, table), ()))
        elif r < 0.84:
            # the key changes: a delete and an insert
            out.append(("UPDATE OR IGNORE %s SET id=? WHERE id=?" % table, (ks[0], ks[1])))
        elif r < 0.92:
            out.append(("DELETE FROM %s WHERE id IN (?, ?)" % table, (ks[0], ks[1])))
        else:
            out.append(("SELECT id, a, n FROM %s ORDER BY id" % table, ()))
    if depth:
        out.append(("RELEASE s0", ()))
    if intxn:
        out.append(("COMMIT", ()))
    return out


def shadow(db, table):
    return db.execute("SELECT * FROM %s_rows ORDER BY 1" % table).fetchall()


def writes(db):
    return [b for (b,) in db.execute("SELECT body FROM bec_ops WHERE kind='write' ORDER BY rowid")]


def test_mix_against_plain_and_clone():
    for seed in range(8):
        rng = random.Random(1800 + seed)
        table = "tkuw"[seed % 4]
        a = R.origin("m%d.db" % seed, DECLS[table], table)
        b = R.clone(a, "m%d_clone.db" % seed)
        ref = plain({table: DECLS[table]})
        mix = gen_mix(rng, table, 100)
        for i, (sql, args) in enumerate(mix):
            ra, rb, rp = run(a, sql, args), run(b, sql, args), run(ref, sql, args)
            what = "seed %d #%d %s" % (seed, i, sql)
            T.eq(rb, ra, "clone vs bec: " + what)
            if "SELECT" in sql and sql.startswith("UPDATE"):
                # SQLite computes a virtual table's UPDATE values before its
                # first write (a plain table's as it goes): the plain table
                # takes bec's rows, inside the same transaction/savepoint
                ref.execute("DELETE FROM %s" % table)
                ref.executemany("INSERT INTO %s VALUES(?, ?, ?)" % table, rows(a, table))
                continue
            # an error's code: CHECK/NOTNULL/PK as SQLite's own (bec's
            # constraint codes are SQLite's: test_constraints)
            T.eq((ra[0] != 0, ra[1]), (rp[0] != 0, rp[1]), "bec vs plain: " + what)
            if not T.eq(rows(a, table), rows(ref, table), "rows after " + what):
                break
        T.eq(shadow(a, table), shadow(b, table), "seed %d: shadow rows byte-identical" % seed)
        T.eq(writes(a), writes(b), "seed %d: signed write ops byte-identical" % seed)
        T.check(len(writes(a)) > 1, "seed %d: the mix signed ops: %d" % (seed, len(writes(a))))
        a.close(); b.close(); ref.close()


def test_read_your_writes():
    a = R.origin("ryw.db", DECLS["t"], "t")
    a.execute("INSERT INTO t VALUES(1, 'a', 1), (2, 'b', 2), (3, 'c', 3)")
    # inside one statement: SQLite computes a virtual table's new values
    # before the first xUpdate (a plain table would show 6, 11, 20)
    a.execute("UPDATE t SET n=(SELECT sum(n) FROM t)")
    T.eq(rows(a, "t"), [(1, 'a', 6), (2, 'b', 6), (3, 'c', 6)], "values read before the writes")
    # the next statement reads them
    a.execute("UPDATE t SET n=n+(SELECT max(n) FROM t) WHERE id=1")
    T.eq(one(a, "SELECT n FROM t WHERE id=1"), 12, "the next statement reads the UPDATE")
    a.execute("UPDATE t SET n=6 WHERE id=1")
    # inside a transaction, before and after a savepoint
    a.execute("BEGIN")
    a.execute("UPDATE t SET a=a || '!'")
    T.eq(one(a, "SELECT group_concat(a, '') FROM t"), "a!b!c!", "the transaction reads its UPDATE")
    a.execute("SAVEPOINT s")
    a.execute("UPDATE t SET n=0 WHERE id=2")
    T.eq(one(a, "SELECT n FROM t WHERE id=2"), 0, "inside the savepoint")
    a.execute("ROLLBACK TO s")
    T.eq(one(a, "SELECT n FROM t WHERE id=2"), 6, "rolled back to the savepoint")
    a.execute("INSERT INTO t VALUES(4, 'd', 0)")
    T.eq(code(lambda: a.execute("INSERT INTO t VALUES(4, 'dup', 0)"))[0], 1555,
         "an INSERT finds the row the transaction wrote (PRIMARY KEY)")
    a.execute("COMMIT")
    T.eq(rows(a, "t"), [(1, 'a!', 6), (2, 'b!', 6), (3, 'c!', 6), (4, 'd', 0)], "committed")
    # a trigger on another table reads the bec table as the statement left it
    a.execute("CREATE TABLE log(x)")
    a.execute("CREATE TEMP TRIGGER tr AFTER INSERT ON log BEGIN "
              "UPDATE log SET x=(SELECT sum(n) FROM t) WHERE rowid=new.rowid; END")
    a.execute("BEGIN")
    a.execute("UPDATE t SET n=n+1")
    a.execute("INSERT INTO log VALUES(0)")
    a.execute("COMMIT")
    T.eq(one(a, "SELECT x FROM log"), 22, "the trigger read the UPDATE")
    a.close()


def test_or_fail_and_abort():
    a = R.origin("fa.db", DECLS["t"], "t")
    a.execute("INSERT INTO t VALUES(1, 'a', 5), (2, 'b', 0), (3, 'c', 5)")
    n0 = len(writes(a))
    T.eq(code(lambda: a.execute("UPDATE OR FAIL t SET n=n-1"))[0], 275, "OR FAIL: CHECK")
    T.eq(rows(a, "t"), [(1, 'a', 4), (2, 'b', 0), (3, 'c', 5)], "OR FAIL keeps row 1")
    T.eq(len(writes(a)), n0 + 1, "OR FAIL signs what it kept")
    T.eq(code(lambda: a.execute("UPDATE t SET n=n-1"))[0], 275, "ABORT: CHECK")
    T.eq(rows(a, "t"), [(1, 'a', 4), (2, 'b', 0), (3, 'c', 5)], "ABORT keeps nothing")
    T.eq(len(writes(a)), n0 + 1, "ABORT signs nothing")
    a.execute("UPDATE OR IGNORE t SET n=n-1")
    T.eq(rows(a, "t"), [(1, 'a', 3), (2, 'b', 0), (3, 'c', 4)], "OR IGNORE skips row 2")
    a.close()


def test_feed_kinds():
    a = R.origin("fk.db", DECLS["t"], "t")
    a.execute("INSERT INTO t VALUES(1, 'a', 1), (2, 'b', 2)")
    c = one(a, "SELECT coalesce(max(cursor), 0) FROM bec_changes")
    a.execute("BEGIN")
    a.execute("UPDATE t SET n=n+1")                 # two updates
    a.execute("INSERT INTO t VALUES(3, 'c', 3)")    # an insert
    a.execute("UPDATE t SET a='C' WHERE id=3")      # the op's own row: update
    a.execute("DELETE FROM t WHERE id=1")
    a.execute("COMMIT")
    got = a.execute("SELECT key, kind FROM bec_changes(?)", (c,)).fetchall()
    T.eq(got, [(1, "update"), (2, "update"), (3, "insert"), (3, "update"), (1, "delete")],
         "one kind per change, as the rows stood")
    a.close()


def outcome(db, table, mix, every=False):
    """Every statement's (error, rows), then the stored state; every: the
    shadow rows after each statement too."""
    res = []
    for sql, args in mix:
        res.append(run(db, sql, args))
        if every:
            res.append(shadow(db, table))
    feed = db.execute("SELECT cursor, key, columns, kind FROM bec_changes(0)").fetchall()
    return repr((res, shadow(db, table), writes(db), feed,
                 db.execute("SELECT * FROM bec_store_conflict").fetchall()))


def child(path, table, seed):
    """(in the child process) the mix of seed on the file at path."""
    db = connect(path)
    if seed == "range":
        sys.stdout.write(outcome(db, table, range_mix(table), True))
    else:
        sys.stdout.write(outcome(db, table, gen_mix(random.Random(int(seed)), table, 120)))
    db.close()


def test_batching_off_is_identical():
    for seed in range(8):
        table = "tkuw"[seed % 4]
        a = R.origin("d%d.db" % seed, DECLS[table], table)
        a.execute("INSERT INTO %s(id, a, n) VALUES (1, 'x', 1), (2, 'y', 2), (3, NULL, 3)"
                  % table if table in ("t", "u") else
                  "INSERT INTO %s(id, a, n) VALUES ('k01', 'x', 1), ('k02', 'y', 2)" % table)
        b = R.clone(a, "d%d_off.db" % seed)
        path_b = b.execute("PRAGMA database_list").fetchone()[2]
        b.close()
        env = dict(os.environ, BEC_NO_LOCAL_BATCH="1")
        off = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", path_b,
                              table, str(1900 + seed)], env=env, capture_output=True, text=True)
        T.eq(off.returncode, 0, "seed %d: the child ran: %s" % (seed, off.stderr[-500:]))
        on = outcome(a, table, gen_mix(random.Random(1900 + seed), table, 120))
        T.check(on == off.stdout, "seed %d: batching on and off: the same results, rows, ops, "
                "feed (on %d chars, off %d)" % (seed, len(on), len(off.stdout)))
        a.close()


def range_mix(table):
    """Autocommit UPDATEs of an INTEGER key's rows whose batches take each
    form of bec_crdt.c batch_stmt: every key of a range (an UPDATE by key
    range), keys with gaps (the range and bec_batch_has), keys far apart or
    at the ends of the i64 range (the upsert), text, blob, REAL and NULL
    values, several columns, some rows.  (Compared after each statement:
    a later write of the same registers hides a wrong one.)"""
    fill = ("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x<3000) "
            "INSERT INTO %s(id, a, n) SELECT x, 'x' || x, x FROM c" % table)
    return [(fill, ()),
            ("UPDATE %s SET n = n + 1" % table, ()),                       # dense
            ("UPDATE %s SET a = a || '!', n = n * 2 WHERE id BETWEEN 10 AND 2000" % table, ()),
            ("DELETE FROM %s WHERE id %% 3 = 0" % table, ()),
            ("UPDATE %s SET a = CAST(x'00ff' || id AS BLOB)" % table, ()),                # sparse
            ("UPDATE %s SET n = CASE WHEN id %% 2 THEN 2.5 ELSE NULL END WHERE id < 1500" % table, ()),
            ("DELETE FROM %s WHERE id %% 5 <> 1" % table, ()),
            ("UPDATE %s SET n = coalesce(n, 0) - 1" % table, ()),          # far apart
            ("INSERT INTO %s(id, a, n) VALUES (-9223372036854775808, 'lo', 1), "
             "(9223372036854775807, 'hi', 2), (0, 'zero', 3)" % table, ()),
            ("UPDATE %s SET n = 7 WHERE id IN (-9223372036854775808, 9223372036854775807)" % table, ()),
            ("UPDATE %s SET a = NULL WHERE id IN (-9223372036854775808, 0, 1)" % table, ()),
            ("UPDATE %s SET a = 'y'" % table, ()),
            ("SELECT id, a, n FROM %s ORDER BY id" % table, ())]


def test_update_by_key_range():
    """A local UPDATE's batch on an INTEGER key in key order is written by an
    UPDATE of the key range (bec_batch_value, with bec_batch_has if keys are
    missing), else by the upsert: the same stored bytes, ops, feed and
    results as with batching off, each form used (seen by the trace of the
    nested statements)."""
    for table in ("t", "u"):
        a = R.origin("range_%s.db" % table, DECLS[table], table)
        b = R.clone(a, "range_%s_off.db" % table)
        path_b = b.execute("PRAGMA database_list").fetchone()[2]
        b.close()
        env = dict(os.environ, BEC_NO_LOCAL_BATCH="1")
        off = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", path_b,
                              table, "range"], env=env, capture_output=True, text=True)
        T.eq(off.returncode, 0, "%s: the child ran: %s" % (table, off.stderr[-500:]))
        seen = []
        a.set_trace_callback(seen.append)
        on = outcome(a, table, range_mix(table), True)
        a.set_trace_callback(None)
        T.check(on == off.stdout, "%s: batching on and off: the same results, rows, ops, feed "
                "(on %d chars, off %d)" % (table, len(on), len(off.stdout)))
        forms = {"range": 0, "range with gaps": 0, "upsert": 0}
        for sql in seen:
            if "bec_batch_has" in sql:
                forms["range with gaps"] += 1
            elif "bec_batch_value" in sql:
                forms["range"] += 1
            elif "FROM bec_batch(" in sql:
                forms["upsert"] += 1
        if not os.environ.get("BEC_NO_LOCAL_BATCH"):
            # (with the knob set for the whole file, both sides write per row)
            T.check(all(forms.values()), "%s: every form written: %r" % (table, forms))
        T.eq(one(a, "SELECT bec_check()"), "ok", "%s: the rows are the ops' replay" % table)
        # the count of rows changed is the user's statement's, not the
        # batch statement's (which ran at its end, in xSync)
        n = one(a, "SELECT count(*) FROM %s" % table)
        T.eq(a.execute("UPDATE %s SET n = 1" % table).rowcount, n, "%s: rowcount" % table)
        T.eq(one(a, "SELECT changes()"), n, "%s: changes()" % table)
        a.close()


def test_batch_in_transaction():
    """Inside BEGIN a local UPDATE is written at once, never held past its
    statement: a held batch was written inside xRelease, where the batch
    statement's retry after a DROP TABLE (SQLITE_SCHEMA) rolled back to the
    index of the statement savepoint being released and cut the UPDATE's
    change out of the op while its row stayed written (bytesim seed 78)."""
    a = R.origin("txn.db", "k TEXT PRIMARY KEY, v INTEGER, w TEXT", "t")
    a.execute("INSERT INTO t VALUES('k1', 1, 'a'), ('k2', 2, 'b')")
    a.execute("CREATE VIRTUAL TABLE u USING bec(id INTEGER PRIMARY KEY, x BLOB)")
    a.execute("UPDATE t SET v = v + 1")          # prepares the batch statement
    a.execute("DROP TABLE u")                    # ... which then retries
    a.execute("BEGIN")
    a.execute("INSERT OR REPLACE INTO t VALUES('k10', 352, 'xx')")
    a.execute("UPDATE t SET v = coalesce(v, 0) + 1 WHERE k = 'k10'")
    a.execute("UPDATE t SET w = w || '!'")       # every row, in the transaction
    a.execute("COMMIT")
    T.eq(rows_of(a), [('k1', 2, 'a!'), ('k10', 353, 'xx!'), ('k2', 3, 'b!')], "the rows")
    T.eq(one(a, "SELECT bec_check()"), "ok", "the rows are the ops' replay")
    # the same after an autocommit UPDATE (batched) and a DROP TABLE
    a.execute("CREATE VIRTUAL TABLE u USING bec(id INTEGER PRIMARY KEY, x BLOB)")
    a.execute("UPDATE t SET v = v + 1")
    a.execute("DROP TABLE u")
    a.execute("UPDATE t SET v = v + 1")
    T.eq(rows_of(a), [('k1', 4, 'a!'), ('k10', 355, 'xx!'), ('k2', 5, 'b!')], "autocommit")
    T.eq(one(a, "SELECT bec_check()"), "ok", "autocommit: the rows are the ops' replay")
    # a statement that signs inside the transaction, after a one-row UPDATE
    a.execute("BEGIN")
    a.execute("UPDATE t SET v = 0 WHERE k = 'k1'")
    a.execute("SELECT bec_sign(x'02')").fetchall()
    T.check(code(lambda: a.execute("COMMIT"))[0] != 0, "an op signed amid the writes fails the commit")
    if a.in_transaction:
        a.execute("ROLLBACK")
    T.eq(rows_of(a), [('k1', 4, 'a!'), ('k10', 355, 'xx!'), ('k2', 5, 'b!')], "nothing of it kept")
    T.eq(one(a, "SELECT bec_check()"), "ok", "signed amid the writes: the rows are the ops' replay")
    a.close()


def test_last_insert_rowid_kept():
    """A batched UPDATE (the local form of the batch statement, which marks
    the last rowid to see that it inserted nothing) leaves the connection's
    last_insert_rowid() as a plain table's UPDATE does: 1,500 rows, one full
    batch written inside the statement and the rest at its end."""
    for table in ("t", "k"):
        a = R.origin("lr_%s.db" % table, DECLS[table], table)
        ref = plain({table: DECLS[table]})
        key = (lambda i: i) if table == "t" else (lambda i: "k%05d" % i)
        for db in (a, ref):
            db.execute("BEGIN")
            db.executemany("INSERT INTO %s VALUES(?, ?, ?)" % table,
                           [(key(i), "v%d" % i, i % 3) for i in range(1, 1501)])
            db.execute("COMMIT")
            db.execute("CREATE TEMP TABLE other(x)")
            db.execute("INSERT INTO other VALUES(1), (2)")
        want = one(ref, "SELECT last_insert_rowid()")
        T.eq(one(a, "SELECT last_insert_rowid()"), want, "%s: before the UPDATE" % table)
        for db in (a, ref):
            db.execute("UPDATE %s SET n = n + 1" % table)
        T.eq(one(a, "SELECT last_insert_rowid()"), want, "%s: after the batched UPDATE" % table)
        T.eq(rows(a, table), rows(ref, table), "%s: the rows" % table)
        T.eq(one(a, "SELECT count(*) FROM bec_changes(0) WHERE kind='update'"), 1500,
             "%s: every change an update" % table)
        a.close(); ref.close()


def test_update_reads_columns_late():
    """The scan of an UPDATE reads, after its first page (1024 rows), only
    the columns SQLite asked a value of (bec_table.c "Lazy columns"): a column
    read first on a later row (a CASE) comes from its stored row, and the
    pages after read it too.  Every statement against a plain table, and the
    rows are the replay of the signed ops."""
    n = 3000
    cases = [
        ("u", "UPDATE u SET n = CASE WHEN id > 2500 THEN length(a) ELSE n END"),
        ("u", "UPDATE u SET n = CASE WHEN id = %d THEN typeof(a) || id ELSE n END" % n),
        ("u", "UPDATE u SET n = n + 1 WHERE id %% 1000 = 999 OR a = 'x%d'" % (n - 1)),
        ("u", "UPDATE u SET a = CASE WHEN id < 1500 THEN a ELSE a || '!' END, n = 7"),
        ("u", "UPDATE u SET n = 1"),
        ("u", "UPDATE u SET n = CASE WHEN id > 2000 THEN n ELSE a END"),
        ("w", "UPDATE w SET n = CASE WHEN n > 2900 THEN id ELSE n END"),
        ("w", "UPDATE w SET a = CASE WHEN n = 1500 THEN id || a END WHERE n > 1000"),
    ]
    for table in ("u", "w"):
        a = R.origin("late_%s.db" % table, DECLS[table], table)
        ref = plain({table: DECLS[table]})
        key = "x" if table == "u" else "printf('k%05d', x)"
        fill = ("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x<%d) "
                "INSERT INTO %s(id, a, n) SELECT %s, 'x' || x, x FROM c" % (n, table, key))
        a.execute(fill)
        ref.execute(fill)
        for t, sql in cases:
            if t != table:
                continue
            ra, rp = run(a, sql), run(ref, sql)
            T.eq(ra, rp, "late columns: %s" % sql)
            T.check(rows(a, table) == rows(ref, table), "rows after %s" % sql)
        T.eq(one(a, "SELECT bec_check()"), "ok", "late columns: the rows are the ops' replay")
        a.close(); ref.close()


def rows_of(db):
    return db.execute("SELECT k, v, w FROM t ORDER BY k").fetchall()


if len(sys.argv) > 1 and sys.argv[1] == "--child":
    child(sys.argv[2], sys.argv[3], sys.argv[4])
    R.cleanup()
    sys.exit(0)

T.run([test_update_by_key_range, test_update_reads_columns_late, test_last_insert_rowid_kept, test_batch_in_transaction, test_batching_off_is_identical, test_mix_against_plain_and_clone, test_read_your_writes, test_or_fail_and_abort,
       test_feed_kinds])
R.cleanup()
T.done()
