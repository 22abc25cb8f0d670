#!/usr/bin/env bash
# test_tables_shell.sh - bec tables driven from the sqlite3 shell (issue 4):
# create, write, read, a second session on the same file, replication to a
# second database, and the errors a shell user sees.
set -u
EXT=${BEC_EXT:-$(cd "$(dirname "$0")/../.." && pwd)/build/bec}
D=$(mktemp -d)
trap 'rm -rf "$D"' EXIT
pass=0; fail=0
check() {  # what, got, want
  if [ "$2" = "$3" ]; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL $1: got [$2] want [$3]"; fi
}
sh() { LD_PRELOAD="${BEC_PRELOAD:-}" sqlite3 -batch "$@" 2>&1; }

A="$D/a.db"; B="$D/b.db"
out=$(sh "$A" ".load $EXT" "SELECT length(bec_keygen()); SELECT length(bec_create_group());" \
  "CREATE VIRTUAL TABLE todos USING bec(id TEXT PRIMARY KEY, title TEXT, done INTEGER);" \
  "INSERT INTO todos VALUES('a','milk',0),('b','eggs',1);" \
  "UPDATE todos SET done=1 WHERE id='a';" \
  "SELECT id||':'||title||':'||done FROM todos ORDER BY id;")
check "create, write, read" "$out" "$(printf '64\n64\na:milk:1\nb:eggs:1')"

out=$(sh "$A" ".load $EXT" "SELECT count(*) FROM bec_ops WHERE kind='write'; SELECT title FROM todos WHERE id='b';")
check "second session" "$out" "$(printf '2\neggs')"

out=$(sh "$A" ".load $EXT" "BEGIN; DELETE FROM todos WHERE id='a'; ROLLBACK; SELECT count(*) FROM todos;")
check "rollback in the shell" "$out" "2"

gid=$(sh "$A" ".load $EXT" "SELECT bec_group_id();")
sh "$B" ".load $EXT" "SELECT bec_join('$gid');" >/dev/null
out=$(sh "$B" ".load $EXT" "ATTACH '$A' AS src;" \
  "SELECT count(bec_ingest(body)) FROM (SELECT body FROM src.bec_store_op ORDER BY seq);" \
  "DETACH src;" "SELECT id||':'||title||':'||done FROM todos ORDER BY id;")
check "replication, no DDL by hand" "$out" "$(printf '4\na:milk:1\nb:eggs:1')"

out=$(sh "$B" ".load $EXT" "INSERT INTO todos VALUES('c','x',0);")
case "$out" in *"no identity"*) check "non-member write refused" 1 1;; *) check "non-member write refused" "$out" "an error";; esac

out=$(sh "$A" ".load $EXT" "CREATE VIRTUAL TABLE nokey USING bec(a, b);")
case "$out" in *"no primary key"*) check "no primary key" 1 1;; *) check "no primary key" "$out" "an error";; esac

out=$(sh "$A" "SELECT count(*) FROM todos;")
case "$out" in *"no such module: bec"*) check "without the extension" 1 1;; *) check "without the extension" "$out" "no such module";; esac

echo "RESULT $pass $fail"
[ "$fail" = 0 ]
