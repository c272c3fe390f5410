# Sourced by serve_test.sh and debug_page_test.sh: start the served demo, talk to it.
# serve_in_background WORK_DIR COMMAND...: starts the demo's --serve mode (COMMAND, its
# output in WORK_DIR/server.txt), kills it on exit, and sets $server (its pid) and
# $port once it listens; fails the script if it does not start within 10 s.
serve_in_background() {
  local work=$1
  shift
  "$@" >"$work/server.txt" 2>&1 &
  server=$!
  trap 'kill $server 2>/dev/null || true' EXIT
  port=""
  for _ in $(seq 1 100); do
    port=$(sed -n 's|.*serving on http://127.0.0.1:\([0-9]*\)/agent.*|\1|p' "$work/server.txt")
    [[ -n $port ]] && return 0
    sleep 0.1
  done
  echo "FAIL: the server did not start"
  cat "$work/server.txt"
  exit 1
}

# get PATH: the served demo's whole answer (status line, headers, body) to GET PATH.
get() {
  exec 5<>"/dev/tcp/127.0.0.1/$port"
  printf 'GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' "$1" >&5
  timeout 20 cat <&5
  exec 5<&-
}

# wait_until_stalled TRIES DELAY: asks /debug/prela/inflight up to TRIES times, DELAY
# seconds apart, until a request sent with X-Demo-Stall-Ms is inside its stall; sets
# $inflight_json to the last answer. The caller checks it.
wait_until_stalled() {
  inflight_json=""
  for _ in $(seq 1 "$1"); do
    inflight_json=$(get /debug/prela/inflight)
    [[ $inflight_json == *'"name":"stalled_dependency"'* ]] && return 0
    sleep "$2"
  done
}
