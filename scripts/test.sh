#!/usr/bin/env bash
# Builds and runs the whole test suite (RelWithDebInfo). Sanitizer runs: .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake --preset default -DPRELA_BUILD_TESTS=ON -DPRELA_BUILD_BENCHMARKS=ON -DPRELA_BUILD_EXAMPLES=ON >/dev/null
cmake --build build/default -j"$(nproc)"
ctest --preset default
