# Sourced by serve_test.sh and debug_page_test.sh.
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
