#!/usr/bin/env bash
# Starts the real maskserve binary on a free loopback port, checks it with
# maskctl (health, info, --json, exit codes) and stops it with SIGTERM.
# Usage: cli_smoke_test.sh MASKSERVE_BINARY MASKCTL_BINARY
set -euo pipefail
server_bin=$1
maskctl=$2
source "$(dirname "$0")/testing/smoke_lib.sh"

start_server "$server_bin"

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

# Online backup (development mode: the admin service is open to loopback),
# then a restore into an empty directory with `maskserve --restore_from`.
"$maskctl" --address="$address" train smoke "$(dirname "$0")/testing/reviews.csv" --wait \
  --progress=none >/dev/null || fail "train exited $?"
before=$("$maskctl" --address="$address" predict smoke "a great film" "dull") || fail "predict exited $?"
out=$("$maskctl" --address="$address" backup "$work/backups/b1") || fail "backup exited $?"
grep -q "backup $work/backups/b1: 1 profiles" <<<"$out" || fail "backup printed '$out'"
[ -f "$work/backups/b1/CURRENT" ] || fail "no checkpoint in $work/backups/b1"
set +e
"$maskctl" --address="$address" backup relative/dir 2>"$work/err"; rc=$?
set -e
[ $rc = 1 ] || fail "a relative backup dir should exit 1, got $rc"
grep -q "INVALID_ARGUMENT: dir: 'relative/dir' is relative" "$work/err" || fail "not named: $(cat "$work/err")"

stop_server
grep -q "shutting down" "$work/server.log" || fail "no shutdown logged"

mv "$work/data" "$work/data.old"
set +e
"$server_bin" --restore_from="$work/backups/b1" --data_dir="$work/data.old" 2>"$work/err"; rc=$?
set -e
[ $rc = 1 ] || fail "a restore into a non-empty dir should exit 1, got $rc"
grep -q "data_dir: .* is not empty" "$work/err" || fail "not named: $(cat "$work/err")"
"$server_bin" --restore_from="$work/backups/b1" --data_dir="$work/data" 2>"$work/err" \
  || fail "restore exited $?: $(cat "$work/err")"
start_server "$server_bin"
after=$("$maskctl" --address="$address" predict smoke "a great film" "dull") || fail "predict after restore exited $?"
[ "$after" = "$before" ] || fail "restored predictions differ: '$before' vs '$after'"
stop_server

# A shared-heads file that cannot be read stops the server, naming the flag
# (given here as its environment variable).
set +e
MASKSERVE_DEVICE=cpu MASKSERVE_MODEL_DIR=builtin MASKSERVE_SHARED_HEADS="$work/missing.safetensors" "$server_bin" \
  --address=127.0.0.1:0 --data_dir="$work/data2" --metrics_address= 2>"$work/err"; rc=$?
set -e
[ $rc = 1 ] || fail "unreadable shared heads should exit 1, got $rc"
grep -q "shared_heads: .*missing.safetensors" "$work/err" || fail "not named: $(cat "$work/err")"
echo "cli smoke test passed"
