#!/usr/bin/env bash
# make test: every test on the normal build, on the ASan+UBSan build, and the
# C unit tests under valgrind, and a short fuzzing pass; ends with one line "N passed, N failed".
#
# The machine has two cores and each pass is mostly one process at a time,
# so the passes run two by two: the normal suite beside the sanitizer build
# and its suite, then valgrind beside the fuzzing pass.  Each pass writes
# its own log (build/pass-*.log), printed whole, in this order, once its
# pair is done.  BEC_TEST_SERIAL=1 runs them one after the other instead.
set -u
cd "$(dirname "$0")/.."
MAKE=${MAKE:-make}
rm -f build/test-summary build-san/test-summary build/test-summary-valgrind build/test-summary-fuzz
start=$(date +%s)

pass_normal() { bash test/run.sh build; }
pass_san() {
  if $MAKE --no-print-directory -j"$(nproc 2>/dev/null || echo 2)" SAN=1 all >build/san-build.log 2>&1; then
    bash test/run.sh build-san
  else
    echo "the ASan+UBSan build failed:"; tail -n 30 build/san-build.log
  fi
}
pass_valgrind() {
  if command -v valgrind >/dev/null; then
    bash test/run.sh build valgrind
  else
    echo "valgrind missing: the valgrind pass did not run"
    echo "0 passed, 1 failed" > build/test-summary-valgrind
  fi
}
# A short libFuzzer pass over every fuzz target (make fuzz runs longer).
pass_fuzz() {
  if command -v clang >/dev/null; then
    echo "== fuzz smoke pass"
    bash test/fuzz/run.sh "${FUZZ_SMOKE_SECONDS:-6}" >build/fuzz-smoke.log 2>&1
    grep -E '^(FAIL|fuzz_|fuzz:)' build/fuzz-smoke.log
    tail -n 1 build/fuzz-smoke.log | awk '{print $2" passed, "$3" failed"}' > build/test-summary-fuzz
  else
    echo "0 passed, 1 failed" > build/test-summary-fuzz
  fi
}

# Runs two passes side by side, then prints their logs in order.
pair() {
  local a=$1 b=$2 t0
  t0=$(date +%s)
  if [ "${BEC_TEST_SERIAL:-0}" = 1 ]; then
    "$a"; "$b"
    return
  fi
  "$a" >"build/pass-$a.log" 2>&1 &
  local pa=$!
  "$b" >"build/pass-$b.log" 2>&1 &
  local pb=$!
  wait "$pa" "$pb"
  cat "build/pass-$a.log" "build/pass-$b.log"
  echo "== $a and $b side by side took $(( $(date +%s) - t0 ))s"
}

mkdir -p build
pair pass_normal pass_san
pair pass_valgrind pass_fuzz
echo "== all tests took $(( $(date +%s) - start ))s"
for f in build/test-summary build-san/test-summary build/test-summary-valgrind build/test-summary-fuzz; do
  [ -f "$f" ] && cat "$f" || echo "0 passed, 1 failed"
done | awk '{p+=$1; f+=$3} END {printf "%d passed, %d failed\n", p, f; exit (f>0)}'
