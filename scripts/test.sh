#!/usr/bin/env bash
# Builds and runs the whole test suite (RelWithDebInfo). The bounded fuzzing
# (scripts/fuzz.sh) and the sanitizer runs of the suite are in .ci/run. The benchmarks
# are not built here (see docs/performance.md); the asan preset of .ci/run compiles them.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake --preset default -DPRELA_BUILD_TESTS=ON -DPRELA_BUILD_BENCHMARKS=OFF -DPRELA_BUILD_EXAMPLES=ON >/dev/null
cmake --build build/default -j"$(nproc)"
ctest --preset default
