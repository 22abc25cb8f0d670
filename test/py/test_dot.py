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
dot = one(db, "SELECT bec_dot()")
T.check(dot.startswith("digraph bec {") and dot.rstrip().endswith("}"), "a DOT digraph")
T.check('"%s" [label="create %s' % (g[:8], g[:8]) in dot, "the create node is labelled")
T.check('"%s" -> "%s";' % (h2[:8], h1[:8]) in dot, "an edge from each op to its predecessor")
T.check('"%s" -> "%s";' % (h1[:8], g[:8]) in dot, "down to the create")
T.check(("by %s" % pk[:8]) in dot, "the author is named")
T.eq(dot.count("fillcolor=\"#8dd3c7\""), 4, "one colour for the one author (3 ops + legend)")
T.check("dashed\"" not in dot.split("cluster_legend")[0], "no op is shown as ignored")
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
T.done()
