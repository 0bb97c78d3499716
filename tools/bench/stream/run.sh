#!/usr/bin/env bash
# Live-stream fan-out benchmark, run on purpose (never as a test). In one run, on this machine:
#   1. IDLE WebSocket clients of one tenant held open: the gateway's resident memory per
#      connection (VmRSS before and after);
#   2. CLIENTS clients while events are posted at RATE events/s for SECONDS: delivered frames/s and
#      the delay from each request's 202 to each frame (p50/p90/p99/max).
# Against pulsestream-gateway (release) with private PostgreSQL and Redis and the devbroker
# (librdkafka's mock cluster), clients and poster in pulsestream-bench-stream, all on this machine.
# Usage: tools/bench/stream/run.sh [clients=1000] [rate=100] [seconds=20] [idle=10000] [batch=1]
# BENCH_BIN: an already-built tree to use instead of building build/release.
set -euo pipefail
root=$(cd "$(dirname "$0")/../../.." && pwd)
clients=${1:-1000}
rate=${2:-100}
seconds=${3:-20}
idle=${4:-10000}
batch=${5:-1}

state=$root/build/bench-stream
# Every WebSocket is a file descriptor on both sides.
ulimit -n "$(ulimit -Hn)"
# shellcheck source=tools/bench/common.sh
source "$root/tools/bench/common.sh"
start_services
start_devbroker
gateway_port=$(free_port)
start_gateway "$gateway_port"

bench=$bin/tools/bench/pulsestream-bench-stream
machine_line
echo "# gateway with $(nproc) threads; clients on one thread of pulsestream-bench-stream"
"$bench" idle --port "$gateway_port" --clients "$idle" --gateway-pid "$gateway_pid"
"$bench" fanout --port "$gateway_port" --clients "$clients" --rate "$rate" --seconds "$seconds" --batch "$batch"
