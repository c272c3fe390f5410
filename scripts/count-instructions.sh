#!/usr/bin/env bash
# Instructions per iteration of each loop of benchmarks/instruction_probe, counted by
# callgrind (see docs/performance.md). Needs valgrind and a default build.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "valgrind is not installed (apt-get install valgrind)" >&2; exit 1; }
probe=build/default/benchmarks/instruction_probe
[[ -x $probe ]] || { echo "$probe is missing: build it first (cmake --preset default -DPRELA_BUILD_BENCHMARKS=ON && cmake --build build/default --target instruction_probe)" >&2; exit 1; }
# Instructions of one run: all threads, and the calling (first) thread alone.
count() {
  local dir
  dir=$(mktemp -d)
  valgrind --tool=callgrind --separate-threads=yes --callgrind-out-file="$dir/out" "$probe" "$1" "$2" >/dev/null 2>&1
  local total=0 main=0 f n
  for f in "$dir"/out-*; do
    n=$(awk '/^(summary|totals):/ {print $2; exit}' "$f")
    total=$((total + n))
    [[ $f == "$dir/out-01" ]] && main=$n
  done
  rm -rf "$dir"
  echo "$total $main"
}
for loop in "${@:-unsampled unsampled-nested unsampled-task sampled sampled-attributes resume-plain resume-prela spawn-plain spawn-prela gather extract inject continue}"; do
  for l in $loop; do
    read -r short short_main < <(count "$l" 20000)
    read -r long long_main < <(count "$l" 40000)
    all=$(( (long - short) / 20000 ))
    main=$(( (long_main - short_main) / 20000 ))
    if (( all - main > 5 )); then
      echo "$l: $all instructions per iteration ($main on the calling thread, $(( all - main )) on prela's threads)"
    else
      echo "$l: $all instructions per iteration"
    fi
  done
done
