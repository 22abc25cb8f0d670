#!/usr/bin/env bash
# make install / make uninstall (Makefile): the files, bec.pc read through
# pkg-config, a C program built with it, and, only where touching the system
# is allowed (root and $CI or BEC_TEST_SYSTEM_INSTALL=1), a real install to
# /usr/local that loads by the short name `bec` from the sqlite3 shell and
# Python, then an uninstall that leaves nothing behind.  Normal build only.
set -u
cd "$(dirname "$0")/../.."
ROOT=$PWD
pass=0; fail=0
ok()  { pass=$((pass+1)); }
bad() { fail=$((fail+1)); echo "FAIL $*"; }
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
VER=$(sed -n 's/^#define BEC_VERSION *"\(.*\)"/\1/p' ext/bec.h)
FILES="lib/libsqlite3-bec.so lib/bec.so lib/libbec.a lib/pkgconfig/bec.pc include/bec.h bin/becsync bin/becviz"
if [ "${BEC_SAN:-}" = 1 ]; then
  echo "SKIP test_install: make install is tested on the normal build"
  echo "RESULT 0 0"; exit 0
fi

# 1. DESTDIR install: every file in place under DESTDIR/PREFIX, bec.pc
# naming the final PREFIX; uninstall removes every file it put.
if make -s -C "$ROOT" install DESTDIR="$T/d" PREFIX=/usr/local >"$T/log" 2>&1; then ok; else bad "make install DESTDIR: $(tail -5 "$T/log")"; fi
for f in $FILES; do [ -e "$T/d/usr/local/$f" ] && ok || bad "make install did not install $f"; done
[ "$(readlink "$T/d/usr/local/lib/bec.so")" = libsqlite3-bec.so ] && ok || bad "bec.so is not a link to libsqlite3-bec.so"
grep -qx 'prefix=/usr/local' "$T/d/usr/local/lib/pkgconfig/bec.pc" && ok || bad "bec.pc prefix: $(head -8 "$T/d/usr/local/lib/pkgconfig/bec.pc")"
out=$(sqlite3 -batch :memory: ".load $T/d/usr/local/lib/bec" "SELECT bec_version()" 2>&1)
[ "$out" = "$VER" ] && ok || bad "the installed module does not load by path: $out"
if make -s -C "$ROOT" uninstall DESTDIR="$T/d" PREFIX=/usr/local >"$T/log" 2>&1; then ok; else bad "make uninstall: $(tail -5 "$T/log")"; fi
left=$(cd "$T/d" && find . \( -type f -o -type l \) | tr '\n' ' ')
[ -z "$left" ] && ok || bad "make uninstall left: $left"

# 2. PREFIX install (no ldconfig): pkg-config reads bec.pc, and a C program
# built with its flags alone links libbec.a and runs bec.
P="$T/prefix"
if make -s -C "$ROOT" install PREFIX="$P" LDCONFIG= >"$T/log" 2>&1; then ok; else bad "make install PREFIX: $(tail -5 "$T/log")"; fi
export PKG_CONFIG_PATH="$P/lib/pkgconfig"
[ "$(pkg-config --modversion bec 2>&1)" = "$VER" ] && ok || bad "pkg-config --modversion bec: $(pkg-config --modversion bec 2>&1)"
flags=$(pkg-config --cflags --libs bec 2>&1)
for want in "-I$P/include" "-L$P/lib" -lbec -lsqlite3 -lsodium -lxxhash; do
  case " $flags " in *" $want "*) ok ;; *) bad "pkg-config --cflags --libs bec lacks $want: $flags" ;; esac
