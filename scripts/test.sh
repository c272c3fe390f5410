#!/usr/bin/env bash
# Builds and runs the whole test suite (RelWithDebInfo), then each libFuzzer target for
# a bounded time (scripts/fuzz.sh; PRELA_FUZZ_SECONDS, default 20). Sanitizer runs of
# the suite: .ci/run. The benchmarks are not built here (see docs/performance.md); the
# asan preset of .ci/run compiles them.
set -euo pipefail
cd "$(dirname "$0")/.."
PRELA_WITH_FUZZING=1 scripts/install-deps.sh
cmake --preset default -DPRELA_BUILD_TESTS=ON -DPRELA_BUILD_BENCHMARKS=OFF -DPRELA_BUILD_EXAMPLES=ON >/dev/null
cmake --build build/default -j"$(nproc)"
ctest --preset default
scripts/fuzz.sh
