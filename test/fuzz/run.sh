#!/usr/bin/env bash
# Builds every test/fuzz/fuzz_*.c with clang's libFuzzer (+ASan+UBSan) and
# runs each for SECONDS seconds, seeded from test/fuzz/seeds/<target>/ and the
# golden vectors.  A crash leaves crash-* in build-fuzz/ and fails the run;
# turn each into a regression test (test/fuzz/regress/<target>/).
#   bash test/fuzz/run.sh [SECONDS]      (make fuzz; CI runs a short pass)
set -u
SECONDS_EACH=${1:-60}
cd "$(dirname "$0")/../.."
ROOT=$PWD
OUT=$ROOT/build-fuzz
mkdir -p "$OUT"
SAN="address,undefined -fno-sanitize-recover=undefined"
CFLAGS="-g -O1 -fsanitize=fuzzer,$SAN -Iext -DSQLITE_CORE"
# The extension is compiled once (instrumented, without libFuzzer's main)
# and linked into every target.
mkdir -p "$OUT/obj"
# The files compile in parallel, one per core.
objs=""
for c in ext/*.c; do objs="$objs $OUT/obj/$(basename "$c" .c).o"; done
export OUT SAN
printf '%s\n' ext/*.c | xargs -P "$(nproc 2>/dev/null || echo 2)" -I{} sh -c \
  'clang -g -O1 -fsanitize=fuzzer-no-link,$SAN -Iext -DSQLITE_CORE -c "$1" -o "$OUT/obj/$(basename "$1" .c).o" || { echo "FAIL: cannot build $1 for fuzzing"; exit 255; }' _ {} \
  || { echo "RESULT 0 1"; exit 1; }
LIBS="-lsqlite3 -lsodium -lxxhash -lpthread -lm"
fail=0; total_runs=0
for src in test/fuzz/fuzz_*.c; do
  name=$(basename "$src" .c)
  echo "== $name: building"
  clang $CFLAGS "$src" $objs -o "$OUT/$name" $LIBS || { echo "FAIL $name: build"; fail=$((fail+1)); continue; }
  corpus="$OUT/corpus-$name"
  mkdir -p "$corpus"
  [ -d "test/fuzz/seeds/$name" ] && cp -n test/fuzz/seeds/"$name"/* "$corpus"/ 2>/dev/null
  # Regression inputs must pass first.
  if [ -d "test/fuzz/regress/$name" ]; then
    "$OUT/$name" test/fuzz/regress/"$name"/* >"$OUT/$name.regress.log" 2>&1 \
      || { echo "FAIL $name: regression input crashes"; tail -20 "$OUT/$name.regress.log"; fail=$((fail+1)); continue; }
  fi
  echo "== $name: fuzzing ${SECONDS_EACH}s"
  (cd "$OUT" && ./"$name" -max_total_time="$SECONDS_EACH" -max_len=4096 -print_final_stats=1 \
      "$corpus" >"$OUT/$name.log" 2>&1)
  rc=$?
  runs=$(grep -a 'stat::number_of_executed_units' "$OUT/$name.log" | awk '{print $2}')
  total_runs=$((total_runs + ${runs:-0}))
  if [ $rc != 0 ]; then
    echo "FAIL $name: crash (see $OUT/$name.log)"; grep -a -A15 'ERROR' "$OUT/$name.log" | head -30
    fail=$((fail+1))
  else
    echo "$name: ${runs:-0} executions, no crash"
  fi
done
n=$(ls test/fuzz/fuzz_*.c | wc -l)
echo "fuzz: $n targets, $total_runs executions"
echo "RESULT $((n-fail)) $fail"
[ $fail = 0 ]
