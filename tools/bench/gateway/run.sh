#!/usr/bin/env bash
# Gateway throughput benchmark, run on purpose (never as a test). In one run, on this machine:
#   1. the trivial server (PulseStream's HTTP server answering 202 with no work),
#   2. pulsestream-gateway with single events,
#   3. pulsestream-gateway with batches of BATCH events,
# each under wrk with fresh Idempotency-Keys and deviceIds, against private PostgreSQL and
# Redis and the devbroker (librdkafka's mock cluster), all on this machine. Each run prints wrk's
# RESULT line, then the CPU time each process used per request.
# Usage: tools/bench/gateway/run.sh [seconds=20] [connections=64] [batch=100]   (env: BENCH_BIN)
# BENCH_BIN: an already-built tree to use instead of building build/release.
set -euo pipefail
root=$(cd "$(dirname "$0")/../../.." && pwd)
seconds=${1:-20}
connections=${2:-64}
batch=${3:-100}

if ! command -v wrk >/dev/null || [ ! -x /usr/bin/time ]; then
    sudo_=""; [ "$(id -u)" -ne 0 ] && sudo_=sudo
    $sudo_ apt-get install -y -qq wrk time >/dev/null
fi
state=$root/build/bench-gateway
# shellcheck source=tools/bench/common.sh
source "$root/tools/bench/common.sh"
start_services
start_devbroker

trivial_port=$(free_port)
"$bin/tools/bench/pulsestream-bench-trivial-server" "$trivial_port" >"$state/trivial.log" 2>&1 &
trivial_pid=$!
pids+=("$trivial_pid")
wait_http "$trivial_port" /
gateway_port=$(free_port)
start_gateway "$gateway_port"

# CPU time (user + system, in clock ticks) a process has used so far; 0 if it is gone.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
redis_pid=$(cat "$state/redis/redis.pid")

run() {  # name port server_pid batch
    local name=$1 port=$2 server=$3 n=$4
    BATCH=$n wrk -t1 -c"$connections" -d3s -s "$root/tools/bench/gateway/ingest.lua" \
        "http://127.0.0.1:$port" >/dev/null  # warm-up: connections, producer, caches
    local out s0 r0 d0 s1 r1 d1
    s0=$(cpu_ticks "$server"); r0=$(cpu_ticks "$redis_pid"); d0=$(cpu_ticks "$devbroker_pid")
    out=$({ /usr/bin/time -f "WRK_CPU_S %U %S" env BATCH="$n" wrk -t1 -c"$connections" \
        -d"${seconds}s" -s "$root/tools/bench/gateway/ingest.lua" "http://127.0.0.1:$port"; } 2>&1)
    s1=$(cpu_ticks "$server"); r1=$(cpu_ticks "$redis_pid"); d1=$(cpu_ticks "$devbroker_pid")
    echo "$name $(grep '^RESULT' <<<"$out")"
    # CPU per request of each process over the measured run: what a core buys.
    awk -v tick="$(getconf CLK_TCK)" -v s=$((s1 - s0)) -v r=$((r1 - r0)) -v d=$((d1 - d0)) \
        -v req="$(sed -n 's/^RESULT requests=\([0-9]*\).*/\1/p' <<<"$out")" \
        -v wrk="$(awk '/^WRK_CPU_S/ {print $2 + $3}' <<<"$out")" \
        'BEGIN { us = 1e6 / req / tick; printf "  cpu_us_per_request server=%.1f redis=%.1f devbroker=%.1f wrk=%.1f\n", s * us, r * us, d * us, wrk * tick * us }'
}

machine_line
echo "# wrk -t1 -c$connections -d${seconds}s, gateway and trivial server with $(nproc) threads"
run trivial "$trivial_port" "$trivial_pid" 0
run gateway-single "$gateway_port" "$gateway_pid" 0
run "gateway-batch-$batch" "$gateway_port" "$gateway_pid" "$batch"
echo "# load after: $(uptime | sed 's/.*load/load/')"
