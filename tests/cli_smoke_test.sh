#!/usr/bin/env bash
# Starts the real maskserve binary on a free loopback port, checks it with
# maskctl (health, info, --json, exit codes) and stops it with SIGTERM.
# Usage: cli_smoke_test.sh MASKSERVE_BINARY MASKCTL_BINARY
set -euo pipefail
server_bin=$1
maskctl=$2
work=$(mktemp -d)
server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill -9 "$server_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; [ -f "$work/server.log" ] && cat "$work/server.log" >&2; exit 1; }

MASKSERVE_DEVICE=cpu "$server_bin" --address=127.0.0.1:0 --port_file="$work/port" \
  --data_dir="$work/data" >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 200); do [ -s "$work/port" ] && break; sleep 0.1; done
[ -s "$work/port" ] || fail "server did not write its port"
address=127.0.0.1:$(cat "$work/port")

out=$("$maskctl" --address="$address" health) || fail "health exited $?"
[ "$out" = SERVING ] || fail "health printed '$out'"
out=$("$maskctl" --address="$address" info) || fail "info exited $?"
grep -q "builtin-tiny-bert" <<<"$out" || fail "info lacks the backbone: $out"
out=$("$maskctl" --address="$address" --json info) || fail "info --json exited $?"
grep -q '"server_version"' <<<"$out" || fail "info --json: $out"

# Environment variables configure the client too.
MASKSERVE_ADDRESS=$address "$maskctl" health >/dev/null || fail "MASKSERVE_ADDRESS ignored"

# Exit codes a script can rely on.
set +e
"$maskctl" --address="$address" frobnicate 2>/dev/null; [ $? = 2 ] || fail "unknown command should exit 2"
"$maskctl" --address=127.0.0.1:1 --timeout_seconds=2 health 2>"$work/err"; rc=$?
set -e
[ $rc = 1 ] || fail "unreachable server should exit 1, got $rc"
grep -q "UNAVAILABLE\|DEADLINE_EXCEEDED" "$work/err" || fail "error not reported: $(cat "$work/err")"

# A bad environment value is refused with the variable's name.
set +e
MASKSERVE_MAX_LABELS=many "$server_bin" --address=127.0.0.1:0 2>"$work/err"; rc=$?
set -e
[ $rc = 2 ] || fail "bad env value should exit 2, got $rc"
grep -q MASKSERVE_MAX_LABELS "$work/err" || fail "bad env value not named: $(cat "$work/err")"

kill -TERM "$server_pid"
for _ in $(seq 1 100); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$server_pid" 2>/dev/null; then fail "server ignored SIGTERM"; fi
wait "$server_pid" || fail "server exited non-zero after SIGTERM"
server_pid=
grep -q "shutting down" "$work/server.log" || fail "no shutdown logged"
echo "cli smoke test passed"
