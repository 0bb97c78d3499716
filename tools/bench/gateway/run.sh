#!/usr/bin/env bash
# Gateway throughput benchmark, run on purpose (never as a test). In one run, on this machine:
#   1. the trivial server (PulseStream's HTTP server answering 202 with no work),
#   2. pulsestream-gateway with single events,
#   3. pulsestream-gateway with batches of BATCH events,
# each under wrk with fresh Idempotency-Keys and deviceIds, against private PostgreSQL and
# Redis and the devbroker (librdkafka's mock cluster), all on this machine. Each run prints wrk's
# RESULT line, then the CPU time each process used per request, the server's minor page faults
# per request (and, for the gateway, the Redis memory each request added), then how the whole
# machine's CPU time was spent meanwhile.
# Usage: tools/bench/gateway/run.sh [seconds=20] [connections=64] [batch=100]
#        (env: BENCH_BIN, SLICES, BROKERS, PARTITIONS, WRK_SCRIPT)
# BENCH_BIN: an already-built tree to use instead of building build/release.
# SLICES=n (default 1): the trivial server and the single-event gateway take turns n times,
#   seconds/n each, so a machine whose speed drifts during the run weighs on both alike; a SHARE
#   line then gives each one's rate over all its slices and the gateway's share of the trivial
#   server's. Batches still run once for the full seconds.
# BROKERS=n (default 1): brokers of the devbroker. One is what docker-compose.yml deploys (a
#   single Redpanda node); with 3 the partitions' leaders are spread over three brokers and the
#   producer keeps a connection and a thread for each.
# PARTITIONS=n (default 8, as docker-compose.yml creates metrics.raw): partitions of
#   metrics.raw. librdkafka 2.0 sends one produce request per partition and batch, so at a
#   given rate fewer partitions mean fewer, larger requests (and less consumer parallelism).
# WRK_SCRIPT=file (default tools/bench/gateway/ingest.lua): another wrk script, e.g. an earlier
#   version from git, to compare load generators on the same binaries.
set -euo pipefail
root=$(cd "$(dirname "$0")/../../.." && pwd)
seconds=${1:-20}
connections=${2:-64}
batch=${3:-100}
# whole_number NAME VALUE: VALUE, or exit 2 naming NAME when it is not a whole number >= 1.
whole_number() {
    if ! [[ $2 =~ ^[1-9][0-9]*$ ]]; then
        echo "bench: $1 must be a whole number of at least 1, not '$2'" >&2
        exit 2
    fi
    echo "$2"
}
slices=$(whole_number SLICES "${SLICES:-1}")
brokers=$(whole_number BROKERS "${BROKERS:-1}")
partitions=$(whole_number PARTITIONS "${PARTITIONS:-8}")
script=${WRK_SCRIPT:-$root/tools/bench/gateway/ingest.lua}
if [ ! -r "$script" ]; then
    echo "bench: WRK_SCRIPT '$script' is not a readable file" >&2
    exit 2
fi
slice_seconds=$((seconds / slices))
if [ "$slice_seconds" -lt 1 ]; then
    echo "bench: SLICES=$slices leaves less than 1 s per slice of a ${seconds} s run" >&2
    exit 2
fi

if ! command -v wrk >/dev/null || [ ! -x /usr/bin/time ]; then
    sudo_=""; [ "$(id -u)" -ne 0 ] && sudo_=sudo
    $sudo_ apt-get install -y -qq wrk time >/dev/null
fi
state=$root/build/bench-gateway
# shellcheck source=tools/bench/common.sh
source "$root/tools/bench/common.sh"
start_services
start_devbroker --brokers "$brokers" --partitions "$partitions"

trivial_port=$(free_port)
"$bin/tools/bench/pulsestream-bench-trivial-server" "$trivial_port" >"$state/trivial.log" 2>&1 &
trivial_pid=$!
pids+=("$trivial_pid")
wait_http "$trivial_port" /
gateway_port=$(free_port)
start_gateway "$gateway_port"

# CPU time (user + system, in clock ticks) a process has used so far; 0 if it is gone.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
# Minor page faults a process has taken so far: memory it had given back and touched again.
minor_faults() { awk '{print $10}' "/proc/$1/stat" 2>/dev/null || echo 0; }
redis_pid=$(cat "$state/redis/redis.pid")
# Bytes Redis holds for its data now (INFO memory's used_memory).
redis_used_memory() { redis-cli -u "$REDIS_URL" info memory | sed -n 's/^used_memory:\([0-9]*\).*/\1/p'; }
# The machine's CPU time so far by kind: /proc/stat's "cpu" line (user nice system idle iowait
# irq softirq steal, in ticks).
machine_ticks() { head -1 /proc/stat; }
# result_field NAME LINE: the number after " NAME=" in a RESULT line.
result_field() { sed -n "s/.* $1=\([0-9.]*\).*/\1/p" <<<"$2"; }

