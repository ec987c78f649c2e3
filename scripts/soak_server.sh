#!/usr/bin/env bash
# Soak test of the real server: the CTest crash test's driver
# (tests/crash/server_crash_test.py) with 200 SIGKILLs under mixed
# multi-tenant load and longer rounds by default. It takes as long as it
# takes (tens of minutes); it prints its seed at the start and one
# CRASH_TEST_RESULT JSON line plus a table at the end, and exits 1 on any
# violation (the data directory and server log are then kept and named).
# Like the CTest, it runs against an installed copy of the Python client:
# clients/python/run_installed.sh makes $build/tests/soak_venv and
# pip-installs clients/python into it (offline, see that script).
#
# Usage: scripts/soak_server.sh [driver flags]   e.g. --kills=500 --seed=42
#   MASKSERVE_BUILD_DIR  build tree with server/maskserve (default: ./build)
#   MASKSERVE_PYTHON     the python that makes the venv (run_installed.sh)
# Later flags win, so any default below can be overridden.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${MASKSERVE_BUILD_DIR:-$root/build}
server=$build/server/maskserve
[ -x "$server" ] || { echo "soak_server.sh: no $server (build first)" >&2; exit 2; }
mkdir -p "$build/tests"
export PYTHONDONTWRITEBYTECODE=1
exec nice -n 10 "$root/clients/python/run_installed.sh" "$build/tests/soak_venv" \
  python "$root/tests/crash/server_crash_test.py" \
  --server="$server" --kills=200 --max_load_seconds=5 "$@"
