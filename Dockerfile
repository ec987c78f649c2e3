# maskserve runtime image (CPU). Multi-stage: build with the -dev packages,
# run with only the shared libraries, as a non-root user.
#   docker build -t maskserve .
#   docker run -p 50051:50051 -v maskserve-data:/var/lib/maskserve maskserve
FROM debian:12 AS build
WORKDIR /src
COPY scripts/setup.sh scripts/setup.sh
RUN ./scripts/setup.sh
COPY . .
RUN cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DMASKSERVE_BUILD_TESTS=OFF \
      -DMASKSERVE_BUILD_BENCHMARKS=OFF \
 && cmake --build build -j"$(nproc)" \
 && install -D build/server/maskserve /out/usr/local/bin/maskserve \
 && install -D build/clients/maskctl/maskctl /out/usr/local/bin/maskctl

FROM debian:12 AS runtime
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libtorch1.13 libgrpc++1.51 libprotobuf32 librocksdb7.8 libcivetweb1 \
      libabsl20220623 libopenblas0-pthread ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /var/lib/maskserve --create-home maskserve
COPY --from=build /out/ /
USER maskserve
VOLUME /var/lib/maskserve
ENV MASKSERVE_ADDRESS=0.0.0.0:50051 \
    MASKSERVE_DATA_DIR=/var/lib/maskserve
EXPOSE 50051
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["maskctl", "--address=127.0.0.1:50051", "--timeout_seconds=4", "health"]
ENTRYPOINT ["maskserve"]
