"""Every example E1..E13 of MEMBERSHIP.md as a multi-replica test.

    BEC_EXT=$PWD/build/bec /usr/bin/python3 test/py/test_membership_examples.py

Each user of an example has a replica (a database with its own key from
bec_keygen()); ops are made with the SQL surface (bec_create_group,
bec_add_member, bec_remove_member, bec_sign for writes) on the author's
replica, after it received exactly the op's predecessors and their past
(moved selectively with bec_op/bec_ingest), so concurrency comes from
replicas that have not exchanged ops yet.  When an author needs two
concurrent ops (E8: C leaves on one device, writes on another), a second
device gets a copy of the key.  Then every authoring replica receives
everything, and fresh replicas receive all ops in several orders, some
topological, some arbitrary (ops wait in the pending area); every one must
end with the example's members, roles, ranks and ignored ops.  E12's op is
signed outside bec (an outsider can sign anything) and must be refused by
acceptance everywhere.
"""
import hashlib
import os
import random
import sqlite3
import sys
import tempfile

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "test", "membership"))

from bectest import T, connect, one  # noqa: E402
import examples  # noqa: E402
from becwire import Key, make_op  # noqa: E402

KEYDIR = tempfile.TemporaryDirectory(prefix="bec_members_")


class Device:
    def __init__(self, user, db):
        self.user = user
        self.db = db
        self.known = set()        # names of ops it holds


class Example:
    def __init__(self, ex):
        self.ex = ex
        self.devices = {}         # user -> [Device]
        self.keydir = tempfile.mkdtemp(dir=KEYDIR.name)   # users' key files
        self.pub = {}             # user -> hex key
        self.hash = {}            # op name -> hex hash
        self.body = {}            # op name -> encoding
        self.order = []           # op names, in the example's order
        self.preds = {}           # op name -> [names]
        self.group = None

    # -- devices --------------------------------------------------------
    def device(self, user, fits):
        """A device of user whose ops satisfy fits(known), or a new one."""
        for d in self.devices.get(user, []):
            if fits(d.known):
                return d
        db = connect()
        # A person's devices share one key file (the secret key is never in
        # a database): the first device makes it, the others point to it.
        one(db, "SELECT bec_key_file(?)", os.path.join(self.keydir, "%s.key" % user))
        if user not in self.devices:
            self.pub[user] = one(db, "SELECT bec_keygen()")
            self.devices[user] = []
        else:
            # Same person, another device: the same identity.
            one(db, "SELECT bec_pubkey()")          # creates the storage
            db.execute("INSERT INTO bec_store_config(key, value) VALUES('pubkey', ?)",
                       (bytes.fromhex(self.pub[user]),))
        if self.group:
            one(db, "SELECT bec_join(?)", self.group)
        d = Device(user, db)
        self.devices[user].append(d)
        return d

    def past(self, names):
        out = set()
        todo = list(names)
        while todo:
            x = todo.pop()
            if x not in out:
                out.add(x)
                todo.extend(self.preds[x])
        return out

    def deliver(self, dev, names):
        for x in self.order:
            if x in names and x not in dev.known:
                one(dev.db, "SELECT bec_ingest(?)", self.body[x])
                dev.known.add(x)

    # -- ops ------------------------------------------------------------
    def make(self, name, author, kind, target, role, preds):
        need = self.past(preds)
        dev = self.device(author, lambda known: known <= need)
        self.deliver(dev, need)
        heads = sorted(r[0] for r in dev.db.execute("SELECT hash FROM bec_heads"))
        T.eq(heads, sorted(self.hash[p] for p in preds),
             "%s/%s: heads before the op" % (self.ex["name"], name))
        if kind == "create":
            h = one(dev.db, "SELECT bec_create_group()")
            self.group = h
        elif kind == "add":
            self.device(target, lambda known: True)      # the target has a key
            h = one(dev.db, "SELECT bec_add_member(?, ?)", self.pub[target], role)
        elif kind == "remove":
            self.device(target, lambda known: True)
            h = one(dev.db, "SELECT bec_remove_member(?)", self.pub[target])
        else:
            h = one(dev.db, "SELECT bec_sign(?)", ("%s %s" % (self.ex["name"], name)).encode())
        self.hash[name] = h
        self.body[name] = one(dev.db, "SELECT bec_op(?)", h)
        self.order.append(name)
        dev.known.add(name)
        if kind == "create":
            for u, devs in self.devices.items():
                for d in devs:
                    if d is not dev:
                        one(d.db, "SELECT bec_join(?)", h)

    def build(self):
        for name, author, kind, target, role, preds in self.ex["ops"]:
            self.preds[name] = list(preds)
            self.make(name, author, kind, target, role, preds)
        # Every user known to the example has a key.
        for name, author, kind, target, role, preds in self.ex["ops"] + self.ex["rejected"]:
            for u in (author, target):
                if u:
                    self.device(u, lambda known: True)

    # -- checks ---------------------------------------------------------
    def check(self, db, where):
        ex = self.ex
        name_of = {v: k for k, v in self.pub.items()}
        members = {name_of.get(pk, pk[:8]): (role, rank) for pk, role, rank in
                   db.execute("SELECT pubkey, role, rank FROM bec_members")}
        T.eq({u: r for u, (r, _) in members.items()}, ex["members"],
             "%s %s: members" % (ex["name"], where))
        for u, rank in ex["ranks"].items():
            if u in members:
                T.eq(members[u][1], rank, "%s %s: rank of %s" % (ex["name"], where, u))
        by_hash = {v: k for k, v in self.hash.items()}
        ignored = {by_hash[h] for h, v in db.execute("SELECT hash, valid FROM bec_ops")
                   if not v}
        T.eq(ignored, set(ex["ignored"]), "%s %s: ignored ops" % (ex["name"], where))
        T.eq(one(db, "SELECT bec_check()"), "ok", "%s %s: bec_check" % (ex["name"], where))


