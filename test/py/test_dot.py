"""test_dot.py - bec_dot() and tools/becviz: the DAG as Graphviz DOT/SVG."""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bectest import T, connect, one  # noqa: E402

d = tempfile.mkdtemp()
path = os.path.join(d, "dot.db")
db = connect(path)
pk = one(db, "SELECT bec_keygen()")
g = one(db, "SELECT bec_create_group()")
h1 = one(db, "SELECT bec_sign('a')")
h2 = one(db, "SELECT bec_sign('b')")
dot = one(db, "SELECT bec_dot('{\"collapse\":false}')")   # one box per op
T.check(dot.startswith("digraph bec {") and dot.rstrip().endswith("}"), "a DOT digraph")
T.check('"%s" [label="create %s' % (g[:8], g[:8]) in dot, "the create node is labelled")
T.check('"%s" -> "%s";' % (h2[:8], h1[:8]) in dot, "an edge from each op to its predecessor")
T.check('"%s" -> "%s";' % (h1[:8], g[:8]) in dot, "down to the create")
T.check(("by %s" % pk[:8]) in dot, "the author is named")
T.eq(dot.count("fillcolor=\"#8dd3c7\""), 4, "one colour for the one author (3 ops + legend)")
T.check("dashed\"" not in dot.split("cluster_legend")[0], "no op is shown as ignored")
# Collapsed (the default): h1 and h2, one author's linear run, are one box.
col = one(db, "SELECT bec_dot()")
T.check('"%s" [label="2 app ops by %s\\n%s .. %s"' % (h1[:8], pk[:8], h1[:8], h2[:8]) in col, "a run of 2 app ops: " + col)
T.check('"%s" -> "%s";' % (h1[:8], g[:8]) in col and h2[:8] + '"' not in col.replace(".. " + h2[:8], ""),
        "the run's box is one node, pointing at the create op")
T.eq(one(db, "SELECT bec_dot()"), one(db, "SELECT bec_dot(1000)"), "bec_dot() is bec_dot(1000)")
small = one(db, "SELECT bec_dot(1)")
T.check("newest 1 of 3 ops" in small and g[:8] not in small.split("cluster_legend")[0],
        "bec_dot(limit) shows only the newest ops")
T.raises(lambda: db.execute("SELECT bec_dot(0)"), "positive", "bec_dot(0)")
db.close()

# An op the membership rules ignore is grey and dashed.
db = connect(path)
db.execute("UPDATE bec_store_op SET valid=0 WHERE hash=x'%s'" % h2)
db.close()
db = connect(path)
dot = one(db, "SELECT bec_dot()")
dot = one(db, "SELECT bec_dot('{\"collapse\":false}')")
line = [l for l in dot.splitlines() if l.startswith('  "%s" [' % h2[:8])][0]
T.check("dashed" in line and "#eeeeee" in line, "ignored op greyed: %s" % line)
db.close()

# becviz renders it with graphviz.
build = os.environ.get("BEC_BUILD", os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "build"))
svg = os.path.join(d, "dag.svg")
env = dict(os.environ, LD_PRELOAD="")
r = subprocess.run([os.path.join(build, "becviz"), path, svg], env=env,
                   stderr=subprocess.PIPE, universal_newlines=True)
T.eq(r.returncode, 0, "becviz exit code (%s)" % r.stderr.strip())
T.check(os.path.exists(svg) and "<svg" in open(svg).read(), "becviz wrote an SVG")
T.check(g[:8] in open(svg).read(), "the SVG shows the ops")
r = subprocess.run([os.path.join(build, "becviz"), os.path.join(d, "missing.db"), svg], env=env,
                   stderr=subprocess.PIPE, universal_newlines=True)
T.eq(r.returncode, 2, "becviz on a missing database")
r = subprocess.run([os.path.join(build, "becviz")], env=env, stderr=subprocess.PIPE)
T.eq(r.returncode, 1, "becviz usage")

# becviz options (getopt_long): --help, --version, wrong arguments named.
bv = os.path.join(build, "becviz")
r = subprocess.run([bv, "--help"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
T.check(r.returncode == 0 and r.stdout.startswith("usage: becviz") and "--table" in r.stdout and r.stderr == "",
        "becviz --help: exit 0, usage on stdout")
r = subprocess.run([bv, "--version"], env=env, stdout=subprocess.PIPE, universal_newlines=True)
T.check(r.returncode == 0 and one(connect(), "SELECT bec_version()") in r.stdout, "becviz --version: " + r.stdout)
for args, word in ((["--bogus", path, svg], "--bogus"), (["--last", "x1", path, svg], "'x1'"),
                   (["--table", "t", path, svg], "--key"), ([path, svg, "extra"], "'extra'"),
                   (["--format", "gif", path, svg], "'gif'"), ([path], "OUT")):
    r = subprocess.run([bv] + args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    T.check(r.returncode == 1 and word in r.stderr, "becviz %s: exit %d, %r" % (args, r.returncode, r.stderr))
db = connect(path)
db.execute("CREATE VIRTUAL TABLE todos USING bec(id TEXT PRIMARY KEY, title TEXT)")
db.execute("INSERT INTO todos VALUES ('t1', 'a')")
db.execute("INSERT INTO todos VALUES ('t2', 'b')")
db.execute("UPDATE todos SET title = 'c' WHERE id = 't1'")
db.close()
out = os.path.join(d, "row.dot")
r = subprocess.run([bv, "--table", "todos", "--key", "t1", "--no-collapse", "--format", "dot", path, out],
                   env=env, stderr=subprocess.PIPE, universal_newlines=True)
rowdot = open(out).read() if r.returncode == 0 else ""
T.check(rowdot.count("[label=\"write ") == 2 and "the 2 writes to todos row (t1)" in rowdot,
        "becviz --table --key draws the row's 2 writes: %s %s" % (r.stderr, rowdot))
r = subprocess.run([bv, "-n", "2", "--no-legend", path, out + "2.dot"], env=env, stderr=subprocess.PIPE)
last2 = open(out + "2.dot").read() if r.returncode == 0 else ""
T.check("newest 2 of" in last2 and "legend" not in last2, "becviz -n 2 --no-legend")
T.done()
