# Shared plumbing of the benchmark scripts (sourced, not run): the binaries, private services,
# the devbroker, free ports, and stopping everything the script started.
# Before sourcing, set `root` (the repository) and `state` (a directory of the script's own).
# BENCH_BIN: an already-built tree to use instead of building build/release.

if [ -z "${BENCH_BIN:-}" ]; then "$root/tools/build" release >/dev/null; fi
bin=${BENCH_BIN:-$root/build/release}
mkdir -p "$state"

pids=()
# Newest first, each gone before the next: gateways leave before the devbroker they produce to,
# so their logs show a clean stop rather than a lost broker.
bench_cleanup() {
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
        kill -TERM "${pids[i]}" 2>/dev/null || true
        wait "${pids[i]}" 2>/dev/null || true
    done
    "$root/tools/local-services.sh" stop "$state" >/dev/null 2>&1 || true
}
trap bench_cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# wait_http PORT PATH: until the server answers 2xx (10 s at most).
wait_http() {
    for _ in $(seq 1 100); do
        curl -fs "http://127.0.0.1:$1$2" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "bench: nothing answers on port $1" >&2
    exit 1
}

# Private PostgreSQL and Redis; exports DATABASE_URL and REDIS_URL.
start_services() {
    "$root/tools/local-services.sh" start "$state" >/dev/null
    # shellcheck disable=SC1091
    source "$state/env"
    export DATABASE_URL REDIS_URL
}

# start_devbroker [devbroker args...]: a fresh devbroker; exports KAFKA_BROKERS.
start_devbroker() {
    rm -f "$state/bootstrap"
    "$bin/tools/devbroker/pulsestream-devbroker" --bootstrap-file "$state/bootstrap" "$@" \
        >"$state/devbroker.log" 2>&1 </dev/null &
    pids+=($!)
    devbroker_pid=$!
    # 30 s: with many partitions on a busy machine the mock cluster has taken more than 10.
    for _ in $(seq 1 300); do [ -s "$state/bootstrap" ] && break; sleep 0.1; done
    [ -s "$state/bootstrap" ] || { echo "bench: the devbroker did not start" >&2; exit 1; }
    KAFKA_BROKERS=$(cat "$state/bootstrap")
    export KAFKA_BROKERS
}

# start_gateway PORT: pulsestream-gateway on 127.0.0.1:PORT; sets gateway_pid.
start_gateway() {
    # GATEWAY_ENV: extra VAR=value words for the gateway only (e.g. GATEWAY_THREADS=1).
    env PORT="$1" HOST=127.0.0.1 LOG_LEVEL=warn ${GATEWAY_ENV:-} "$bin/src/gateway/pulsestream-gateway" \
        >"$state/gateway.log" 2>&1 &
    gateway_pid=$!
    pids+=("$gateway_pid")
    wait_http "$1" /readyz
}

machine_line() {
    echo "# $(date -u) | $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
    echo "# load: $(uptime | sed 's/.*load/load/')"
}
