#!/usr/bin/env bash
# Builds the libFuzzer targets with Debian's clang (ASan + UBSan) and runs
# each for a while:
# - core/fuzz/*: the std-only parsers that read untrusted bytes (JSON,
#   profile codec, safetensors header, tokenizer); they need no LibTorch.
# - maskserve_service_fuzzer (server/fuzz/): the gRPC service's handlers over
#   a real engine (built-in tiny backbone, in-memory store), with the
#   dictionary server/fuzz/service_fuzzer.dict. Its own CMake project, in
#   $MASKSERVE_FUZZ_DIR/service, compiles proto/, storage/ and server/
#   instrumented and links the uninstrumented core/ libraries of the main
#   build ($MASKSERVE_CORE_BUILD_DIR, default build/; scripts/build.sh makes
#   them). Without them it is skipped with a warning, or fails when
#   MASKSERVE_FUZZ_REQUIRE_SERVICE=1 (as CTest's fuzz_smoke_test sets).
#   scripts/fuzz.sh [SECONDS_PER_TARGET]   (default 60; CTest runs 10)
# MASKSERVE_FUZZ_JOBS: build jobs of the service fuzzer (default 2).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
out=${MASKSERVE_FUZZ_DIR:-build/fuzz}
core_build=${MASKSERVE_CORE_BUILD_DIR:-build}
command -v clang++ >/dev/null || { echo "fuzz.sh: clang++ not found (apt-get install clang)" >&2; exit 2; }
mkdir -p "$out"

# Runs fuzzer binary $1 (named $2) for $seconds on its corpus (where new
# inputs go); extra arguments (flags, read-only seed directories) follow.
run_target() {
  local bin=$1 target=$2
  shift 2
  mkdir -p "$out/corpus-$target"
  echo "fuzz.sh: $target for ${seconds}s" >&2
  "$bin" -max_total_time="$seconds" -max_len=4096 -timeout=10 "$out/corpus-$target" "$@" \
    2>"$out/$target.log" || { tail -40 "$out/$target.log" >&2; exit 1; }
  grep -E "^Done|#[0-9]+.*DONE" "$out/$target.log" | tail -1 >&2 || true
}

flags=(-std=c++17 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -I.)
lib=(core/base/bit_packing.cc core/base/crc32.cc core/base/fp16.cc core/base/json.cc core/profile/profile_codec.cc core/profile/profile_data.cc
     core/io/safetensors_header.cc core/text/normalization.cc core/text/unicode_tables.cc core/text/vocabulary.cc
     core/text/wordpiece_tokenizer.cc)
for target in json_fuzzer profile_codec_fuzzer safetensors_header_fuzzer tokenizer_fuzzer; do
  src=core/fuzz/$target.cc
  if [ ! -x "$out/$target" ] || [ -n "$(find "$src" "${lib[@]}" core/*/*.h -newer "$out/$target" 2>/dev/null)" ]; then
    clang++ "${flags[@]}" "${lib[@]}" "$src" -o "$out/$target"
  fi
  run_target "$out/$target" "$target"
done

# The service fuzzer.
if ! compgen -G "$core_build/core/*/libmaskserve_*.a" >/dev/null; then
  msg="no core/ libraries in $core_build (run scripts/build.sh first)"
  if [ "${MASKSERVE_FUZZ_REQUIRE_SERVICE:-0}" = 1 ]; then
    echo "fuzz.sh: $msg" >&2
    exit 1
  fi
  echo "fuzz.sh: WARNING: skipping maskserve_service_fuzzer: $msg" >&2
else
  service=$out/service
  if [ ! -f "$service/build.ninja" ]; then
    CXX=clang++ cmake -S server/fuzz -B "$service" -G Ninja \
      -DMASKSERVE_CORE_BUILD_DIR="$(cd "$core_build" && pwd)" >"$out/service-configure.log" 2>&1 ||
      { tail -40 "$out/service-configure.log" >&2; exit 1; }
  fi
  echo "fuzz.sh: building maskserve_service_fuzzer" >&2
  ninja -C "$service" -j "${MASKSERVE_FUZZ_JOBS:-2}" maskserve_service_fuzzer >"$out/service-build.log" 2>&1 ||
    { tail -40 "$out/service-build.log" >&2; exit 1; }
  bin=$service/maskserve_service_fuzzer
  # Valid requests of every RPC, regenerated each time (a second).
  rm -rf "$out/seeds-service"
  mkdir -p "$out/seeds-service"
  MASKSERVE_FUZZ_WRITE_SEEDS=$out/seeds-service "$bin" >/dev/null 2>"$out/service-seeds.log" ||
    { tail -40 "$out/service-seeds.log" >&2; exit 1; }
  run_target "$bin" maskserve_service_fuzzer -dict=server/fuzz/service_fuzzer.dict \
    "$out/seeds-service"
fi
echo "fuzz.sh: no crashes"
