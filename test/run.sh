#!/usr/bin/env bash
# Runs every test against one build and prints per-file results and a total.
#   bash test/run.sh build            the normal build
#   bash test/run.sh build-san        the ASan+UBSan build
#   bash test/run.sh build valgrind   C unit tests under valgrind
# BEC_TEST_SHARD=k/n runs only every n-th test program, from the k-th (so n
# shards run side by side cover them all); its summary file says the shard.
# Pure-Python tests that do not load the extension (marked with a line
# '# bec-test: no-extension') run on the normal build only.
# Each test program prints "FAIL ..." lines for failures and ends with one
# line "RESULT <passed> <failed>"; a program that exits non-zero or prints no
# RESULT line counts as one more failure.  Writes <build>/test-summary.
set -u
B=${1:-build}
MODE=${2:-}
cd "$(dirname "$0")/.."
ROOT=$PWD
export BEC_BUILD="$ROOT/$B" BEC_EXT="$ROOT/$B/bec" BEC_ROOT="$ROOT"
export PYTHON=/usr/bin/python3
if [ "$B" = build-san ]; then
  # Python and the sqlite3 shell are not built with ASan: preload its runtime.
  export BEC_PRELOAD="$(gcc -print-file-name=libasan.so):$(gcc -print-file-name=libubsan.so)"
  export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:allocator_may_return_null=1"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
  export BEC_SAN=1
else
  export BEC_PRELOAD=""
fi
TMPROOT=$(mktemp -d)
trap 'rm -rf "$TMPROOT"' EXIT
total_p=0; total_f=0
run_one() {  # name, command...
  local name=$1; shift
  local out="$TMPROOT/out" start end rc p f
  start=$(date +%s.%N)
  ( cd "$TMPROOT" && "$@" ) >"$out" 2>&1; rc=$?
  end=$(date +%s.%N)
  local line; line=$(grep -a '^RESULT ' "$out" | tail -n 1)
  if [ -n "$line" ]; then p=$(echo "$line" | awk '{print $2}'); f=$(echo "$line" | awk '{print $3}'); else p=0; f=0; fi
  if [ "$rc" != 0 ] && [ "$f" = 0 ]; then f=1; fi
  if [ -z "$line" ] && [ "$rc" = 0 ]; then f=$((f+1)); echo "  (no RESULT line)" >>"$out"; fi
  total_p=$((total_p+p)); total_f=$((total_f+f))
  printf '%-44s %5d passed %3d failed %6.1fs\n' "$name" "$p" "$f" "$(awk -v a="$start" -v b="$end" 'BEGIN{print b-a}')"
  if [ "$f" != 0 ]; then grep -a -E '^FAIL|ERROR|Sanitizer|runtime error|^==[0-9]+==' "$out" | head -n 40 | sed 's/^/    /'; 
    [ "$rc" != 0 ] && { echo "    exit code $rc; last lines:"; tail -n 15 "$out" | sed 's/^/    | /'; }
  fi
}
SHARD=${BEC_TEST_SHARD:-}
shard_k=1; shard_n=1
if [ -n "$SHARD" ]; then shard_k=${SHARD%/*}; shard_n=${SHARD#*/}; fi
idx=0
mine() {  # is the next test program in this shard?
  idx=$((idx+1))
  [ $(( (idx-1) % shard_n )) = $((shard_k-1)) ]
}
echo "== tests on $B ${MODE:+($MODE)}${SHARD:+ shard $SHARD}"
for t in "$ROOT/$B"/test/test_*; do
  [ -x "$t" ] || continue
  mine || continue
  if [ "$MODE" = valgrind ]; then
    run_one "valgrind $(basename "$t")" env BEC_VALGRIND=1 valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect "$t"
  else
    run_one "$(basename "$t")" "$t"
  fi
done
if [ "$MODE" != valgrind ]; then
  for t in "$ROOT"/test/py/test_*.py; do
    [ -f "$t" ] || continue
    if [ "$B" != build ] && grep -q '^# bec-test: no-extension' "$t"; then continue; fi
    mine || continue
    run_one "$(basename "$t")" env LD_PRELOAD="$BEC_PRELOAD" $PYTHON "$t"
  done
  for t in "$ROOT"/test/sh/test_*.sh; do
    [ -f "$t" ] || continue
    mine || continue
    run_one "$(basename "$t")" bash "$t"
  done
fi
echo "$total_p passed, $total_f failed" | tee "$ROOT/$B/test-summary${MODE:+-$MODE}${SHARD:+-shard${shard_k}of${shard_n}}" | sed "s|^|$B${MODE:+ ($MODE)}${SHARD:+ shard $SHARD}: |"
[ "$total_f" = 0 ]
