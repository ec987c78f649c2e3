#!/usr/bin/env bash
# The long crash soak of the profile store (issue 5): a writer process is
# SIGKILLed at random moments, over and over, and after every kill the store
# is reopened and every acknowledged write is checked (present, intact,
# versions never backwards, publish+job atomic, counters right). CTest runs a
# 36-round version (storage_crash_test); this runs until --rounds or
# --duration, whichever comes first.
#
#   scripts/soak_store.sh                          # 10 minutes
#   scripts/soak_store.sh --duration=2h --rounds=100000 --verbose
#
# Environment: BUILD_DIR (default build), MASKSERVE_JOBS (build jobs).
# Extra arguments go to store_crash_soak (see its --help).
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${BUILD_DIR:-build}
if [ ! -f "$build_dir/build.ninja" ]; then
  cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
fi
cmake --build "$build_dir" -j "${MASKSERVE_JOBS:-2}" --target store_crash_soak store_crash_writer
exec "$build_dir/storage/store_crash_soak" --duration=10m --rounds=1000000 "$@"
