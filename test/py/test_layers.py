"""test_layers.py - the floors of ext/ (docs/architecture.md) hold in the
source: every file calls only files below it, so the calls between files
form no circle; bec_main.c alone sees every file; the DAG layer and the
context name no deriver; every stored table is written by one file; and
the installed tools include only the public header.

Read from the C sources (comments and string literals stripped for the
call graph), so a change that adds an upward call fails here with the
offending call named.
"""
import glob
import os
import re

from bectest import T, ROOT

EXT = os.path.join(ROOT, "ext")


def strip(src, keep_strings=False):
    src = re.sub(r"/\*.*?\*/", " ", src, flags=re.S)
    if not keep_strings:
        src = re.sub(r'"(?:[^"\\\n]|\\.)*"', '""', src)
    return src


def sources():
    return {os.path.basename(f): open(f).read()
            for f in sorted(glob.glob(os.path.join(EXT, "*.c")))}


def definitions(files):
    """Global bec_* functions and objects, by defining file."""
    defs = {}
    pat = re.compile(r"^(?:const\s+)?[A-Za-z_][\w \*]*?\b(bec_\w+)\s*(?:\(|=|\[)",
                     re.M)
    for name, src in files.items():
        for m in pat.finditer(strip(src)):
            defs.setdefault(m.group(1), name)
    return defs


def call_graph(files, defs):
    graph = {}
    for name, src in files.items():
        used = {}
        for m in re.finditer(r"\b(bec_\w+)\b", strip(src)):
            d = defs.get(m.group(1))
            if d and d != name:
                used.setdefault(d, m.group(1))
        graph[name] = used
    return graph


def find_cycle(graph):
    state = {}
    stack = []

    def visit(n):
        state[n] = 1
        stack.append(n)
        for m in graph.get(n, {}):
            if state.get(m) == 1:
                return stack[stack.index(m):] + [m]
            if m not in state:
                c = visit(m)
                if c:
                    return c
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(graph):
        if n not in state:
            c = visit(n)
            if c:
                return c
    return None


def test_no_circle():
    files = sources()
    defs = definitions(files)
    graph = call_graph(files, defs)
    T.check(len(graph) >= 15 and "bec_dag.c" in graph, "read ext/: %r" % sorted(graph))
    cycle = find_cycle(graph)
    T.check(cycle is None, "a circle of calls: %s" % (
        " -> ".join("%s (%s)" % (a, graph[a].get(b, "?"))
                    for a, b in zip(cycle, cycle[1:])) if cycle else ""))
    # bec_main.c sees everything; nothing sees bec_main.c.
    callers = [n for n, used in graph.items() if "bec_main.c" in used]
    T.check(callers == [], "files calling into bec_main.c: %r" % callers)
    # The DAG layer, the context and the graph name no deriver.
    for low in ("bec_dag.c", "bec_ctx.c", "bec_graph.c", "bec_keyfile.c"):
        up = [f for f in graph[low] if f in ("bec_member.c", "bec_crdt.c",
                                             "bec_sync.c", "bec_table.c")]
        T.check(up == [], "%s calls %r" % (low, up))
    # The derivers are registered in bec_main.c only.
    derivers = [d for d in defs if d.endswith("_deriver")]
    T.check(len(derivers) >= 3, "derivers: %r" % derivers)
    for name, src in files.items():
        for d in derivers:
            if re.search(r"\b%s\b" % d, strip(src)):
                T.check(name in ("bec_main.c", defs[d]), "%s names %s" % (name, d))


def test_one_writer_per_table():
    """Every INSERT/UPDATE/DELETE of a bec_store_* table is in one file."""
    files = sources()
    writers = {}
    pat = re.compile(r"\b(?:INSERT(?:\s+OR\s+\w+)?\s+INTO|UPDATE(?:\s+OR\s+\w+)?|"
                     r"DELETE\s+FROM)\s+(?:main\.)?(bec_store_\w+)", re.I)
    for name, src in files.items():
        for m in pat.finditer(strip(src, keep_strings=True)):
            writers.setdefault(m.group(1), set()).add(name)
    T.check(len(writers) >= 10, "found the writers: %r" % sorted(writers))
    for table, names in sorted(writers.items()):
        T.check(len(names) == 1, "%s is written by %s" % (table, sorted(names)))
    # The shadow tables of bec tables are written by the merge alone.
    for name, src in files.items():
        s = strip(src, keep_strings=True)
        hits = re.findall(r"(?:INSERT(?:\s+OR\s+\w+)?\s+INTO|UPDATE(?:\s+OR\s+\w+)?|"
                          r"DELETE\s+FROM)\s+%s", s)
        if name != "bec_crdt.c":
            T.check(hits == [], "%s writes a shadow table: %r" % (name, hits))


def test_tools_use_the_public_header():
    """Installed tools (becsync, becviz) reach bec through bec.h and SQL
    only; benchmarks may use the internal header."""
    for tool in ("becsync.c", "becviz.c"):
        src = open(os.path.join(ROOT, "tools", tool)).read()
        T.check('#include "bec.h"' in src, "%s includes bec.h" % tool)
        T.check("becInt.h" not in strip(src), "%s does not include becInt.h" % tool)


test_no_circle()
test_one_writer_per_table()
test_tools_use_the_public_header()
T.done()
