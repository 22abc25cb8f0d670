#!/usr/bin/env bash
# make soak: the Byzantine simulation (test/sim/bytesim.py) over thousands of
# seeds, split across the cores, with one progress line.
#   bash test/soak.sh                      BEC_SOAK_SEEDS (3000) seeds from BEC_SOAK_FIRST (1000)
#   BEC_SOAK_SEEDS=20000 BEC_SOAK_JOBS=4 bash test/soak.sh
#   BEC_SOAK_BUILD=build-san bash test/soak.sh     on the ASan+UBSan build
#   BEC_SOAK_CONVERGE=5000 bash test/soak.sh      also 5000 seeds of test/py/test_converge.py
# A failing seed is listed with the command that replays it; the last line
# is "soak: N seeds, N failed, N ops, Ns" and the exit code is 1 on failure.
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
N=${BEC_SOAK_SEEDS:-3000}
FIRST=${BEC_SOAK_FIRST:-1000}
JOBS=${BEC_SOAK_JOBS:-$(nproc)}
B=${BEC_SOAK_BUILD:-build}
export BEC_EXT="$ROOT/$B/bec"
PRE=""
if [ "$B" = build-san ]; then
  PRE="$(gcc -print-file-name=libasan.so):$(gcc -print-file-name=libubsan.so)"
  export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:allocator_may_return_null=1"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
fi
OUT=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$OUT"' EXIT
start=$(date +%s)
per=$(( (N + JOBS - 1) / JOBS ))
for ((j=0; j<JOBS; j++)); do
  lo=$((FIRST + j*per)); hi=$((lo + per - 1)); last=$((FIRST + N - 1))
  [ $hi -gt $last ] && hi=$last
  [ $lo -gt $hi ] && continue
  LD_PRELOAD="$PRE" /usr/bin/python3 test/sim/bytesim.py --seeds "$lo-$hi" --list >"$OUT/job$j.log" 2>&1 &
done
progress() {
  local done fail
  done=$(cat "$OUT"/job*.log 2>/dev/null | grep -c '^seed ')
  fail=$(cat "$OUT"/job*.log 2>/dev/null | grep -c '^seed .* FAILED')
  printf '\rsoak: %d/%d seeds, %d failed, %ds ' "$done" "$N" "$fail" $(( $(date +%s) - start ))
}
while [ -n "$(jobs -rp)" ]; do
  [ -t 1 ] && progress
  sleep 2
done
wait
[ -t 1 ] && { progress; echo; }
cat "$OUT"/job*.log | grep -E '^(FAIL|  replay:)' | head -n 200
done=$(cat "$OUT"/job*.log | grep -c '^seed ')
fail=$(cat "$OUT"/job*.log | grep -c '^seed .* FAILED')
ops=$(cat "$OUT"/job*.log | awk '/^seed /{s+=$4} END{print s+0}')
crashed=$(grep -L '^bytesim: ' "$OUT"/job*.log | wc -l)
if [ "$crashed" != 0 ]; then
  echo "soak: $crashed job(s) ended without a summary:"; grep -L '^bytesim: ' "$OUT"/job*.log | xargs tail -n 20
fi
echo "soak: $done seeds ($FIRST..$((FIRST+N-1)), $B), $fail failed, $ops ops, $(( $(date +%s) - start ))s"
conv=0
if [ "${BEC_SOAK_CONVERGE:-0}" -gt 0 ]; then   # the differential convergence test (issue 11)
  LD_PRELOAD="$PRE" BEC_CONVERGE_SEEDS=$BEC_SOAK_CONVERGE BEC_CONVERGE_START=$FIRST /usr/bin/python3 test/py/test_converge.py >"$OUT/converge.log" 2>&1 || conv=1
  grep -E '^(FAIL|  replay:|converge:|RESULT)' "$OUT/converge.log" | tail -n 80
fi
[ "$fail" = 0 ] && [ "$done" = "$N" ] && [ "$crashed" = 0 ] && [ "$conv" = 0 ]
