#!/usr/bin/env bash
# Gateway throughput benchmark, run on purpose (never as a test). In one run, on this machine:
#   1. the trivial server (PulseStream's HTTP server answering 202 with no work),
#   2. pulsestream-gateway with single events,
#   3. pulsestream-gateway with batches of BATCH events,
# each under wrk with fresh Idempotency-Keys and deviceIds, against private PostgreSQL and
# Redis and the devbroker (librdkafka's mock cluster), all on this machine.
# Usage: tools/bench/gateway/run.sh [seconds=20] [connections=64] [batch=100]   (env: BENCH_BIN)
# BENCH_BIN: an already-built tree to use instead of building build/release.
set -euo pipefail
root=$(cd "$(dirname "$0")/../../.." && pwd)
seconds=${1:-20}
connections=${2:-64}
batch=${3:-100}

if [ -z "${BENCH_BIN:-}" ]; then "$root/tools/build" release >/dev/null; fi
command -v wrk >/dev/null || { sudo_="" ; [ "$(id -u)" -ne 0 ] && sudo_=sudo; $sudo_ apt-get install -y -qq wrk >/dev/null; }
bin=${BENCH_BIN:-$root/build/release}
state=$root/build/bench-gateway
mkdir -p "$state"

pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    "$root/tools/local-services.sh" stop "$state" >/dev/null 2>&1 || true
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() {
    for _ in $(seq 1 100); do
        curl -fs "http://127.0.0.1:$1$2" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "bench: nothing answers on port $1" >&2; exit 1
}

"$root/tools/local-services.sh" start "$state" >/dev/null
# shellcheck disable=SC1091
source "$state/env"
rm -f "$state/bootstrap"
"$bin/tools/devbroker/pulsestream-devbroker" --bootstrap-file "$state/bootstrap" \
    >"$state/devbroker.log" 2>&1 </dev/null &
pids+=($!)
for _ in $(seq 1 100); do [ -s "$state/bootstrap" ] && break; sleep 0.1; done

trivial_port=$(free_port)
"$bin/tools/bench/pulsestream-bench-trivial-server" "$trivial_port" >"$state/trivial.log" 2>&1 &
pids+=($!)
gateway_port=$(free_port)
PORT=$gateway_port HOST=127.0.0.1 DATABASE_URL=$DATABASE_URL REDIS_URL=$REDIS_URL \
    KAFKA_BROKERS=$(cat "$state/bootstrap") LOG_LEVEL=warn \
    "$bin/src/gateway/pulsestream-gateway" >"$state/gateway.log" 2>&1 &
pids+=($!)
wait_http "$trivial_port" /
wait_http "$gateway_port" /readyz

run() {  # name port batch
    local name=$1 port=$2 n=$3
    BATCH=$n wrk -t1 -c"$connections" -d3s -s "$root/tools/bench/gateway/ingest.lua" \
        "http://127.0.0.1:$port" >/dev/null  # warm-up: connections, producer, caches
    local out
    out=$(BATCH=$n wrk -t1 -c"$connections" -d"${seconds}s" -s "$root/tools/bench/gateway/ingest.lua" \
        "http://127.0.0.1:$port" | grep '^RESULT')
    echo "$name $out"
}

echo "# $(date -u) | $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "# load before: $(uptime | sed 's/.*load/load/')"
echo "# wrk -t1 -c$connections -d${seconds}s, gateway and trivial server with $(nproc) threads"
run trivial "$trivial_port" 0
run gateway-single "$gateway_port" 0
run "gateway-batch-$batch" "$gateway_port" "$batch"
echo "# load after: $(uptime | sed 's/.*load/load/')"
