"""test_docs.py - every ```sql block of README.md and docs/*.md runs, so
the documentation cannot rot.

Each document runs its blocks in order on one replica ("me").  Unless a
block makes the identity itself (bec_keygen), the replica first gets an
identity and a group.  Blocks name other replicas' values with parameters
the test binds:
    :bob, :carol      public keys of two other identities (made here)
    :group_id         the group's id
    :msg              a sync message from another replica (its first offer)
    :op               the encoding of an op from the group's creator
A statement that is expected to fail carries the comment "-- error" on its
first line.
"""
import glob
import os
import re
import sqlite3
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bectest import T, connect, one, ROOT  # noqa: E402


def blocks(path):
    text = open(path).read()
    return re.findall(r"```sql\n(.*?)```", text, re.S)


def statements(block):
    buf = ""
    for line in block.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            yield buf.strip()
            buf = ""
    if buf.strip() and not all(l.strip().startswith("--") or not l.strip() for l in buf.splitlines()):
        yield buf.strip()


def keyholder():
    db = connect()
    return db, one(db, "SELECT bec_keygen()")


def world():
    """The replica the docs talk to, and the values their parameters name."""
    _, bob = keyholder()
    _, carol = keyholder()
    return {"bob": bob, "carol": carol}


docs = [os.path.join(ROOT, "README.md")] + sorted(glob.glob(os.path.join(ROOT, "docs", "*.md")))
nblocks = 0
for path in docs:
    bs = blocks(path)
    if not bs:
        continue
    name = os.path.relpath(path, ROOT)
    params = world()
    me = connect()
    if "bec_keygen" not in bs[0]:
        me.execute("SELECT bec_keygen()")
        me.execute("SELECT bec_create_group()")
    for i, b in enumerate(bs):
        nblocks += 1
        for stmt in statements(b):
            gid = one(me, "SELECT bec_group_id()")
            if gid:
                params["group_id"] = gid
                params["op"] = one(me, "SELECT bec_op(bec_group_id())")
                other = connect()
                other.execute("SELECT bec_keygen()")
                other.execute("SELECT bec_join(?)", (gid,))
                params["msg"] = one(other, "SELECT bec_sync_offer('me')")
            used = {k: v for k, v in params.items() if (":" + k) in stmt}
            expect_error = stmt.splitlines()[0].rstrip().endswith("-- error")
            try:
                list(me.execute(stmt, used))
                T.check(not expect_error, "%s block %d: no error from %r" % (name, i + 1, stmt))
            except sqlite3.Error as e:
                T.check(expect_error, "%s block %d: %r failed: %s" % (name, i + 1, stmt, e))
T.check(nblocks >= 4, "found %d sql blocks in the docs" % nblocks)
print("ran %d sql blocks" % nblocks)
T.done()
