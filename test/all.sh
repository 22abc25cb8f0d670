#!/usr/bin/env bash
# make test: every test on the normal build, on the ASan+UBSan build, and the
# C unit tests under valgrind, and a short fuzzing pass; ends with one line "N passed, N failed".
#
# The machine has two cores and each pass is mostly one process at a time,
# so the passes run in two lanes side by side: the normal suite, half of the
# valgrind pass and the fuzzing pass in one; the sanitizer build and suite
# and the other half of the valgrind pass in the other.  The halves are not
# even (shard 2 holds test_oom and test_install: about 300 s against 75 s
# under valgrind on this machine), so shard 2 goes with the shorter normal
# suite (about 450 s against the sanitizer pass's 620 s).  Each pass writes its
# own log (build/pass-*.log), printed whole, in a fixed order, once both
# lanes are done.  BEC_TEST_SERIAL=1 runs the passes one after the other.
set -u
cd "$(dirname "$0")/.."
MAKE=${MAKE:-make}
rm -f build/test-summary* build-san/test-summary*
start=$(date +%s)

pass_normal() { bash test/run.sh build; }
pass_san() {
  if $MAKE --no-print-directory -j"$(nproc 2>/dev/null || echo 2)" SAN=1 all >build/san-build.log 2>&1; then
    bash test/run.sh build-san
  else
    echo "the ASan+UBSan build failed:"; tail -n 30 build/san-build.log
    echo "0 passed, 1 failed" > build/test-summary-san-build
  fi
}
pass_valgrind() {  # shard k of 2
  if command -v valgrind >/dev/null; then
    BEC_TEST_SHARD="$1/2" bash test/run.sh build valgrind
  else
    echo "valgrind missing: the valgrind pass did not run"
    echo "0 passed, 1 failed" > build/test-summary-valgrind-missing
  fi
}
pass_valgrind1() { pass_valgrind 1; }
pass_valgrind2() { pass_valgrind 2; }
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

# Runs the passes of a lane one after the other, each into its log.
lane() {
  local f t0
  for f in "$@"; do
    t0=$(date +%s)
    "$f" >"build/pass-$f.log" 2>&1
    echo "== $f took $(( $(date +%s) - t0 ))s" >>"build/pass-$f.log"
  done
}

mkdir -p build
ORDER="pass_normal pass_san pass_valgrind1 pass_valgrind2 pass_fuzz"
if [ "${BEC_TEST_SERIAL:-0}" = 1 ]; then
  lane $ORDER
else
  lane pass_normal pass_valgrind2 pass_fuzz &
  a=$!
  lane pass_san pass_valgrind1 &
  b=$!
  wait "$a" "$b"
fi
for f in $ORDER; do cat "build/pass-$f.log"; done
echo "== all tests took $(( $(date +%s) - start ))s"
# Every pass leaves one summary line (N passed, N failed); a pass that left
# none counts as one failure.
n=0
for f in build/test-summary build-san/test-summary build/test-summary-valgrind-shard1of2 \
         build/test-summary-valgrind-shard2of2 build/test-summary-fuzz; do
  [ -s "$f" ] && cat "$f" || echo "0 passed, 1 failed"
done | cat - build/test-summary-san-build build/test-summary-valgrind-missing 2>/dev/null \
  | awk '{p+=$1; f+=$3} END {printf "%d passed, %d failed\n", p, f; exit (f>0)}'
