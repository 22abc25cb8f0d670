#!/usr/bin/env bash
# The loadable module exports its entry points and nothing else
# (ext/bec.map): no internal bec_* symbol can clash with another library,
# and the module still loads under its own name and under any other name.
set -u
cd "$(dirname "$0")/../.."
B=${BEC_BUILD:-$PWD/build}
pass=0; fail=0
ok()  { pass=$((pass+1)); }
bad() { fail=$((fail+1)); echo "FAIL $*"; }
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT

syms=$(nm -D --defined-only "$B/bec.so" | awk '{print $3}' | sort | tr '\n' ' ')
[ "$syms" = "sqlite3_bec_init sqlite3_extension_init " ] && ok || bad "exported symbols: $syms"
# The static library keeps its symbols (C programs call bec_set_key_file)
# and defines no sqlite3_extension_init, which would clash with others.
nm --defined-only "$B/libbec.a" 2>/dev/null | grep -q ' T bec_set_key_file$' && ok || bad "libbec.a lacks bec_set_key_file"
nm --defined-only "$B/libbec.a" 2>/dev/null | grep -q ' T sqlite3_extension_init$' && bad "libbec.a defines sqlite3_extension_init" || ok
# Under another file name SQLite finds sqlite3_extension_init.
cp "$B/bec.so" "$T/other-name.so"
out=$(LD_PRELOAD="${BEC_PRELOAD:-}" sqlite3 -batch :memory: ".load $T/other-name" "SELECT bec_version()" 2>&1)
[ "$out" = "$(sed -n 's/^#define BEC_VERSION *"\(.*\)"/\1/p' ext/bec.h)" ] && ok || bad "load under another name: $out"

echo "RESULT $pass $fail"
[ $fail = 0 ]
