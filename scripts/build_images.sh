#!/usr/bin/env bash
# Builds the container images without a Docker daemon, with Debian's buildah
# (chroot isolation, vfs storage: no overlay, no user namespaces, no runc),
# then smoke-tests the CPU image: maskserve starts as the image's unprivileged
# user and serves health, info and /metrics. Run it whenever a Dockerfile
# changes. Needs root (buildah's chroot isolation) and ~25 GB under
# $BUILDAH_ROOT; it is not part of CI (a cold image build compiles the
# project from scratch).
#
#   sudo scripts/build_images.sh                 # Dockerfile -> maskserve:latest
#   sudo scripts/build_images.sh --cuda-devel-image=IMG --cuda-runtime-image=IMG \
#        --libtorch=DIR                          # also Dockerfile.cuda -> maskserve:cuda
#
# The base image debian:12 is made locally with debootstrap when it is not in
# buildah's storage (no registry needed): `buildah from scratch`, copy the
# root, `buildah commit docker.io/library/debian:12`. Dockerfile.cuda needs
# NVIDIA's CUDA images (a registry or `buildah pull oci-archive:...`) and a
# cxx11-ABI CUDA LibTorch directory; without them the script says which is
# missing and skips it (exit status still 0 when the CPU image passed).
#
# Options: --jobs=N (compile jobs in the image, default: cores), --skip-smoke,
# --no-cpu (only Dockerfile.cuda), --keep (keep the smoke container).
# Environment: BUILDAH_ROOT (storage, default /var/lib/containers/storage),
# DEBIAN_MIRROR (default http://deb.debian.org/debian), HOST_CA_BUNDLE (CA
# bundle mounted into the build for pip, default the host's
# /etc/ssl/certs/ca-certificates.crt, so that a TLS-inspecting proxy the
# host trusts works in the build too; empty = none).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
jobs=$(nproc)
cuda_devel= cuda_runtime= libtorch= smoke=1 cpu=1 keep=0
for arg in "$@"; do
  case $arg in
    --jobs=*) jobs=${arg#*=} ;;
    --cuda-devel-image=*) cuda_devel=${arg#*=} ;;
    --cuda-runtime-image=*) cuda_runtime=${arg#*=} ;;
    --libtorch=*) libtorch=${arg#*=} ;;
    --skip-smoke) smoke=0 ;;
    --no-cpu) cpu=0 ;;
    --keep) keep=1 ;;
    -h|--help) sed -n '2,27p' "$0"; exit 0 ;;
    *) echo "build_images: unknown option $arg (--help)" >&2; exit 2 ;;
  esac
done

