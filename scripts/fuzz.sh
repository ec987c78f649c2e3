#!/usr/bin/env bash
# Builds the libFuzzer targets of core/fuzz with Debian's clang (ASan + UBSan)
# and runs each for a while. The targets cover the std-only parsers that read
# untrusted bytes; they need no LibTorch.
#   scripts/fuzz.sh [SECONDS_PER_TARGET]   (default 60; CTest runs 10)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
out=${MASKSERVE_FUZZ_DIR:-build/fuzz}
command -v clang++ >/dev/null || { echo "fuzz.sh: clang++ not found (apt-get install clang)" >&2; exit 2; }
mkdir -p "$out"
flags=(-std=c++17 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -I.)
lib=(core/base/bit_packing.cc core/base/crc32.cc core/base/fp16.cc core/base/json.cc core/profile/profile_codec.cc core/profile/profile_data.cc
     core/io/safetensors_header.cc core/text/normalization.cc core/text/unicode_tables.cc core/text/vocabulary.cc
     core/text/wordpiece_tokenizer.cc)
for target in json_fuzzer profile_codec_fuzzer safetensors_header_fuzzer tokenizer_fuzzer; do
  src=core/fuzz/$target.cc
  if [ ! -x "$out/$target" ] || [ -n "$(find "$src" "${lib[@]}" core/*/*.h -newer "$out/$target" 2>/dev/null)" ]; then
    clang++ "${flags[@]}" "${lib[@]}" "$src" -o "$out/$target"
  fi
  mkdir -p "$out/corpus-$target"
  echo "fuzz.sh: $target for ${seconds}s" >&2
  "$out/$target" -max_total_time="$seconds" -max_len=4096 -timeout=10 \
    "$out/corpus-$target" 2>"$out/$target.log" || { tail -40 "$out/$target.log" >&2; exit 1; }
  grep -E "^Done|#[0-9]+.*DONE" "$out/$target.log" | tail -1 >&2 || true
done
echo "fuzz.sh: no crashes"
