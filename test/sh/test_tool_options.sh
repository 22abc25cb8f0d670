#!/usr/bin/env bash
# becsync and becviz read their options with getopt_long: --help prints the
# usage on stdout and exits 0, --version names the version, and a wrong
# option, value or argument count exits 1 with a line naming what was wrong.
# (The tools' work is tested by test_becsync.sh, test_becsync_*.py and
# test_dot*.py.)
set -u
cd "$(dirname "$0")/../.."
B=${BEC_BUILD:-$PWD/build}
pass=0; fail=0
ok()  { pass=$((pass+1)); }
bad() { fail=$((fail+1)); echo "FAIL $*"; }
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
export LD_PRELOAD="${BEC_PRELOAD:-}"
VER=$(sed -n 's/^#define BEC_VERSION *"\(.*\)"/\1/p' ext/bec.h)

for tool in becsync becviz; do
  out=$("$B/$tool" --help 2>"$T/err"); rc=$?
  [ $rc = 0 ] && [ "${out#usage: $tool}" != "$out" ] && [ ! -s "$T/err" ] && ok || bad "$tool --help: rc $rc, $out $(cat "$T/err")"
  out=$("$B/$tool" -h 2>/dev/null); [ "${out#usage: $tool}" != "$out" ] && ok || bad "$tool -h"
  out=$("$B/$tool" --version 2>&1); rc=$?
  [ $rc = 0 ] && [ "$out" = "$tool (bec) $VER" ] && ok || bad "$tool --version: rc $rc, $out"
  out=$("$B/$tool" --no-such-option a b 2>&1); rc=$?
  [ $rc = 1 ] && echo "$out" | grep -q "no-such-option" && ok || bad "$tool --no-such-option: rc $rc, $out"
done
# A line naming the option and the value, or what is missing.
expect() {  # tool, words..., --, args...
  local tool=$1 want=$2; shift 2
  out=$("$B/$tool" "$@" 2>&1); rc=$?
  [ $rc = 1 ] && echo "$out" | grep -qF -- "$want" && ok || bad "$tool $*: rc $rc, wanted '$want' in: $out"
}
expect becsync "--timeout: 'x'" --timeout x a.db b.db
expect becsync "--max-sessions: '-1'" serve d.db --listen 127.0.0.1:1 --max-sessions -1
expect becsync "--backlog: '70000'" --backlog 70000 a.db b.db
expect becsync "requires an argument" a.db b.db --timeout
expect becsync "serve needs --listen" serve d.db
expect becsync "sync: wrong arguments" sync d.db
expect becsync "--stdio takes one argument" --stdio a.db b.db
expect becsync "nothing to do"
expect becsync "too many arguments" a b c d e f g h i
expect becviz "--last: 'zero'" --last zero d.db o.svg
expect becviz "--key" --table todos d.db o.svg
expect becviz "unexpected argument 'x'" d.db o.svg x
expect becviz "unknown format 'gif'" -f gif d.db o.svg
expect becviz "OUT" d.db
# Options after the arguments still work (getopt_long permutes): a real sync.
for n in a b; do sqlite3 -batch "$T/$n.db" ".load $B/bec" "SELECT length(bec_keygen())" >/dev/null 2>&1; done
sqlite3 -batch "$T/a.db" ".load $B/bec" "SELECT length(bec_create_group())" >/dev/null 2>&1
g=$(sqlite3 -batch "$T/a.db" ".load $B/bec" "SELECT bec_group_id()" 2>&1)
sqlite3 -batch "$T/b.db" ".load $B/bec" "SELECT length(bec_join('$g'))" >/dev/null 2>&1
"$B/becsync" "$T/a.db" "$T/b.db" --quiet --timeout 5 >"$T/out" 2>&1 && ok || bad "becsync A B --quiet --timeout 5: $(cat "$T/out")"
[ "$(sqlite3 -batch "$T/b.db" ".load $B/bec" "SELECT count(*) FROM bec_ops" 2>&1)" = 1 ] && ok || bad "the sync moved the create op"
"$B/becviz" "$T/a.db" "$T/a.dot" -n 5 --no-legend 2>"$T/err" && grep -q "digraph bec" "$T/a.dot" && ok || bad "becviz DB OUT -n 5: $(cat "$T/err")"

echo "RESULT $pass $fail"
[ $fail = 0 ]
