#!/usr/bin/env bash
# The demo's live-view page (/debug/prela) in a real browser: headless Chromium loads it
# while a request is stalled on purpose, runs its script (which fetches
# /debug/prela/inflight and redraws the trees), and the resulting DOM must show the
# stalled request's spans, suspended. Run by .ci/run; installs Debian's chromium package
# when missing.
#   debug_page_test.sh AGENT_SERVER_BINARY WORK_DIR
set -euo pipefail
bin=$1
work=$2
rm -rf "$work" && mkdir -p "$work"

PRELA_WITH_CHROMIUM=1 "$(dirname "$0")/../../scripts/install-deps.sh"

source "$(dirname "$0")/serve_helpers.sh"
serve_in_background "$work" "$bin" --serve --exporters jsonl --out "$work/out"

# The stuck request: 30 s in stalled_dependency, under handle_request.
exec 3<>"/dev/tcp/127.0.0.1/$port"
printf 'POST /agent HTTP/1.1\r\nHost: localhost\r\nX-Demo-Stall-Ms: 30000\r\nContent-Length: 5\r\nConnection: close\r\n\r\nstuck' >&3
wait_until_stalled 100 0.1
[[ $inflight_json == *'"name":"stalled_dependency"'* ]] ||
  { echo "FAIL: the request did not stall: $inflight_json"; exit 1; }

# --virtual-time-budget lets the page's timer fire, so the DOM is the script's redraw.
timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --virtual-time-budget=5000 \
  --dump-dom "http://127.0.0.1:$port/debug/prela" >"$work/dom.html" 2>"$work/chromium.txt" ||
  { echo "FAIL: chromium"; cat "$work/chromium.txt"; exit 1; }
exec 3<&-

fail() { echo "FAIL: $1"; cat "$work/dom.html"; exit 1; }
grep -q '<div class="running\|<div class="suspended' "$work/dom.html" || fail "the script did not redraw the trees"
grep -q ' open spans at ' "$work/dom.html" || fail "the script did not refresh the status line"
grep -q '<div class="suspended">  handle_request (agent) ' "$work/dom.html" || fail "no suspended handle_request"
grep -q '<div class="suspended">    stalled_dependency (tool) ' "$work/dom.html" ||
  fail "no suspended stalled_dependency under handle_request"
echo "debug page: the stalled request shows in headless Chromium, suspended under handle_request"
