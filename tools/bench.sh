#!/usr/bin/env bash
# make bench: runs every benchmark (build/bench_*) with its default sizes.
# Each prints its own figures and the ratios measured in the same run; copy
# them into BENCH.md with the command that produced them.
set -u
cd "$(dirname "$0")/.."
status=0
for b in build/bench_*; do
  [ -x "$b" ] || continue
  echo "== $b"
  "$b" || status=1
  echo
done
# The relay under many clients (issue 14): a script, since its clients are
# becsync processes.
echo "== tools/bench_graph.py"
BEC_EXT=$PWD/build/bec /usr/bin/python3 tools/bench_graph.py || status=1
echo
# End-to-end encryption against plaintext (issue 15), timed and counted.
echo "== tools/bench_e2ee.py 300 --count"
BEC_EXT=$PWD/build/bec /usr/bin/python3 tools/bench_e2ee.py 300 --count || status=1
echo
echo "== tools/bench_prune.py"
BEC_EXT=$PWD/build/bec /usr/bin/python3 tools/bench_prune.py || status=1
echo "== tools/bench_snapshot.py"
BEC_EXT=$PWD/build/bec /usr/bin/python3 tools/bench_snapshot.py || status=1
echo "== tools/bench_band.py"
BEC_EXT=$PWD/build/bec /usr/bin/python3 tools/bench_band.py || status=1
echo
echo "== tools/bench_surface.py"
BEC_EXT=$PWD/build/bec /usr/bin/python3 tools/bench_surface.py || status=1
echo
echo "== tools/bench_relay.py"
BEC_EXT=$PWD/build/bec /usr/bin/python3 tools/bench_relay.py || status=1
exit $status
