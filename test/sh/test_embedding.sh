#!/usr/bin/env bash
# The embedding examples of docs/examples and the sqlite3 shell, run as a
# user would: the C example links libbec.a, the Python one loads the module.
set -u
B=${BEC_BUILD:?}; ROOT=${BEC_ROOT:?}
pass=0; fail=0
ok()  { pass=$((pass+1)); }
bad() { fail=$((fail+1)); echo "FAIL $*"; }
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT

# C: static library + sqlite3_auto_extension.
SAN=""; [ "${BEC_SAN:-}" = 1 ] && SAN="-fsanitize=address,undefined"
if cc $SAN -I"$ROOT/ext" "$ROOT/docs/examples/embed.c" -o "$T/embed" "$B/libbec.a" \
     -lsqlite3 -lsodium -lxxhash -lpthread -lm 2>"$T/cc.log"; then ok; else bad "embed.c does not build"; cat "$T/cc.log"; fi
out=$("$T/embed" "$T/c.db" 2>&1); rc=$?
[ $rc = 0 ] && ok || bad "embed exit $rc: $out"
echo "$out" | grep -q "signed=1" && ok || bad "embed did not sign: $out"
echo "$out" | grep -q "ops=2" && ok || bad "embed: expected 2 ops (create + app): $out"
echo "$out" | grep -q "check_result=ok" && ok || bad "embed: check: $out"
out=$("$T/embed" "$T/c.db" 2>&1)
echo "$out" | grep -q "ops=3" && ok || bad "embed run twice keeps the identity and group: $out"

# Python: the standard sqlite3 module.
out=$(LD_PRELOAD="${BEC_PRELOAD:-}" /usr/bin/python3 "$ROOT/docs/examples/example.py" "$BEC_EXT" "$T/p.db" 2>&1); rc=$?
[ $rc = 0 ] && ok || bad "example.py exit $rc: $out"
echo "$out" | grep -q "check: ok" && ok || bad "example.py: $out"
echo "$out" | grep -q "signed: [0-9a-f]\{64\}" && ok || bad "example.py did not sign: $out"

# The sqlite3 shell, as in the README's tour.
out=$(cd "$T" && LD_PRELOAD="${BEC_PRELOAD:-}" sqlite3 -batch s.db ".load $BEC_EXT" \
  "SELECT length(bec_keygen()); SELECT length(bec_create_group()); SELECT bec_sign('hello') IS NOT NULL;" \
  "SELECT count(*) FROM bec_ops; SELECT bec_check();" 2>&1)
[ "$(echo "$out" | tr '\n' ' ')" = "64 64 1 2 ok " ] && ok || bad "sqlite3 shell tour: $out"
# A newcomer's mistakes get errors that say what to do next.
out=$(cd "$T" && LD_PRELOAD="${BEC_PRELOAD:-}" sqlite3 -batch n.db ".load $BEC_EXT" "SELECT bec_sign('x')" 2>&1)
echo "$out" | grep -q "bec_keygen()" && ok || bad "no identity: $out"
out=$(cd "$T" && sqlite3 -batch n.db "SELECT bec_sign('x')" 2>&1)
echo "$out" | grep -q "no such function: bec_sign" && ok || bad "extension not loaded: $out"

# make install puts the module, the static library, the header and the tools
# in the usual places (into a scratch DESTDIR here); normal build only.
if [ "${BEC_SAN:-}" != 1 ]; then
  if make -s -C "$ROOT" install DESTDIR="$T/inst" PREFIX=/usr/local >"$T/install.log" 2>&1; then ok; else bad "make install: $(tail -5 "$T/install.log")"; fi
  for f in lib/bec.so lib/libbec.a include/bec.h bin/becsync bin/becviz; do
    [ -f "$T/inst/usr/local/$f" ] && ok || bad "make install did not install $f"
  done
  out=$(cd "$T" && sqlite3 -batch i.db ".load $T/inst/usr/local/lib/bec" "SELECT bec_version() GLOB '[0-9]*.[0-9]*.[0-9]*'" 2>&1)
  [ "$out" = 1 ] && ok || bad "the installed module does not load: $out"
fi

echo "RESULT $pass $fail"
[ $fail = 0 ]