def outsider_op(ex, e, target_pub):
    """An op signed outside bec by a key that is no member (E12)."""
    key = Key(hashlib.sha256(("E12/outsider/%s" % ex.group).encode()).digest())
    role = ex.ex["rejected"][0][4]
    return make_op(key, "add", [bytes.fromhex(ex.hash[p]) for p in ex.ex["rejected"][0][5]],
                       bytes.fromhex(target_pub) + bytes([1 if role == "admin" else 2]),
                       bytes.fromhex(ex.group))


def run(exd, rng):
    ex = Example(exd)
    ex.build()
    bad = []
    if exd["rejected"]:
        # The local API refuses it on the outsider's replica ...
        e_user, f_user = exd["rejected"][0][1], exd["rejected"][0][3]
        e_dev = ex.devices[e_user][0]
        ex.deliver(e_dev, set(ex.order))
        T.raises(lambda: one(e_dev.db, "SELECT bec_add_member(?, 'admin')", ex.pub[f_user]),
                 "not allowed", "%s: local API of the outsider" % exd["name"])
        # ... and acceptance refuses the same op signed outside bec.
        bad.append(outsider_op(ex, e_user, ex.pub[f_user]))
    # Everyone receives everything, in the example's order.
    for u, devs in ex.devices.items():
        for d in devs:
            ex.deliver(d, set(ex.order))
            for b in bad:
                T.raises(lambda: one(d.db, "SELECT bec_ingest(?)", b), "unauthorized",
                         "%s: outsider op on %s's replica" % (exd["name"], u))
            ex.check(d.db, "on %s's replica" % u)
    # Fresh replicas, each op order.
    for k in range(6):
        names = list(ex.order)
        if k % 2 == 0:
            rng.shuffle(names)                  # arbitrary: pending area
        else:
            names = topo_shuffle(ex, rng)
        db = connect()
        one(db, "SELECT bec_join(?)", ex.group)
        for n in names:
            one(db, "SELECT bec_ingest(?)", ex.body[n])
        T.eq(one(db, "SELECT count(*) FROM bec_pending"), 0,
             "%s order %d: nothing left pending" % (exd["name"], k))
        for b in bad:
            T.raises(lambda: one(db, "SELECT bec_ingest(?)", b), "unauthorized",
                     "%s order %d: outsider op" % (exd["name"], k))
        ex.check(db, "order %d %s" % (k, names))
        db.close()
    for devs in ex.devices.values():
        for d in devs:
            d.db.close()


def topo_shuffle(ex, rng):
    left = list(ex.order)
    done = set()
    out = []
    while left:
        ready = [x for x in left if all(p in done for p in ex.preds[x])]
        x = rng.choice(ready)
        out.append(x)
        done.add(x)
        left.remove(x)
    return out


def main():
    rng = random.Random(2024)
    for exd in examples.EXAMPLES:
        try:
            run(exd, rng)
        except sqlite3.Error as e:
            T.check(False, "%s: %s" % (exd["name"], e))
    T.done()


if __name__ == "__main__":
    main()