log() { printf '\n== build_images: %s\n' "$*" >&2; }
die() { echo "build_images: FAIL: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (buildah's chroot isolation needs it): sudo $0 $*"
if ! command -v buildah >/dev/null; then
  log "installing buildah (Debian package)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends buildah >/dev/null
fi
export STORAGE_DRIVER=vfs BUILDAH_ISOLATION=chroot
root_opt=()
[ -n "${BUILDAH_ROOT:-}" ] && root_opt=(--root "$BUILDAH_ROOT")
bah() { buildah "${root_opt[@]}" "$@"; }

work=$(mktemp -d)
containers=()
cleanup() {
  if [ "$keep" = 0 ]; then
    for c in "${containers[@]}"; do bah rm "$c" >/dev/null 2>&1 || true; done
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# --- debian:12 from debootstrap ------------------------------------------
ensure_debian_base() {
  if bah inspect --type image docker.io/library/debian:12 >/dev/null 2>&1; then
    log "base docker.io/library/debian:12 is in buildah's storage"
    return
  fi
  command -v debootstrap >/dev/null || {
    log "installing debootstrap (Debian package)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
  }
  local mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
  log "making docker.io/library/debian:12 with debootstrap from $mirror"
  local rootfs=$work/rootfs
  debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 \
    || { tail -20 "$work/debootstrap.log" >&2; die "debootstrap failed"; }
  # What the official image has: security updates, no apt caches.
  cat >"$rootfs/etc/apt/sources.list" <<EOF
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
EOF
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/archives/*.deb
  local ctr
  ctr=$(bah from scratch)
  containers+=("$ctr")
  local mnt
  mnt=$(bah mount "$ctr")
  tar -C "$rootfs" -cf - . | tar -C "$mnt" -xpf -
  bah umount "$ctr" >/dev/null
  bah config --cmd /bin/bash --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    "$ctr"
  bah commit --quiet "$ctr" docker.io/library/debian:12 >/dev/null
  rm -rf "$rootfs"
}

# --- smoke test of the CPU image -----------------------------------------
# Runs maskserve in a container of the image as its USER (uid 10001), on
# free loopback ports, and checks health, info and /metrics with the tools
# inside the image (maskctl; bash's /dev/tcp for HTTP).
smoke_test() {
  local image=$1 ctr
  ctr=$(bah from "$image")
  containers+=("$ctr")
  local user
  user=$(bah inspect --format '{{.OCIv1.Config.User}}' "$image")
  [ -n "$user" ] && [ "${user%%:*}" != root ] && [ "${user%%:*}" != 0 ] \
    || die "$image runs as '${user:-root}', not an unprivileged user"
  log "smoke test of $image as user $user"
  bah run --user "$user" "$ctr" -- bash -c '
    set -euo pipefail
    id
    [ "$(id -u)" != 0 ] || { echo "running as root" >&2; exit 1; }
    d=$(mktemp -d)
    maskserve --address=127.0.0.1:0 --port_file=$d/port --metrics_address=127.0.0.1:0 \
      --data_dir=$d/data >$d/log 2>&1 &
    pid=$!
    trap "kill $pid 2>/dev/null || true" EXIT
    for _ in $(seq 1 600); do
      grep -q "metrics on port" $d/log 2>/dev/null && break
      kill -0 $pid 2>/dev/null || { cat $d/log >&2; exit 1; }
      sleep 0.2
    done
    grep -q "metrics on port" $d/log || { cat $d/log >&2; echo "not ready" >&2; exit 1; }
    a=127.0.0.1:$(cat $d/port)
    mport=$(sed -n "s/.*metrics on port \([0-9]*\).*/\1/p" $d/log | head -1)
    maskctl --address=$a health
    maskctl --address=$a info | head -3
    exec 3<>/dev/tcp/127.0.0.1/$mport
    printf "GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n" >&3
    body=$(cat <&3)
    grep -q "^HTTP/1.[01] 200" <<<"$body" || { echo "/metrics: ${body:0:200}" >&2; exit 1; }
    for m in maskserve_requests_total maskserve_process_resident_memory_bytes \
             maskserve_predict_phase_seconds; do
      grep -q "^# TYPE $m " <<<"$body" || { echo "/metrics lacks $m" >&2; exit 1; }
    done
    echo "/metrics: $(grep -c "^# TYPE" <<<"$body") families"
    kill -TERM $pid; wait $pid
    grep -q "stopped" $d/log
  ' || die "smoke test of $image"
  log "smoke test of $image passed"
}

# The host's CA bundle for pip in the build (Dockerfile ARG PIP_CERT).
ca_args=()
ca_bundle=${HOST_CA_BUNDLE-/etc/ssl/certs/ca-certificates.crt}
if [ -n "$ca_bundle" ] && [ -f "$ca_bundle" ]; then
  ca_args=(--volume "$ca_bundle:/run/maskserve-build-ca.pem:ro"
           --build-arg PIP_CERT=/run/maskserve-build-ca.pem)
fi

status=0
if [ "$cpu" = 1 ]; then
  ensure_debian_base
  log "building Dockerfile -> maskserve:latest (compiles the project: long on few cores)"
  start=$(date +%s)
  bah bud --layers --build-arg MASKSERVE_JOBS="$jobs" "${ca_args[@]}" -f "$repo/Dockerfile" \
    -t localhost/maskserve:latest "$repo" 2>&1 | tee "$work/build-cpu.log" | grep --line-buffered -E 'STEP [0-9]+/|^COMMIT|^Error' >&2 \
    || true
  bah inspect --type image localhost/maskserve:latest >/dev/null 2>&1 \
    && grep -q "Successfully tagged localhost/maskserve:latest" "$work/build-cpu.log" \
    || { tail -40 "$work/build-cpu.log" >&2; die "Dockerfile did not build"; }
  log "Dockerfile built in $(( $(date +%s) - start )) s; image size: $(bah images --format '{{.Size}}' localhost/maskserve:latest)"
  [ "$smoke" = 1 ] && smoke_test localhost/maskserve:latest
fi

# --- Dockerfile.cuda ----------------------------------------------------------
missing=()
[ -n "$cuda_devel" ] || missing+=("--cuda-devel-image (NVIDIA's nvidia/cuda:*-cudnn-devel-ubuntu24.04; Docker Hub is not reachable from here, so pull or load it into buildah's storage first)")
[ -n "$cuda_runtime" ] || missing+=("--cuda-runtime-image (nvidia/cuda:*-cudnn-runtime-ubuntu24.04)")
[ -n "$libtorch" ] && [ -f "$libtorch/share/cmake/Torch/TorchConfig.cmake" ] \
  || missing+=("--libtorch (an unzipped cxx11-ABI CUDA LibTorch: lib/, include/, share/)")
if [ ${#missing[@]} -gt 0 ]; then
  log "Dockerfile.cuda NOT built; it needs:"
  printf '  - %s\n' "${missing[@]}" >&2
else
  for image in "$cuda_devel" "$cuda_runtime"; do
    bah inspect --type image "$image" >/dev/null 2>&1 || bah pull "$image" >/dev/null \
      || die "cannot find or pull $image"
  done
  log "building Dockerfile.cuda -> maskserve:cuda"
  start=$(date +%s)
  if bah bud --layers --build-arg MASKSERVE_JOBS="$jobs" "${ca_args[@]}" \
      --build-arg CUDA_DEVEL_IMAGE="$cuda_devel" --build-arg CUDA_RUNTIME_IMAGE="$cuda_runtime" \
      --build-context libtorch="$libtorch" -f "$repo/Dockerfile.cuda" \
      -t localhost/maskserve:cuda "$repo" >"$work/build-cuda.log" 2>&1; then
    log "Dockerfile.cuda built in $(( $(date +%s) - start )) s (not run: no GPU in buildah)"
  else
    tail -40 "$work/build-cuda.log" >&2
    echo "build_images: Dockerfile.cuda failed" >&2
    status=1
  fi
fi
exit $status
