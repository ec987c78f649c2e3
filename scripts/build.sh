#!/usr/bin/env bash
# Configures and builds maskserve into build/ (Ninja, ccache, 2 jobs by
# default; MASKSERVE_JOBS overrides). Extra arguments go to cmake.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=${MASKSERVE_JOBS:-2}
if [ ! -f build/build.ninja ]; then
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@"
elif [ $# -gt 0 ]; then
  cmake -S . -B build "$@"
fi
cmake --build build -j "$jobs"
