#!/usr/bin/env bash
# One command from a fresh Debian 12 machine to a passing test suite:
# installs the packages, builds, checks the locking with clang's
# thread-safety analysis, and runs every test with CTest.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
./scripts/build.sh
./scripts/thread_safety_check.sh
cd build
ctest --output-on-failure -j "${MASKSERVE_JOBS:-2}" --timeout 600
