#!/usr/bin/env bash
# make demo-root: five replicas (alice, bob, carol, dave, erin) in a
# temporary folder: alice creates a group and a 3-of-5 threshold root held
# by all five; then her device is stolen, the thief removes carol, and
# three of the other members remove alice with the root, which outranks
# even the creator: the thief's concurrent removal is ignored.
# Uses the sqlite3 shell with build/bec, and build/becsync.  BEC_DEMO_DIR=dir
# keeps the replicas in dir to explore afterwards.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
EXT=$ROOT/build/bec
SYNC=$ROOT/build/becsync
if [ -n "${BEC_DEMO_DIR:-}" ]; then
  DIR=$BEC_DEMO_DIR; mkdir -p "$DIR"; rm -f "$DIR"/*.db
else
  DIR=$(mktemp -d /tmp/bec-demo-root.XXXXXX); trap 'rm -rf "$DIR"' EXIT
fi
cd "$DIR"

if [ -t 1 ]; then B=$'\033[1m'; N=$'\033[0m'; else B=""; N=""; fi
say()  { printf '\n%s%s%s\n' "$B" "$*" "$N"; }
sql()  { local who=$1; shift; printf '  %s> %s\n' "$who" "$*"
         sqlite3 -batch -box "$who.db" ".load $EXT" "$@" 2>&1 | sed 's/^/    /'; }
val()  { local who=$1; shift; sqlite3 -batch -noheader "$who.db" ".load $EXT" "$@"; }
sync() { "$SYNC" --quiet "$1.db" "$2.db" >/dev/null; }
# syncs a list of replicas with each other (twice around a star).
syncall(){ local hub=$1; shift; for p in "$@"; do sync "$hub" "$p"; done
           for p in "$@"; do sync "$hub" "$p"; done; }
# every replica of the list does the root's work due from it, then syncs.
steps(){ local i; for i in 1 2 3 4; do
           for p in "$@"; do val "$p" "SELECT bec_root_step()" >/dev/null; done
           syncall "$@"; done; }
short(){ echo "${1:0:8}"; }
ALL="alice bob carol dave erin"

say "1. alice creates a group and adds four members."
for p in $ALL; do val $p "SELECT bec_keygen()" > $p.key; done
GROUP=$(val alice "SELECT bec_create_group()")
for p in bob carol dave erin; do
  val alice "SELECT bec_add_member('$(cat $p.key)', 'member')" >/dev/null
  val $p "SELECT bec_join('$GROUP')" >/dev/null
done
syncall alice bob carol dave erin
sql carol "SELECT substr(pubkey,1,8) AS member, role, rank FROM bec_members ORDER BY rank, pubkey"

say "2. alice opens a 3-of-5 root among all five; each replica deals and acknowledges (bec_root_step)."
val alice "SELECT bec_root_open(3, json_array($(for p in $ALL; do printf "'%s'," $(cat $p.key); done | sed 's/,$//')))" >/dev/null
steps alice bob carol dave erin
sql bob "SELECT epoch, k, n, substr(group_key,1,16) AS group_key, state FROM bec_root"
sql bob "SELECT count(*) AS key_generation_ops FROM bec_ops WHERE kind IN ('dkg-deal','dkg-ack')"

say "3. alice's device is stolen.  Offline, the thief removes carol: alice is the most senior member."
sql alice "SELECT bec_remove_member('$(cat carol.key)') IS NOT NULL AS carol_removed"

say "4. bob proposes removing alice with the root; carol and dave approve.  No one of them outranks alice."
REQ=$(val bob "SELECT bec_root_propose('remove', '$(cat alice.key)')")
syncall bob carol dave erin
sql carol "SELECT bec_root_approve('$REQ') AS approvals"
syncall bob carol dave
sql dave "SELECT bec_root_approve('$REQ') AS approvals"
syncall bob carol dave erin
steps bob carol dave erin
sql erin "SELECT action, substr(target,1,8) AS target, approvals, state FROM bec_root_requests"
sql erin "SELECT kind, count(*) AS ops FROM bec_ops WHERE kind LIKE 'root%' GROUP BY kind ORDER BY kind"
echo "    the root op's author is the group key; its signature is a plain Ed25519 signature:"
sql erin "SELECT substr(author,1,16) AS author, (SELECT substr(group_key,1,16) FROM bec_root) AS group_key, valid FROM bec_ops WHERE kind='root'"

say "5. The thief's replica syncs again.  The root's removal outranks the creator; the thief's removal of carol, concurrent with it, is ignored."
sync bob alice
syncall bob carol dave erin
sql bob "SELECT substr(pubkey,1,8) AS member, role FROM bec_members ORDER BY pubkey"
sql bob "SELECT kind, substr(target,1,8) AS target, valid FROM bec_ops WHERE kind IN ('remove','root')"
sql bob "SELECT bec_check() AS check_result"
