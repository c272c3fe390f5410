#!/usr/bin/env bash
# Instructions per iteration of each loop of benchmarks/instruction_probe, counted by
# callgrind (see docs/performance.md). Needs valgrind and a default build.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "valgrind is not installed (apt-get install valgrind)" >&2; exit 1; }
probe=build/default/benchmarks/instruction_probe
[[ -x $probe ]] || { echo "$probe is missing: build it first (cmake --preset default -DPRELA_BUILD_BENCHMARKS=ON && cmake --build build/default --target instruction_probe)" >&2; exit 1; }
count() {  # instructions of one run
  valgrind --tool=callgrind --callgrind-out-file=/dev/null "$probe" "$1" "$2" 2>&1 |
    awk '/Collected/ {print $NF}'
}
for loop in "${@:-unsampled unsampled-nested sampled sampled-attributes resume-plain resume-prela spawn-plain spawn-prela gather extract inject continue}"; do
  for l in $loop; do
    short=$(count "$l" 20000)
    long=$(count "$l" 40000)
    echo "$l: $(( (long - short) / 20000 )) instructions per iteration"
  done
done
