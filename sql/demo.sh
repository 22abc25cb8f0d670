#!/usr/bin/env bash
# make demo: three replicas (alice, bob, carol) in a temporary folder tell
# bec's story in plain words and SQL results: a group, members, a table,
# concurrent writes merged by sync, a conflict, a mutual removal settled by
# seniority, and a removed member's back-dated writes ignored.
# Uses the sqlite3 shell with build/bec, and build/becsync.  BEC_DEMO_DIR=dir
# keeps the replicas in dir to explore afterwards.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
EXT=$ROOT/build/bec
SYNC=$ROOT/build/becsync
# BEC_DEMO_DIR=folder keeps the replicas there to explore afterwards.
if [ -n "${BEC_DEMO_DIR:-}" ]; then
  DIR=$BEC_DEMO_DIR; mkdir -p "$DIR"; rm -f "$DIR"/*.db
else
  DIR=$(mktemp -d /tmp/bec-demo.XXXXXX); trap 'rm -rf "$DIR"' EXIT
fi
cd "$DIR"

if [ -t 1 ]; then B=$'\033[1m'; N=$'\033[0m'; else B=""; N=""; fi
say()  { printf '\n%s%s%s\n' "$B" "$*" "$N"; }
# sql NAME SQL: runs SQL on NAME's replica and shows it with its result.
sql()  { local who=$1; shift; printf '  %s> %s\n' "$who" "$*"
         sqlite3 -batch -box "$who.db" ".load $EXT" "$@" 2>&1 | sed 's/^/    /'; }
# val NAME SQL: one value, for the script itself.
val()  { local who=$1; shift; sqlite3 -batch -noheader "$who.db" ".load $EXT" "$@"; }
# fails NAME SQL: shows the SQL error a replica answers with.
fails(){ local who=$1; shift; printf '  %s> %s\n' "$who" "$*"
         if sqlite3 -batch "$who.db" ".load $EXT" "$@" >out.txt 2>&1; then cat out.txt; echo "    (unexpectedly accepted)"; exit 1; fi
         sed 's/^/    refused: /' out.txt; }
sync() { printf '  $ becsync %s.db %s.db\n' "$1" "$2"; "$SYNC" --quiet "$1.db" "$2.db" | sed 's/^/    /'; }
short(){ echo "${1:0:8}"; }

say "bec: collaboration inside SQLite that keeps working when some peers are malicious."
say "1. Three people make identities. alice starts a group; its id is the hash of her signed create op."
for p in alice bob carol; do val $p "SELECT bec_keygen()" > $p.key; done
ALICE=$(cat alice.key); BOB=$(cat bob.key); CAROL=$(cat carol.key)
echo "    alice=$(short $ALICE)  bob=$(short $BOB)  carol=$(short $CAROL)"
GROUP=$(val alice "SELECT bec_create_group()")
echo "    group=$(short $GROUP)"

say "2. alice adds bob as an admin and carol as a member: each is one signed op."
sql alice "SELECT bec_add_member('$BOB', 'admin') IS NOT NULL AS bob_added, bec_add_member('$CAROL', 'member') IS NOT NULL AS carol_added"
sql alice "SELECT substr(pubkey,1,8) AS member, role, rank FROM bec_members ORDER BY rank, role"

say "3. alice creates a shared table with plain SQL; the schema travels as a signed op too."
sql alice "CREATE VIRTUAL TABLE todos USING bec(id TEXT PRIMARY KEY, title TEXT, done INTEGER)"
sql alice "INSERT INTO todos VALUES ('t1', 'buy milk', 0), ('t2', 'call the plumber', 0)"

say "4. bob and carol join by the group id and sync with alice (Bloom-filter reconciliation of the hash DAG)."
for p in bob carol; do val $p "SELECT bec_join('$GROUP')" >/dev/null; done
sync alice bob
sync alice carol
sql carol "SELECT * FROM todos ORDER BY id"

say "5. Offline, all three change the same data at once."
sql alice "UPDATE todos SET title = 'buy oat milk' WHERE id = 't1'"
sql bob   "UPDATE todos SET title = 'buy milk and bread' WHERE id = 't1'"
sql carol "UPDATE todos SET done = 1 WHERE id = 't2'"
sql carol "INSERT INTO todos VALUES ('t3', 'water the plants', 0)"

say "6. They sync in a chain (carol-bob, bob-alice, alice-carol): every replica shows the same merged rows."
sync carol bob
sync bob alice
sync alice carol
sync carol bob
for p in alice bob carol; do sql $p "SELECT * FROM todos ORDER BY id"; done
say "   Both titles of t1 were concurrent: the write with the greater (depth, hash) won on every replica, and the loser is kept for the app to show:"
sql alice "SELECT \"table\", pk, \"column\", value, substr(author,1,8) AS author FROM bec_conflicts"

say "7. A falling-out: alice and bob, both admins, remove each other at the same moment."
sql alice "SELECT bec_remove_member('$BOB') IS NOT NULL AS alice_removes_bob"
# bob keeps a copy of his replica (the database and its key file) from before he learns of it
cp bob.db bob-before.db; cp bob.db-bec-key bob-before.db-bec-key
sql bob   "SELECT bec_remove_member('$ALICE') IS NOT NULL AS bob_removes_alice"
sync alice bob
sync alice carol
say "   Mutual removal is settled by seniority: alice (rank 1, she created the group) outranks bob (rank 2)."
for p in alice bob carol; do sql $p "SELECT substr(pubkey,1,8) AS member, role, rank FROM bec_members ORDER BY rank"; done

say "8. Removed, bob tries to write anyway."
fails bob "INSERT INTO todos VALUES ('t9', 'bob was here', 0)"
say "   From the copy made before he learned of his removal, bob signs a back-dated write and syncs it."
sql bob-before "UPDATE todos SET title = 'bob rewrites history' WHERE id = 't2'"
sync bob-before carol
say "   carol stores it (it was signed by a member in its causal past) but the membership rules ignore it:"
sql carol "SELECT kind, substr(author,1,8) AS author, valid FROM bec_ops WHERE kind = 'write' ORDER BY depth DESC LIMIT 2"
sql carol "SELECT * FROM todos ORDER BY id"

say "9. Everyone re-verifies everything they hold, and draws the DAG."
for p in alice bob carol; do sql $p "SELECT bec_check() AS check_result, (SELECT count(*) FROM bec_ops) AS ops"; done
if "$ROOT/build/becviz" carol.db "$ROOT/build/demo-dag.svg" 2>/dev/null; then
  echo "    the DAG as carol sees it: build/demo-dag.svg (authors as colours, ignored ops grey)"
fi
say "Done. The tour in README.md shows the same steps by hand."
