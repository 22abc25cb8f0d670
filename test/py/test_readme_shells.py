"""test_readme_shells.py - the README's "Two replicas in two sqlite3 shells"
runs as written: every `alice> ` and `bob> ` line of that section is typed
into one of two sqlite3 shells (Debian's /usr/bin/sqlite3, the module as
BEC_EXT), with <key of bob> and <group id> replaced by what the shells
printed, and the "repeat the last two lines until one prints 0" loops
carried out.  Then bob holds alice's row and alice holds bob's."""
import os
import re
import subprocess
import tempfile
from bectest import T, ROOT, EXT

text = open(os.path.join(ROOT, "README.md")).read()
sec = text.split("## Two replicas in two sqlite3 shells", 1)[1].split("\n## ", 1)[0]
parts = sec.split("Bob now has the group", 1)
lines = [re.findall(r"^    (alice|bob)> (.*)$", p, re.M) for p in parts]
T.check(len(lines[0]) >= 10 and len(lines[1]) >= 5, "the README section has its shell lines")

tmp = tempfile.mkdtemp()
env = dict(os.environ, LD_PRELOAD=os.environ.get("BEC_PRELOAD", ""))
MARK = "@@done@@"


class Shell:
    def __init__(self, db):
        self.p = subprocess.Popen(["sqlite3", db], cwd=tmp, env=env, stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  universal_newlines=True, bufsize=1)

    def run(self, cmd):
        self.p.stdin.write(cmd + "\n.print " + MARK + "\n")
        self.p.stdin.flush()
        out = []
        while True:
            line = self.p.stdout.readline()
            if line == "" or line.rstrip("\n") == MARK:
                return "\n".join(out)
            out.append(line.rstrip("\n"))

    def close(self):
        self.p.stdin.close()
        self.p.wait()


sh = {"alice": Shell("alice.db"), "bob": Shell("bob.db")}
vals = {}


def typed(who, cmd):
    cmd = cmd.replace(".load ./build/bec", ".load " + EXT)
    for k, v in vals.items():
        cmd = cmd.replace(k, v)
    out = sh[who].run(cmd)
    T.check("Error" not in out and "error" not in out, "%s> %s: %s" % (who, cmd, out))
    return out


def play(seq):
    for i, (who, cmd) in enumerate(seq):
        out = typed(who, cmd)
        if cmd == "SELECT bec_keygen();" and who == "bob":
            vals["<key of bob>"] = out.strip()
        if cmd == "SELECT bec_group_id();":
            vals["<group id>"] = out.strip()
        # The exchange: after the offer, the two lines that follow are
        # repeated until one prints 0 (the README says so).
        if "bec_sync_offer" in cmd:
            pair = seq[i+1:i+3]
            for _ in range(20):
                done = False
                for w, c in pair:
                    if typed(w, c).strip() == "0":
                        done = True
                        break
                if done:
                    break
            T.check(done, "the exchange ended with a 0 within 20 rounds")
            rest = seq[i+3:]
            play(rest)
            return


play(lines[0])
T.check(re.fullmatch(r"[0-9a-f]{64}", vals.get("<key of bob>", "")), "bob's key was printed")
T.check(re.fullmatch(r"[0-9a-f]{64}", vals.get("<group id>", "")), "the group id was printed")
T.eq(sh["bob"].run("SELECT count(*) FROM bec_members;"), "2", "bob sees both members")
T.eq(sh["bob"].run("SELECT title FROM todos;"), "buy milk", "bob has alice's row")
play(lines[1])
T.eq(sh["alice"].run("SELECT group_concat(title, ',') FROM (SELECT title FROM todos ORDER BY id);"),
     "buy milk,call alice", "alice has bob's row")
T.check("bob|" in sh["alice"].run("SELECT peer, sessions, ops_received FROM bec_peers;"), "alice's bec_peers names bob")
for s in sh.values():
    s.close()
T.done()
