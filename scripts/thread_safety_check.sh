#!/usr/bin/env bash
# Compiles every translation unit that takes locks (server/, storage/,
# clients/) with clang and -Wthread-safety -Werror=thread-safety, so that a
# member read without its ABSL_GUARDED_BY mutex, or a *Locked() helper
# called without the lock, fails the build. Objects only (nothing is linked
# or run); unoptimised, into build-tsa/, with ccache. scripts/test.sh runs it.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v clang++ >/dev/null || { echo "thread_safety_check: clang++ not found (apt-get install clang)" >&2; exit 2; }
dir=${MASKSERVE_TSA_DIR:-build-tsa}
jobs=${MASKSERVE_JOBS:-2}
if [ ! -f "$dir/build.ninja" ]; then
  CXX=clang++ cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=None -DMASKSERVE_USE_PCH=OFF \
    -DMASKSERVE_BUILD_BENCHMARKS=OFF -DMASKSERVE_THREAD_SAFETY_ANALYSIS=ON >/dev/null
fi
mapfile -t objects < <(ninja -C "$dir" -t targets all |
  grep -E '^(server|storage|clients)/[^:]*\.cc\.o:' | cut -d: -f1)
echo "thread_safety_check: ${#objects[@]} translation units with clang -Wthread-safety" >&2
ninja -C "$dir" -j "$jobs" "${objects[@]}"
echo "thread_safety_check: no thread-safety warnings"
