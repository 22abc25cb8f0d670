#!/usr/bin/env bash
# make demo: a story told with replicas in a temporary folder, in plain
# words and the SQL results of each step.  Uses the sqlite3 shell and the
# extension in build/.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
EXT=$ROOT/build/bec
DIR=$(mktemp -d /tmp/bec-demo.XXXXXX)
trap 'rm -rf "$DIR"' EXIT
cd "$DIR"

say()  { printf '\n\033[1m%s\033[0m\n' "$*"; }
sql()  { local db=$1; shift; printf '  %s> %s\n' "$db" "$*"; sqlite3 -batch -box "$db.db" ".load $EXT" "$@" | sed 's/^/    /'; }
sqlq() { local db=$1; shift; sqlite3 -batch -noheader "$db.db" ".load $EXT" "$@"; }

say "bec demo: every change is a signed op in a hash DAG; replicas verify everything they receive."
say "1. alice makes an identity and starts a group."
sql alice "SELECT bec_keygen() AS alice_public_key"
sql alice "SELECT bec_create_group() AS group_id"
GROUP=$(sqlq alice "SELECT bec_group_id()")

say "2. alice signs two application ops (opaque payloads) and looks at her DAG."
sql alice "SELECT bec_sign('buy milk') AS op"
sql alice "SELECT bec_sign('call bob') AS op"
sql alice "SELECT substr(hash,1,12) AS hash, kind, depth, substr(deps,3,12) AS first_dep, CASE kind WHEN 'app' THEN CAST(payload AS TEXT) END AS payload FROM bec_ops"

say "3. bob joins the group by its id and receives alice's ops one by one, newest first."
sql bob "SELECT bec_keygen() IS NOT NULL AS has_key, bec_join('$GROUP') = '$GROUP' AS joined"
for h in $(sqlq alice "SELECT hash FROM bec_ops ORDER BY depth DESC"); do
  sqlq alice "SELECT hex(bec_op('$h'))" > op.hex
  printf "  bob> SELECT bec_ingest(<op %s...>)\n" "${h:0:12}"
  sqlq bob "SELECT bec_ingest(x'$(cat op.hex)')" >/dev/null
  sql bob "SELECT count(*) AS stored, (SELECT count(DISTINCT hash) FROM bec_pending) AS waiting FROM bec_ops"
done
say "   Ops whose predecessors were missing waited, then applied in causal order."
sql bob "SELECT substr(hash,1,12) AS hash, kind, depth, CASE kind WHEN 'app' THEN CAST(payload AS TEXT) END AS payload FROM bec_ops"

say "4. mallory flips one byte of a signed op before handing it to bob: bob refuses it and stores nothing."
BAD=$(sqlq alice "SELECT hex(bec_op((SELECT hash FROM bec_heads)))" | sed 's/.$/0/')
printf '  bob> SELECT bec_ingest(<tampered op>)\n'
sqlite3 -batch bob.db ".load $EXT" "SELECT bec_ingest(x'$BAD')" 2>&1 | sed 's/^/    /' || true
sql bob "SELECT reason FROM bec_rejected"

say "5. carol, who is not a member, signs an op on top of the group: alice's replica refuses it."
sql carol "SELECT bec_keygen() IS NOT NULL AS has_key, bec_join('$GROUP') = '$GROUP' AS joined"
sqlq alice "SELECT hex(bec_op(bec_group_id()))" > create.hex
printf "  carol> SELECT bec_ingest(<alice's create op>)\n"
sqlq carol "SELECT substr(bec_ingest(x'$(cat create.hex)'),1,12)" | sed 's/^/    /' 
printf '  carol> SELECT bec_sign(%s)\n' "'let me in'"
sqlite3 -batch carol.db ".load $EXT" "SELECT bec_sign('let me in')" 2>&1 | sed 's/^/    /' || true

say "6. Both replicas re-verify everything they store."
sql alice "SELECT bec_check() AS alice_check"
sql bob "SELECT bec_check() AS bob_check, (SELECT hash FROM bec_heads) = '$(sqlq alice "SELECT hash FROM bec_heads")' AS same_heads"
say "Done. Next: membership, CRDT tables and sync (see README.md)."
