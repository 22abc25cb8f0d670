"""A removed member is told (issue 14; docs/sync.md, "A removed member is
told"), end to end with becsync over TCP, served by a relay:

  - a relay key (role 'relay', docs/membership.md) serves with becsync serve;
    a member syncs with it (exit 0) and receives everything;
  - a member removed by the creator syncs with the relay: becsync exits 4 and
    says who removed it in which op; its replica stored the removal op and
    its causal past through the normal acceptance path, and nothing written
    after the removal; it shows itself removed (not in bec_members, the
    removal valid, its own concurrent write ignored), refuses local writes
    with the clear error, and bec_check() is 'ok';
  - the relay's log names the told member and the op;
  - `becsync run` on the removed member is told once, then stops with exit
    4 instead of dialling into refusals forever;
  - a key that was never a member is still refused with exit 4 and gets
    nothing.

    BEC_EXT=$PWD/build/bec /usr/bin/python3 test/py/test_becsync_removed.py
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bectest import EXT, T, connect, free_port, one  # noqa: E402

BECSYNC = os.environ.get("BEC_BECSYNC") or os.path.join(os.path.dirname(EXT), "becsync")
TMP = tempfile.mkdtemp(prefix="bec_removed_")


def path(name):
    return os.path.join(TMP, name + ".db")


def db(name):
    return connect(path(name), timeout=10)


def new_replica(name, group):
    c = db(name)
    pub = one(c, "SELECT bec_keygen()")
    one(c, "SELECT bec_join(?)", group)
    return c, pub


def copy_ops(src, dst, only=None):
    for (h,) in src.execute("SELECT hash FROM bec_ops ORDER BY depth, hash"):
        if only is None or h in only:
            one(dst, "SELECT bec_ingest(?)", one(src, "SELECT bec_op(?)", h))


def hashes(c):
    return {h for (h,) in c.execute("SELECT hash FROM bec_ops")}


def sync(name, port, limit=30):
    p = subprocess.run([BECSYNC, "--quiet", "sync", path(name), "127.0.0.1:%d" % port],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=limit)
    return p.returncode, p.stdout.decode(errors="replace")


def main():
    A = db("a")
    a_pub = one(A, "SELECT bec_keygen()")
    one(A, "SELECT bec_create_group()")
    group = one(A, "SELECT bec_group_id()")
    for i in range(3):
        one(A, "SELECT bec_sign(?)", b"a %d" % i)
    M, m_pub = new_replica("m", group)
    R, r_pub = new_replica("r", group)
    B, b_pub = new_replica("b", group)
    X, x_pub = new_replica("x", group)
    one(A, "SELECT bec_add_member(?, 'member')", m_pub)
    one(A, "SELECT bec_add_member(?, 'member')", b_pub)
    one(A, "SELECT bec_add_member(?, 'relay')", r_pub)
    copy_ops(A, M)
    for i in range(2):
        one(M, "SELECT bec_sign(?)", b"m before %d" % i)
    copy_ops(M, A)
    # A removes M; M, not knowing yet, writes concurrently.
    removal = one(A, "SELECT bec_remove_member(?)", m_pub)
    entitled = hashes(A)                  # the removal and its past
    for i in range(2):
        one(A, "SELECT bec_sign(?)", b"a after %d" % i)
    after = hashes(A) - entitled
    conc = one(M, "SELECT bec_sign(?)", b"m concurrent")
    T.eq(one(M, "SELECT count(*) FROM bec_members WHERE pubkey=?", m_pub), 1,
         "before: M believes it is a member")
    copy_ops(A, R)                        # the relay holds everything
    n_relay = one(R, "SELECT count(*) FROM bec_ops")
    for c in (A, M, R, B, X):
        c.close()

    port = free_port()
    out = open(os.path.join(TMP, "serve.out"), "w+")
    err = open(os.path.join(TMP, "serve.err"), "w+")
    srv = subprocess.Popen([BECSYNC, "--quiet", "serve", path("r"), "--listen",
                            "127.0.0.1:%d" % port], stdout=out, stderr=err)
    try:
        for _ in range(100):
            err.seek(0)
            if "serving on" in err.read() or srv.poll() is not None:
                break
            time.sleep(0.05)

        # A member syncs with the relay as with any peer.
        rc, text = sync("b", port)
        T.eq(rc, 0, "a member syncs with a relay: %s" % text)
        B = db("b")
        T.eq(one(B, "SELECT count(*) FROM bec_ops"), n_relay, "the member got everything")
        T.eq(one(B, "SELECT role FROM bec_members WHERE pubkey=?", r_pub), "relay",
             "the relay is listed as relay")
        B.close()

        # The removed member is told.
        rc, text = sync("m", port)
        T.eq(rc, 4, "a removed member's becsync exits 4: %s" % text)
        T.check(("removed from the group by %s..." % a_pub[:16]) in text,
                "it names the remover: %r" % text)
        T.check(("in op %s" % removal) in text, "it names the op: %r" % text)
        M = db("m")
        have = hashes(M)
        T.check(entitled <= have, "the removal and its whole past are stored")
        T.check(not (after & have), "nothing written after the removal was sent")
        T.eq(one(M, "SELECT valid FROM bec_ops WHERE hash=?", removal), 1,
             "the removal is valid on the removed member's replica")
        T.eq(one(M, "SELECT count(*) FROM bec_members WHERE pubkey=?", m_pub), 0,
             "the replica shows itself removed")
        T.eq(one(M, "SELECT valid FROM bec_ops WHERE hash=?", conc), 0,
             "its write concurrent with the removal is ignored")
        T.raises(lambda: one(M, "SELECT bec_sign(?)", b"into the void"),
                 "unauthorized: not a member", "local writes are refused")
        T.eq(one(M, "SELECT bec_check()"), "ok", "bec_check on the removed replica")
        M.close()

        # Told again: nothing new moves, same answer.
        rc2, text2 = sync("m", port)
        T.eq(rc2, 4, "told again: exit 4: %s" % text2)
        print("# " + text2.strip())
        T.check("(0 ops of the removal" in text2,
                "told again names the removal: %r" % text2)

        # becsync run stops once told: exit 4, one ERROR line, no dialling on.
        cfg = os.path.join(TMP, "m.conf")
        with open(cfg, "w") as fh:
            fh.write("database = m.db\npeer = 127.0.0.1:%d\ninterval = 1\n" % port)
        t0 = time.monotonic()
        run = subprocess.run([BECSYNC, "run", cfg], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, timeout=30)
        rlog = run.stdout.decode(errors="replace")
        T.eq(run.returncode, 4, "becsync run of a removed member exits 4: %s" % rlog)
        T.check(time.monotonic() - t0 < 10, "promptly (%.1f s)" % (time.monotonic() - t0))
        T.check("removed from the group: stopping (exit 4)" in rlog, "and says why: %r" % rlog)
        T.eq(rlog.count("removed from the group by"), 1, "it dialled once, not on and on: %r" % rlog)

        # A key that was never a member gets nothing.
        rc, text = sync("x", port)
        T.eq(rc, 4, "an outsider is refused with exit 4: %s" % text)
        T.check("not a member" in text, "outsider: not a member: %r" % text)
        X = db("x")
        T.eq(one(X, "SELECT count(*) FROM bec_ops"), 0, "the outsider got nothing")
        X.close()

        time.sleep(0.2)
        out.seek(0)
        log = out.read()
        T.check(re.search(r"WARN 127\.0\.0\.1:\d+ %s .*removed member told: sent the op "
                          r"that removed it, %s" % (m_pub[:16], removal[:16]), log),
                "the relay logs the told member: %r" % log[-600:])
        R = db("r")
        T.eq(one(R, "SELECT count(*) FROM bec_ops"), n_relay, "the relay stored nothing new")
        T.eq(one(R, "SELECT bec_check()"), "ok", "bec_check on the relay")
        R.close()
    finally:
        srv.terminate()
        try:
            srv.wait(5)
        except subprocess.TimeoutExpired:
            srv.kill()
            srv.wait()
        shutil.rmtree(TMP, ignore_errors=True)
    T.done()


if __name__ == "__main__":
    main()
