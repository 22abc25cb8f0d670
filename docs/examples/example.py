"""example.py - bec from Python's standard sqlite3 module.

    /usr/bin/python3 example.py path/to/bec notes.db

Use Debian's /usr/bin/python3: its sqlite3 module can load extensions
(some other builds of Python are compiled without enable_load_extension).
"""
import sqlite3
import sys

ext, path = sys.argv[1], sys.argv[2]
db = sqlite3.connect(path, isolation_level=None)   # autocommit: bec makes its own transactions
db.enable_load_extension(True)
db.load_extension(ext)
db.enable_load_extension(False)                     # only bec may be loaded

print(db.execute("SELECT bec_version()").fetchone()[0])
if db.execute("SELECT bec_pubkey()").fetchone()[0] is None:
    print("identity:", db.execute("SELECT bec_keygen()").fetchone()[0])
if db.execute("SELECT bec_group_id()").fetchone()[0] is None:
    print("group:", db.execute("SELECT bec_create_group()").fetchone()[0])
h = db.execute("SELECT bec_sign(?)", (b"hello from Python",)).fetchone()[0]
print("signed:", h)
for hash_, kind, depth in db.execute("SELECT hash, kind, depth FROM bec_ops"):
    print(" ", hash_[:12], kind, depth)
print("check:", db.execute("SELECT bec_check()").fetchone()[0])
