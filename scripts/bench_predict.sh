#!/usr/bin/env bash
# End-to-end Predict benchmark on the default backbone: starts maskserve on a
# free loopback port (CPU unless --device is given), trains one XPEFT_HARD
# profile on six short reviews (tests/testing/reviews.csv), imports it
# under PROFILES distinct ids (each is composed and resident on its own, as
# distinct profiles are), and
# runs maskserve_loadgen over all of them with short texts (12 words, about
# 16 tokens). Prints loadgen's JSON line and table.
#
#   ./scripts/bench_predict.sh [PROFILES=1000] [SECONDS=30] [CONCURRENCY=8] [maskserve flags...]
#
# Needs a build (./scripts/build.sh) and the model (./scripts/fetch_model.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
profiles=${1:-1000}
seconds=${2:-30}
concurrency=${3:-8}
shift $(( $# < 3 ? $# : 3 ))
work=$(mktemp -d)
server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill -TERM "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

./build/server/maskserve --address=127.0.0.1:0 --port_file="$work/port" --data_dir="$work/data" \
  --metrics_address= "$@" >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 600); do [ -s "$work/port" ] && break; sleep 0.1; done
address=127.0.0.1:$(cat "$work/port")
M() { ./build/clients/maskctl/maskctl --address="$address" "$@"; }
for _ in $(seq 1 600); do [ "$(M health 2>/dev/null)" = SERVING ] && break; sleep 0.2; done
M info >&2

M train seed tests/testing/reviews.csv --method=XPEFT_HARD --wait >/dev/null
M export seed "$work/seed.bin"
start=$SECONDS
for i in $(seq 0 $((profiles - 1))); do M import "loadgen-$i" "$work/seed.bin" >/dev/null; done
echo "imported $profiles profiles in $((SECONDS - start)) s" >&2

./build/clients/loadgen/maskserve_loadgen --address="$address" --profiles="$profiles" \
  --popularity=uniform --concurrency="$concurrency" --inputs_per_request=1 --text_words=12 \
  --duration_seconds="$seconds"
