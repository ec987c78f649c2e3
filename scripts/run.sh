#!/usr/bin/env bash
# One command from a fresh Debian 12 machine to a running server: installs
# the packages and the pretrained all-MiniLM-L6-v2 backbone (into models/),
# builds, and starts maskserve with its defaults (that backbone, random
# banks, RocksDB under ./maskserve-data, gRPC on :50051).
# Arguments are passed to maskserve, e.g. ./scripts/run.sh --address=127.0.0.1:6000
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
./scripts/build.sh >&2
exec ./build/server/maskserve "$@"
