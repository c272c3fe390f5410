#!/usr/bin/env bash
# What including <prela/asio.hpp> costs a translation unit that includes
# <boost/asio.hpp> (docs/performance.md): both compiled as the default build compiles
# (g++ -std=c++20 -O2), PRELA_COMPILE_RUNS times each (default 3, alternating); prints
# the median user CPU time and GCC's memory (the TOTAL line of -ftime-report) and how
# much more the second costs.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${PRELA_COMPILE_RUNS:-3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '#include <boost/asio.hpp>\nint main() {}\n' >"$tmp/asio.cpp"
printf '#include <boost/asio.hpp>\n#include <prela/asio.hpp>\nint main() {}\n' >"$tmp/prela.cpp"

one() {  # "<user seconds> <memory>" of one compilation
  g++ -std=c++20 -O2 -Iinclude -ftime-report -c "$tmp/$1.cpp" -o /dev/null 2>&1 |
    awk '/^ TOTAL/ {mem = $NF; sub(/M$/, "", mem); print $3, mem}'
}
for ((i = 0; i < runs; ++i)); do
  one asio >>"$tmp/asio.txt"
  one prela >>"$tmp/prela.txt"
done
median() { sort -n -k"$2" "$1" | awk -v k="$2" -v n="$runs" 'NR == int((n + 1) / 2) {print $k}'; }
a_cpu=$(median "$tmp/asio.txt" 1) a_mem=$(median "$tmp/asio.txt" 2)
p_cpu=$(median "$tmp/prela.txt" 1) p_mem=$(median "$tmp/prela.txt" 2)
echo "<boost/asio.hpp>                     ${a_cpu} s user, ${a_mem} MB"
echo "<boost/asio.hpp> + <prela/asio.hpp>  ${p_cpu} s user, ${p_mem} MB"
awk -v ac="$a_cpu" -v pc="$p_cpu" -v am="$a_mem" -v pm="$p_mem" \
  'BEGIN {printf "prela adds                           %+.0f %% CPU, %+.0f %% memory\n", 100 * (pc / ac - 1), 100 * (pm / am - 1)}'