done
cat >"$T/hello.c" <<'C'
#include <stdio.h>
#include <sqlite3.h>
#include <bec.h>
int main(void){
  sqlite3 *db; sqlite3_stmt *st;
  sqlite3_auto_extension((void(*)(void))sqlite3_bec_init);
  if( sqlite3_open(":memory:", &db) ) return 1;
  if( sqlite3_prepare_v2(db, "SELECT bec_version()", -1, &st, 0) ) return 2;
  if( sqlite3_step(st)!=SQLITE_ROW ) return 3;
  printf("%s %s\n", sqlite3_column_text(st, 0), BEC_VERSION);
  sqlite3_finalize(st);
  return sqlite3_close(db);
}
C
if cc -o "$T/hello" "$T/hello.c" $flags 2>"$T/cc.log"; then ok; else bad "cc with pkg-config flags: $(head -5 "$T/cc.log")"; fi
out=$("$T/hello" 2>&1)
[ "$out" = "$VER $VER" ] && ok || bad "program built against bec.pc: $out"
make -s -C "$ROOT" uninstall PREFIX="$P" LDCONFIG= >/dev/null 2>&1
left=$(cd "$P" && find . \( -type f -o -type l \) | tr '\n' ' ')
[ -z "$left" ] && ok || bad "make uninstall PREFIX left: $left"
unset PKG_CONFIG_PATH

# 3. The real thing: install to /usr/local, load by short name, uninstall.
if [ "$(id -u)" != 0 ] || { [ -z "${CI:-}" ] && [ "${BEC_TEST_SYSTEM_INSTALL:-}" != 1 ]; }; then
  echo "SKIP test_install: real install to /usr/local (needs root and CI=1 or BEC_TEST_SYSTEM_INSTALL=1)"
else
  pre=""
  for f in $FILES; do [ -e "/usr/local/$f" ] || [ -L "/usr/local/$f" ] && pre="$pre $f"; done
  if [ -n "$pre" ]; then
    echo "SKIP test_install: real install: /usr/local already has$pre (not touched)"
  else
    snap() { find /usr/local/bin /usr/local/include /usr/local/lib -maxdepth 2 \( -type f -o -type l \) 2>/dev/null | sort; }
    snap >"$T/before"
    newdirs=""
    for d in /usr/local/lib/pkgconfig /usr/local/include /usr/local/bin; do [ -d "$d" ] || newdirs="$newdirs $d"; done
    if make -s -C "$ROOT" install >"$T/log" 2>&1; then ok; else bad "make install: $(tail -5 "$T/log")"; fi
    grep -q "not on the dynamic linker's path" "$T/log" && bad "install: $(cat "$T/log")" || ok
    out=$(cd "$T" && sqlite3 -batch :memory: ".load bec" "SELECT bec_version()" 2>&1)
    [ "$out" = "$VER" ] && ok || bad "sqlite3 shell .load bec after make install: $out"
    out=$(cd "$T" && /usr/bin/python3 -c "
import sqlite3
db = sqlite3.connect(':memory:')
db.enable_load_extension(True)
db.load_extension('bec')
print(db.execute('SELECT bec_version()').fetchone()[0])" 2>&1)
    [ "$out" = "$VER" ] && ok || bad "python load_extension('bec') after make install: $out"
    [ "$(pkg-config --modversion bec 2>&1)" = "$VER" ] && ok || bad "pkg-config finds bec in /usr/local"
    if make -s -C "$ROOT" uninstall >"$T/log" 2>&1; then ok; else bad "make uninstall: $(tail -5 "$T/log")"; fi
    snap >"$T/after"
    for d in $newdirs; do rmdir "$d" 2>/dev/null; done   # the directories install made for this test
    diff "$T/before" "$T/after" >"$T/diff" && ok || bad "make uninstall left: $(cat "$T/diff")"
    ldconfig -p | grep -q ' bec\.so ' && bad "ldconfig still lists bec.so" || ok
    out=$(cd "$T" && sqlite3 -batch :memory: ".load bec" "SELECT bec_version()" 2>&1)
    [ "$out" != "$VER" ] && ok || bad ".load bec still works after make uninstall"
  fi
fi

echo "RESULT $pass $fail"
[ $fail = 0 ]
