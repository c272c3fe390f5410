#!/usr/bin/env bash
# Builds and runs the main demo, the traced agent server (examples/agent_server).
# Usage: scripts/demo.sh [arguments for the demo; --help lists them]
# Its files (spans.jsonl, trace.json) go to build/demo unless --out says otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake --preset default -DPRELA_BUILD_TESTS=OFF -DPRELA_BUILD_BENCHMARKS=OFF >/dev/null
cmake --build build/default --target agent_server -j"$(nproc)"
mkdir -p build/demo
exec build/default/examples/agent_server/agent_server --out build/demo "$@"
