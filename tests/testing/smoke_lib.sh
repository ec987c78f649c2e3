# Shared scaffolding of the shell smoke tests (source it): a scratch
# directory removed on exit, `fail MESSAGE` (prints the server log), and
# `start_server BINARY ARGS...` / `stop_server`, which run maskserve on a
# free loopback port (CPU, built-in backbone, no metrics port unless ARGS
# give one) and set $address.
work=$(mktemp -d)
server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill -9 "$server_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; [ -f "$work/server.log" ] && cat "$work/server.log" >&2; exit 1; }

start_server() {
  local binary=$1
  shift
  rm -f "$work/port"
  # The built-in tiny backbone unless SMOKE_DEFAULT_MODEL=1 (the server's
  # compiled-in default, the pretrained model).
  local model_env=(MASKSERVE_MODEL_DIR=builtin)
  [ "${SMOKE_DEFAULT_MODEL:-0}" = 1 ] && model_env=()
  env MASKSERVE_DEVICE=cpu "${model_env[@]}" "$binary" --address=127.0.0.1:0 --port_file="$work/port" \
    --data_dir="$work/data" --metrics_address= "$@" >"$work/server.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 1 200); do [ -s "$work/port" ] && break; sleep 0.1; done
  [ -s "$work/port" ] || fail "server did not write its port"
  address=127.0.0.1:$(cat "$work/port")
}

# SIGTERM; fails unless the server drains and exits 0 within 10 s.
stop_server() {
  kill -TERM "$server_pid"
  for _ in $(seq 1 100); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$server_pid" 2>/dev/null; then fail "server ignored SIGTERM"; fi
  wait "$server_pid" || fail "server exited non-zero after SIGTERM"
  server_pid=
}
