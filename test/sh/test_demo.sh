#!/usr/bin/env bash
# test_demo.sh - `make demo` (sql/demo.sh) and `make demo-root` run to its end on the normal
# build and tells the story it says: every replica re-verifies 'ok', a
# removed member's local write is refused, and its back-dated write from an
# old copy (database and key file) is stored and ignored (valid 0) while the
# rows stay as the others left them.  The sanitizer pass skips it (the demo
# drives the plain sqlite3 shell with build/bec).
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
if [ "${BEC_SAN:-}" = 1 ]; then
  echo "skip: the demo runs on the normal build only"
  echo "RESULT 0 0"
  exit 0
fi
pass=0; fail=0
check() {  # what, condition result (0 = true)
  if [ "$2" = 0 ]; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL $1"; fi
}
out=$(bash "$ROOT/sql/demo.sh" 2>&1); rc=$?
check "the demo exits 0 (exit $rc): $(echo "$out" | tail -n 3)" $([ $rc = 0 ]; echo $?)
check "it reaches its end" $(echo "$out" | grep -q '^Done\. The tour' ; echo $?)
check "three replicas re-verify ok" $([ "$(echo "$out" | grep -c '│ ok  ')" = 3 ]; echo $?)
check "the removed member's write is refused" $(echo "$out" | grep -q 'refused: .*not a member'; echo $?)
check "its back-dated write is stored and ignored" $(echo "$out" | grep -qE '│ write │ [0-9a-f]{8} │ 0 +│'; echo $?)
check "nothing was unexpectedly accepted" $(echo "$out" | grep -q 'unexpectedly accepted'; [ $? != 0 ]; echo $?)
# make demo-root (sql/demo-root.sh): the stolen creator's removal of bob is
# ignored, the root op that removes the creator takes effect, all is 'ok'.
out=$(bash "$ROOT/sql/demo-root.sh" 2>&1); rc=$?
check "the root demo exits 0 (exit $rc): $(echo "$out" | tail -n 3)" $([ $rc = 0 ]; echo $?)
check "the root op is valid" $(echo "$out" | grep -qE '│ root +│ [0-9a-f]{8} │ 1 +│'; echo $?)
check "the stolen key's removal is ignored" $(echo "$out" | grep -qE '│ remove │ [0-9a-f]{8} │ 0 +│'; echo $?)
check "bec_check is ok at the end" $(echo "$out" | tail -n 3 | grep -q '│ ok '; echo $?)
echo "RESULT $pass $fail"
[ $fail = 0 ]
