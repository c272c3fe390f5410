#!/usr/bin/env bash
# The demo's --serve mode honours --exporters: one request to a served demo must land in
# --out/spans.jsonl, and the flags of the demo's own load are refused with --serve. Its
# live view (/debug/prela/inflight, /debug/prela) shows a request stalled on purpose,
# and PRELA_SLOW_SPAN_THRESHOLD reports it.
#   serve_test.sh AGENT_SERVER_BINARY WORK_DIR
set -euo pipefail
bin=$1
work=$2
rm -rf "$work" && mkdir -p "$work"

if "$bin" --serve --requests 5 >"$work/refused.txt" 2>&1; then
  echo "FAIL: --serve --requests was accepted"; exit 1
fi
grep -q -- "--requests does not apply to --serve" "$work/refused.txt" || { cat "$work/refused.txt"; exit 1; }

source "$(dirname "$0")/serve_helpers.sh"
serve_in_background "$work" env PRELA_SLOW_SPAN_THRESHOLD=300 "$bin" --serve --exporters jsonl --out "$work/out"

# One request, by bash's /dev/tcp (no curl needed).
exec 3<>"/dev/tcp/127.0.0.1/$port"
printf 'POST /agent HTTP/1.1\r\nHost: localhost\r\ntraceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello' >&3
response=$(timeout 20 cat <&3)
exec 3<&-
[[ $response == "HTTP/1.1 200"* ]] || { echo "FAIL: response: ${response:0:200}"; exit 1; }

# A request that hangs for 1.5 s, seen from the live view while it hangs.
exec 4<>"/dev/tcp/127.0.0.1/$port"
printf 'POST /agent HTTP/1.1\r\nHost: localhost\r\nX-Demo-Stall-Ms: 1500\r\nContent-Length: 5\r\nConnection: close\r\n\r\nstall' >&4
wait_until_stalled 50 0.05
json=$inflight_json
[[ $json == "HTTP/1.1 200"*"application/json"* ]] || { echo "FAIL: inflight: ${json:0:300}"; exit 1; }
[[ $json == *'"name":"stalled_dependency","type":"tool"'*'"running":false'* ]] ||
  { echo "FAIL: the stalled span is not listed as suspended: $json"; exit 1; }
[[ $json == *'"name":"handle_request","type":"agent"'* ]] || { echo "FAIL: no handle_request: $json"; exit 1; }
page=$(get /debug/prela)
[[ $page == "HTTP/1.1 200"*"text/html"*"<!doctype html>"*"stalled_dependency (tool) "*"suspended"* ]] ||
  { echo "FAIL: page: ${page:0:600}"; exit 1; }
stalled=$(timeout 20 cat <&4)
exec 4<&-
[[ $stalled == "HTTP/1.1 200"* ]] || { echo "FAIL: stalled response: ${stalled:0:200}"; exit 1; }
grep -q "slow span: 'stalled_dependency' (tool) open for .*handle_request → stalled_dependency" "$work/server.txt" ||
  { echo "FAIL: PRELA_SLOW_SPAN_THRESHOLD reported nothing"; cat "$work/server.txt"; exit 1; }

kill -INT $server
wait $server
trap - EXIT
lines=$(grep -c '"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736"' "$work/out/spans.jsonl" || true)
if [[ $lines -lt 2 ]]; then
  echo "FAIL: $lines spans of the request in spans.jsonl"; cat "$work/server.txt"; exit 1
fi
if grep -q "^trace " "$work/server.txt"; then
  echo "FAIL: console trees printed though --exporters jsonl was given"; exit 1
fi
echo "serve honours --exporters: $lines spans of the request in spans.jsonl; the live view showed the stalled request"
