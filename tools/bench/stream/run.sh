#!/usr/bin/env bash
# Live-stream fan-out benchmark, run on purpose (never as a test). In one run, on this machine:
#   1. IDLE WebSocket clients of one tenant held open: the gateway's resident memory per
#      connection (VmRSS before and after);
#   2. CLIENTS clients while events are posted at RATE events/s for SECONDS: delivered frames/s and
#      the delay from each request's 202 to each frame (p50/p90/p99/max).
# Against pulsestream-gateway (release) with private PostgreSQL and Redis and the devbroker
# (librdkafka's mock cluster), clients and poster in pulsestream-bench-stream, all on this machine.
# Usage: tools/bench/stream/run.sh [clients=1000] [rate=100] [seconds=20] [idle=10000] [batch=1]
# BIN overrides the build directory (default build/release, built by tools/build release).
set -euo pipefail
root=$(cd "$(dirname "$0")/../../.." && pwd)
clients=${1:-1000}
rate=${2:-100}
seconds=${3:-20}
idle=${4:-10000}
batch=${5:-1}

if [ -z "${BIN:-}" ]; then
    "$root/tools/build" release >/dev/null
    bin=$root/build/release
else
    bin=$BIN
fi
state=$root/build/bench-stream
mkdir -p "$state"
# Every WebSocket is a file descriptor on both sides.
ulimit -n "$(ulimit -Hn)"

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

gateway_port=$(free_port)
PORT=$gateway_port HOST=127.0.0.1 DATABASE_URL=$DATABASE_URL REDIS_URL=$REDIS_URL \
    KAFKA_BROKERS=$(cat "$state/bootstrap") LOG_LEVEL=warn \
    "$bin/src/gateway/pulsestream-gateway" >"$state/gateway.log" 2>&1 &
gateway_pid=$!
pids+=("$gateway_pid")
wait_http "$gateway_port" /readyz

bench=$bin/tools/bench/pulsestream-bench-stream
echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "# gateway with $(nproc) threads; clients on one thread of pulsestream-bench-stream"
"$bench" idle --port "$gateway_port" --clients "$idle" --gateway-pid "$gateway_pid"
"$bench" fanout --port "$gateway_port" --clients "$clients" --rate "$rate" --seconds "$seconds" --batch "$batch"
