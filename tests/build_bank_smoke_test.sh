#!/usr/bin/env bash
# The bank-building workflow as an operator runs it: maskserve_build_bank
# trains a warm X-PEFT bank (with a shared head) and a ProPETL prototype on
# a small multi-profile JSON lines corpus; maskserve serves them
# (--adapter_bank, --prototype, --shared_heads); maskctl trains a profile
# that reuses the shared head and predicts with it. Bad tool arguments exit
# non-zero naming the flag.
# Usage: build_bank_smoke_test.sh BUILD_BANK_BINARY MASKSERVE_BINARY MASKCTL_BINARY
set -euo pipefail
build_bank=$1
server_bin=$2
maskctl=$3
source "$(dirname "$0")/testing/smoke_lib.sh"

# Three profiles whose texts carry their label's cue words.
/usr/bin/python3 - "$work/corpus.jsonl" "$work/train.csv" <<'PY'
import json, random, sys
cues = {"positive": ["good", "great", "love", "fun"], "negative": ["bad", "awful", "hate", "dull"]}
filler = ["the", "movie", "was", "a", "story", "and", "it"]
rng = random.Random(7)
def text(label):
    words = [rng.choice(filler) for _ in range(3)] + [rng.choice(cues[label]) for _ in range(2)]
    rng.shuffle(words)
    return " ".join(words)
with open(sys.argv[1], "w") as out:
    for profile in ["alice", "bob", "carol"]:
        for i in range(24):
            label = "positive" if i % 2 else "negative"
            out.write(json.dumps({"profile": profile, "text": text(label), "label": label}) + "\n")
with open(sys.argv[2], "w") as out:
    out.write("text,label\n")
    for i in range(24):
        label = "positive" if i % 2 else "negative"
        out.write(f"{text(label)},{label}\n")
PY

"$build_bank" --model_dir=builtin --kind=xpeft --corpus="$work/corpus.jsonl" --num_adapters=4 --top_k=2 --epochs=2 \
  --out="$work/bank.safetensors" --shared_heads_out="$work/heads.safetensors" --head_name=sentiment \
  >"$work/xpeft.json" 2>"$work/xpeft.log" || fail "xpeft build: $(cat "$work/xpeft.log")"
grep -q '"trained_adapters": 3' "$work/xpeft.json" || fail "xpeft summary: $(cat "$work/xpeft.json")"
grep -q '"shared_head": "sentiment"' "$work/xpeft.json" || fail "no shared head: $(cat "$work/xpeft.json")"
"$build_bank" --model_dir=builtin --kind=propetl --corpus="$work/corpus.jsonl" --epochs=2 \
  --out="$work/prototype.safetensors" >"$work/propetl.json" 2>"$work/propetl.log" ||
  fail "propetl build: $(cat "$work/propetl.log")"
grep -q '"kind": "propetl"' "$work/propetl.json" || fail "propetl summary: $(cat "$work/propetl.json")"
[ -s "$work/bank.safetensors" ] && [ -s "$work/prototype.safetensors" ] && [ -s "$work/heads.safetensors" ] ||
  fail "missing output files"

# Bad arguments name the flag.
set +e
"$build_bank" --model_dir=builtin --kind=lora --corpus="$work/corpus.jsonl" --out="$work/x" 2>"$work/err"; rc=$?
[ $rc != 0 ] && grep -q -- "--kind" "$work/err" || fail "bad --kind: rc $rc, $(cat "$work/err")"
"$build_bank" --model_dir=builtin --kind=xpeft --corpus="$work/missing.jsonl" --out="$work/x" 2>"$work/err"; rc=$?
[ $rc != 0 ] && grep -q "missing.jsonl" "$work/err" || fail "missing corpus: rc $rc, $(cat "$work/err")"
"$build_bank" --model_dir=builtin --kind=xpeft --corpus="$work/corpus.jsonl" --out="$work/x" --head_name=h 2>"$work/err"; rc=$?
[ $rc != 0 ] && grep -q -- "--shared_heads_out" "$work/err" || fail "head without file: rc $rc"
set -e

start_server "$server_bin" \
  --adapter_bank="$work/bank.safetensors" --prototype="$work/prototype.safetensors" \
  --shared_heads="$work/heads.safetensors"

info=$("$maskctl" --address="$address" info) || fail "info exited $?"
[ "$(grep -c ' warm ' <<<"$info")" = 2 ] || fail "both banks should be warm: $info"
grep -q "sentiment" <<<"$info" || fail "info lacks the shared head: $info"

"$maskctl" --address="$address" --method=XPEFT_HARD --shared_head=sentiment --epochs=5 --wait \
  train dana "$work/train.csv" >"$work/train.out" 2>&1 ||
  fail "train: $(cat "$work/train.out")"
out=$("$maskctl" --address="$address" get dana) || fail "get exited $?"
grep -q "shared_head *sentiment" <<<"$out" || fail "profile does not show its shared head: $out"
grep -q "head 0 B" <<<"$out" || fail "a shared-head profile should store no head: $out"
out=$("$maskctl" --address="$address" predict dana "good great fun") || fail "predict exited $?"
grep -q "positive\|negative" <<<"$out" || fail "predict printed: $out"

stop_server
echo "build bank smoke test passed"
