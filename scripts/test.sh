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
# The PostgreSQL store's and the multi-replica tests must run here, not skip
# (setup.sh installed PostgreSQL and nginx).
export MASKSERVE_REQUIRE_POSTGRES=1
export MASKSERVE_REQUIRE_NGINX=1
ctest --output-on-failure -j "${MASKSERVE_JOBS:-2}" --timeout 600
