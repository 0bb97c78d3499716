# syntax=docker/dockerfile:1
# One image for every PulseStream program: pulsestream-gateway (the default command),
# pulsestream-consumer, pulsestream-simulator, pulsestream-keys and pulsestream-dlq.
#
#   docker build -t pulsestream .
#   docker run --rm pulsestream pulsestream-keys --help
#
# tools/check-deploy keeps this file honest: the build stage installs the packages of
# tools/install-deps (less the test-only ones it names), and the runtime stage installs a Debian
# package for every shared library the binaries load (checked with readelf/ldd + dpkg -S).

FROM debian:bookworm AS build
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
        build-essential cmake pkg-config git ca-certificates \
        libboost1.81-dev libboost-system1.81-dev \
        librdkafka-dev libhiredis-dev libpqxx-dev libpq-dev nlohmann-json3-dev \
        prometheus-cpp-dev libspdlog-dev libfmt-dev libcli11-dev zlib1g-dev \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY CMakeLists.txt CMakePresets.json ./
COPY cmake/ cmake/
COPY include/ include/
COPY src/ src/
COPY tools/ tools/
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=Release -DPULSESTREAM_BUILD_TESTS=OFF \
 && cmake --build /build -j"$(nproc)" --target \
        pulsestream-gateway pulsestream-consumer pulsestream-simulator \
        pulsestream-keys pulsestream-dlq \
 && mkdir -p /out/bin \
 && for program in pulsestream-gateway pulsestream-consumer pulsestream-simulator \
                   pulsestream-keys pulsestream-dlq; do \
        install -s -m 0755 "$(find /build -type f -name "$program" -perm -u+x | head -n 1)" /out/bin/; \
    done

FROM debian:bookworm AS runtime
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
        libstdc++6 zlib1g libfmt9 libspdlog1.10 librdkafka1 libhiredis0.14 libpqxx-6.4 libpq5 \
        libprometheus-cpp-core1.0 ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 pulsestream \
 && useradd --system --uid 10001 --gid pulsestream --home-dir /nonexistent \
        --no-create-home --shell /usr/sbin/nologin pulsestream

COPY --from=build /out/bin/ /usr/local/bin/
COPY schema.sql /usr/share/pulsestream/schema.sql
COPY --chmod=0755 deploy/docker/healthcheck.sh /usr/local/bin/pulsestream-healthcheck

USER pulsestream:pulsestream
EXPOSE 3000 3001
# Liveness of whichever daemon runs here (gateway on $PORT, consumer on $CONSUMER_PORT); a
# container running a one-shot tool reports healthy.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["pulsestream-healthcheck"]
CMD ["pulsestream-gateway"]
