#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan + UBSan: the "fuzz" preset) and runs each
# for a bounded time from the seed corpus in tests/fuzz/corpus, one target per core at
# a time. New inputs the fuzzer finds go to build/fuzz/corpus (the seeds stay as
# committed); a crash leaves its input in build/fuzz/artifacts and fails the script.
#   PRELA_FUZZ_SECONDS   time per target (default 20)
#   PRELA_FUZZ_RUNS      stop each target after this many executions instead
#   PRELA_FUZZ_TARGETS   which targets (default: all five)
set -euo pipefail
cd "$(dirname "$0")/.."
PRELA_WITH_FUZZING=1 scripts/install-deps.sh
cmake --preset fuzz >/dev/null
seconds=${PRELA_FUZZ_SECONDS:-20}
targets=${PRELA_FUZZ_TARGETS:-traceparent tracestate baggage extract_inject otlp_encode}
cmake --build build/fuzz -j"$(nproc)" --target $(printf 'fuzz_%s ' $targets)
mkdir -p build/fuzz/artifacts
limit=(-max_total_time="$seconds")
[[ -n ${PRELA_FUZZ_RUNS:-} ]] && limit=(-runs="$PRELA_FUZZ_RUNS")

# One target per core at a time (each libFuzzer run is single-threaded): the same time
# per target, in less wall-clock time.
run() {
  local t=$1 work=build/fuzz/corpus/$1 log=build/fuzz/fuzz_$1.log
  mkdir -p "$work"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "build/fuzz/tests/fuzz/fuzz_$t" "$work" "tests/fuzz/corpus/$t" "${limit[@]}" \
    -max_len=16384 -print_final_stats=1 -artifact_prefix=build/fuzz/artifacts/"$t"- >"$log" 2>&1
}
jobs_max=$(nproc)
declare -A pid_of=()
for t in $targets; do
  while (( $(jobs -rp | wc -l) >= jobs_max )); do wait -n || true; done
  echo "== fuzz_$t (${limit[*]})"
  run "$t" &
  pid_of[$t]=$!
done
failed=0
for t in $targets; do
  log=build/fuzz/fuzz_$t.log
  if wait "${pid_of[$t]}"; then
    echo "fuzz_$t:"
    grep -E "^(Done|stat::number_of_executed_units)" "$log" || true
  else
    tail -n 60 "$log" >&2
    echo "fuzz_$t failed: input in build/fuzz/artifacts, log in $log" >&2
    failed=1
  fi
done
exit "$failed"
