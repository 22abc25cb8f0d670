"""test_fn_errors.py - a wrong argument to a bec SQL function is an ordinary
SQL error (SQLITE_ERROR: sqlite3.OperationalError in Python), never
SQLITE_MISUSE (which Python reports as InterfaceError, as if the program had
misused the sqlite3 module), and every message starts with the name of the
function that failed: "<function>: <why>"."""
import sqlite3
from bectest import T, connect, one

fresh = connect()          # no identity, no group
grp = connect()            # an identity and a group
one(grp, "SELECT bec_keygen()")
one(grp, "SELECT bec_create_group()")

CASES = [
    # (connection, the call, the function named, a word of the reason)
    (fresh, "SELECT bec_keygen(1)", "bec_keygen", "passphrase"),
    (fresh, "SELECT bec_keygen('')", "bec_keygen", "passphrase"),
    (fresh, "SELECT bec_key_file(3)", "bec_key_file", "path"),
    (fresh, "SELECT bec_join('zz')", "bec_join", "group id"),
    (fresh, "SELECT bec_sign(NULL)", "bec_sign", "payload"),
    (fresh, "SELECT bec_sign('x')", "bec_sign", "bec_keygen()"),
    (fresh, "SELECT bec_create_group()", "bec_create_group", "bec_keygen()"),
    (fresh, "SELECT bec_op('zz')", "bec_op", "hash"),
    (fresh, "SELECT bec_ingest('not a blob')", "bec_ingest", "blob"),
    (fresh, "SELECT bec_dot(0)", "bec_dot", "positive"),
    (fresh, "SELECT bec_config('nope')", "bec_config", "unknown setting"),
    (fresh, "SELECT bec_config('rejected_max', 'x')", "bec_config", "integer"),
    (grp, "SELECT bec_add_member('zz', 'member')", "bec_add_member", "public key"),
    (grp, "SELECT bec_add_member(hex(zeroblob(32)), 'king')", "bec_add_member", "role"),
    (grp, "SELECT bec_remove_member('zz')", "bec_remove_member", "public key"),
    (grp, "SELECT bec_create_group()", "bec_create_group", "already"),
    (grp, "SELECT bec_ingest(x'00')", "bec_ingest", ""),
    (grp, "SELECT bec_sync_offer('')", "bec_sync_offer", "peer"),
    (grp, "SELECT bec_sync_apply('p', 'text')", "bec_sync_apply", "blob"),
    (grp, "SELECT bec_sync_apply('p', x'00')", "bec_sync_apply", ""),
    (grp, "SELECT bec_sync_state(5)", "bec_sync_state", "peer"),
    (grp, "SELECT bec_sync_auth_sign('text')", "bec_sync_auth_sign", "blob"),
    (grp, "SELECT bec_sync_peer_allowed('zz')", "bec_sync_peer_allowed", "key"),
]

for db, sql, fn, why in CASES:
    try:
        db.execute(sql).fetchall()
        T.check(False, "%s: no error" % sql)
    except sqlite3.OperationalError as e:
        msg = str(e)
        T.check(msg.startswith(fn + ": "), "%s: message %r does not start with %r" % (sql, msg, fn + ": "))
        T.check(why in msg, "%s: message %r lacks %r" % (sql, msg, why))
        T.eq(getattr(e, "sqlite_errorcode", 1), 1, "%s: SQLITE_ERROR" % sql)
    except sqlite3.Error as e:
        T.check(False, "%s: %s (%s) instead of OperationalError" % (sql, type(e).__name__, e))

T.done()