run() {  # name port server_pid batch seconds warm-up(1|0); sets last_result
    local name=$1 port=$2 server=$3 n=$4 duration=$5 warm=$6
    if [ "$warm" = 1 ]; then
        BATCH=$n wrk -t1 -c"$connections" -d3s -s "$script" \
            "http://127.0.0.1:$port" >/dev/null  # warm-up: connections, producer, caches
    fi
    local out s0 r0 d0 m0 c0 f0 s1 r1 d1 m1 c1 f1
    s0=$(cpu_ticks "$server"); r0=$(cpu_ticks "$redis_pid"); d0=$(cpu_ticks "$devbroker_pid")
    f0=$(minor_faults "$server")
    m0=$(redis_used_memory)
    c0=$(machine_ticks)
    out=$({ /usr/bin/time -f "WRK_CPU_S %U %S" env BATCH="$n" wrk -t1 -c"$connections" \
        -d"${duration}s" -s "$script" "http://127.0.0.1:$port"; } 2>&1)
    c1=$(machine_ticks)
    s1=$(cpu_ticks "$server"); r1=$(cpu_ticks "$redis_pid"); d1=$(cpu_ticks "$devbroker_pid")
    f1=$(minor_faults "$server")
    m1=$(redis_used_memory)
    last_result=$(grep '^RESULT' <<<"$out")
    echo "$name $last_result"
    # CPU per request of each process over the measured run: what a core buys.
    awk -v tick="$(getconf CLK_TCK)" -v s=$((s1 - s0)) -v r=$((r1 - r0)) -v d=$((d1 - d0)) \
        -v req="$(result_field requests "$last_result")" \
        -v wrk="$(awk '/^WRK_CPU_S/ {print $2 + $3}' <<<"$out")" \
        'BEGIN { us = 1e6 / req / tick; printf "  cpu_us_per_request server=%.1f redis=%.1f devbroker=%.1f wrk=%.1f\n", s * us, r * us, d * us, wrk * tick * us }'
    awk -v f=$((f1 - f0)) -v req="$(result_field requests "$last_result")" \
        'BEGIN { printf "  page_faults_per_request server=%.3f\n", f / req }'
    # What an accepted request leaves in Redis: its stored 202, kept for IDEMPOTENCY_TTL_S.
    if [ "$server" = "$gateway_pid" ]; then
        awk -v m=$((m1 - m0)) -v req="$(result_field requests "$last_result")" \
            'BEGIN { printf "  redis_bytes_per_request=%.0f\n", m / req }'
    fi
    # Whether the cores were saturated (idle), and how much of their time went to softirq, mostly
    # loopback networking. A kernel without IRQ time accounting (this host's) also counts that
    # softirq time in the system time of the process it interrupted: part of the figures above.
    awk -v a="$c0" -v b="$c1" 'BEGIN {
        split(a, x); split(b, y); for (i = 2; i <= 9; i++) { d[i] = y[i] - x[i]; total += d[i] }
        if (total <= 0) exit
        printf "  machine_cpu_pct user=%.1f system=%.1f softirq=%.1f idle=%.1f steal=%.1f\n",
            100 * (d[2] + d[3]) / total, 100 * d[4] / total, 100 * (d[7] + d[8]) / total,
            100 * (d[5] + d[6]) / total, 100 * d[9] / total }'
}

# Requests and measured seconds (requests / rate) of every slice, per case, for the SHARE line.
declare -A total_requests=() total_seconds=()
add_to_totals() {  # case
    local requests rate
    requests=$(result_field requests "$last_result")
    rate=$(result_field rps "$last_result")
    total_requests[$1]=$((${total_requests[$1]:-0} + requests))
    total_seconds[$1]=$(awk -v sum="${total_seconds[$1]:-0}" -v n="$requests" -v r="$rate" \
        'BEGIN { print sum + (r > 0 ? n / r : 0) }')
}

machine_line
echo "# devbroker: $brokers broker(s), metrics.raw with $partitions partitions"
echo "# wrk script: $script ($(sha256sum "$script" | cut -c1-12))"
if [ "$slices" -eq 1 ]; then
    echo "# wrk -t1 -c$connections -d${seconds}s, gateway and trivial server with $(nproc) threads"
    run trivial "$trivial_port" "$trivial_pid" 0 "$seconds" 1
    run gateway-single "$gateway_port" "$gateway_pid" 0 "$seconds" 1
else
    echo "# wrk -t1 -c$connections, gateway and trivial server with $(nproc) threads;" \
        "trivial and single events take turns, $slices slices of ${slice_seconds}s each"
    for slice in $(seq 1 "$slices"); do
        warm=0
        [ "$slice" -eq 1 ] && warm=1
        run "trivial#$slice" "$trivial_port" "$trivial_pid" 0 "$slice_seconds" "$warm"
        add_to_totals trivial
        run "gateway-single#$slice" "$gateway_port" "$gateway_pid" 0 "$slice_seconds" "$warm"
        add_to_totals gateway-single
    done
    awk -v tn="${total_requests[trivial]}" -v ts="${total_seconds[trivial]}" \
        -v gn="${total_requests[gateway-single]}" -v gs="${total_seconds[gateway-single]}" \
        'BEGIN { t = (ts > 0) ? tn / ts : 0; g = (gs > 0) ? gn / gs : 0
                 share = (t > 0) ? 100 * g / t : 0
                 printf "SHARE trivial_rps=%.0f gateway_single_rps=%.0f share_pct=%.1f\n", t, g, share }'
fi
run "gateway-batch-$batch" "$gateway_port" "$gateway_pid" "$batch" "$seconds" 1
echo "# load after: $(uptime | sed 's/.*load/load/')"
