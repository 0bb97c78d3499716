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

command -v wrk >/dev/null || { sudo_=""; [ "$(id -u)" -ne 0 ] && sudo_=sudo; $sudo_ apt-get install -y -qq wrk >/dev/null; }
state=$root/build/bench-gateway
# shellcheck source=tools/bench/common.sh
source "$root/tools/bench/common.sh"
start_services
start_devbroker

trivial_port=$(free_port)
"$bin/tools/bench/pulsestream-bench-trivial-server" "$trivial_port" >"$state/trivial.log" 2>&1 &
pids+=($!)
wait_http "$trivial_port" /
gateway_port=$(free_port)
start_gateway "$gateway_port"

run() {  # name port batch
    local name=$1 port=$2 n=$3
    BATCH=$n wrk -t1 -c"$connections" -d3s -s "$root/tools/bench/gateway/ingest.lua" \
        "http://127.0.0.1:$port" >/dev/null  # warm-up: connections, producer, caches
    local out
    out=$(BATCH=$n wrk -t1 -c"$connections" -d"${seconds}s" -s "$root/tools/bench/gateway/ingest.lua" \
        "http://127.0.0.1:$port" | grep '^RESULT')
    echo "$name $out"
}

machine_line
echo "# wrk -t1 -c$connections -d${seconds}s, gateway and trivial server with $(nproc) threads"
run trivial "$trivial_port" 0
run gateway-single "$gateway_port" 0
run "gateway-batch-$batch" "$gateway_port" "$batch"
echo "# load after: $(uptime | sed 's/.*load/load/')"
