#!/usr/bin/env bash
# Builds and runs the main demo. Usage: scripts/demo.sh [arguments for the demo]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake --preset default -DPRELA_BUILD_TESTS=OFF -DPRELA_BUILD_BENCHMARKS=OFF >/dev/null
cmake --build build/default --target quickstart -j"$(nproc)"
exec build/default/examples/quickstart/quickstart "$@"
