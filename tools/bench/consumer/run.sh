#!/usr/bin/env bash
# Consumer throughput benchmark, run on purpose (never as a test). In one run, on this machine,
# for each duplicate fraction (0 and 0.2):
#   1. a fresh devbroker (librdkafka's mock cluster) with PARTITIONS partitions of metrics.raw,
#      pre-filled with EVENTS distinct valid events of 1,000 devices (plus the re-sent ids);
#   2. one pulsestream-consumer, timed from its start until its post-commit counter
#      `pulsestream_consumer_rows_inserted_total` reaches EVENTS (every row committed), then
#      checked with `SELECT count(*) FROM events`. (Polling count(*) itself four times a second
#      cost the consumer CPU: a sequential scan of up to 2,000,000 rows on the same 2 cores.)
#   3. the ceiling: `\copy events(...) FROM file` of the same EVENTS rows into the emptied table.
# PostgreSQL is private (tools/local-services.sh) with initdb's durable defaults
# (fsync=on, synchronous_commit=on); the script prints them.
# Why 64 partitions rather than 8: the mock cluster keeps only about 5 MiB per partition and
# drops the oldest records past that, so 8 partitions cannot hold 2,000,000 events; the prefill
# tool fails when any partition lost a record.
# Usage: tools/bench/consumer/run.sh [events=2000000] [partitions=64]
#   env: DEADLINE_S, BENCH_BIN, CONSUMER_ENV (extra VAR=value words for the consumer only,
#   e.g. CONSUMER_ENV="BATCH_MAX_EVENTS=20000 CONSUMER_DB_CONNECTIONS=3"), DUPLICATES (the
#   duplicate fractions to run, default "0 0.2")
set -euo pipefail
root=$(cd "$(dirname "$0")/../../.." && pwd)
events=${1:-2000000}
partitions=${2:-64}
deadline_s=${DEADLINE_S:-900}

state=$root/build/bench-consumer
# shellcheck source=tools/bench/common.sh
source "$root/tools/bench/common.sh"
trap 'bench_cleanup; rm -f "$state/rows.copy"' EXIT

now() { date +%s.%N; }
sql() { psql -X -q -tA -v ON_ERROR_STOP=1 "$DATABASE_URL" -c "$1"; }
metric() {  # name [file]: summed over label sets, from the consumer's /metrics
    awk -v n="$1" '$1 == n || index($1, n "{") == 1 { s += $2 } END { printf "%.3f", s }' \
        "${2:-$state/metrics.txt}"
}
# CPU seconds (user + system) used so far by the given processes (exited children not counted).
cpu_seconds() {
    local ticks=0 pid f
    for pid in "$@"; do
        [ -r "/proc/$pid/stat" ] || continue
        read -r -a f < <(cut -d')' -f2- "/proc/$pid/stat")
        ticks=$((ticks + f[11] + f[12]))
    done
    echo "scale=2; $ticks / $(getconf CLK_TCK)" | bc
}
pg_pids() {  # this script's PostgreSQL: the postmaster and its children (backends, WAL writer, …)
    local pm
    pm=$(head -n 1 "$state/postgres/data/postmaster.pid")
    echo "$pm"
    pgrep -P "$pm" || true
}

"$root/tools/local-services.sh" start "$state" >/dev/null
# shellcheck disable=SC1091
source "$state/env"

echo "# $(date -u) | $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "# load before: $(uptime | sed 's/.*load average/load average/')"
echo "# PostgreSQL: fsync=$(sql 'SHOW fsync') synchronous_commit=$(sql 'SHOW synchronous_commit')" \
    "wal_level=$(sql 'SHOW wal_level') shared_buffers=$(sql 'SHOW shared_buffers')"
echo "# $events distinct events, 1000 devices, $partitions partitions, consumer defaults" \
    "(BATCH_MAX_EVENTS=20000, BATCH_MAX_WAIT_MS=200, CONSUMER_DB_CONNECTIONS=2)" \
    "${CONSUMER_ENV:+plus $CONSUMER_ENV}"

scenario() {  # duplicate fraction
    local dups=$1 broker consumer port t0 t1 count sent
    sql "TRUNCATE events" >/dev/null
    start_devbroker --partitions "$partitions"
    broker=$devbroker_pid
    sent=$("$bin/tools/bench/pulsestream-bench-consumer-prefill" --brokers "$(cat "$state/bootstrap")" \
        --events "$events" --duplicates "$dups" --copy-file "$state/rows.copy" 2>"$state/prefill.log") ||
        { cat "$state/prefill.log" >&2; exit 1; }

    port=$(free_port)
    local pg_cpu0
    # shellcheck disable=SC2046
    pg_cpu0=$(cpu_seconds $(pg_pids))
    t0=$(now)
    # shellcheck disable=SC2086
    env CONSUMER_PORT="$port" HOST=127.0.0.1 DATABASE_URL="$DATABASE_URL" \
        KAFKA_BROKERS="$(cat "$state/bootstrap")" LOG_LEVEL=warn ${CONSUMER_ENV:-} \
        "$bin/src/consumer/pulsestream-consumer" >"$state/consumer.log" 2>&1 &
    consumer=$!
    pids+=("$consumer")
    local end=$((SECONDS + deadline_s)) t_first="" stored
    while :; do
        curl -fs "http://127.0.0.1:$port/metrics" >"$state/metrics.poll" 2>/dev/null || : >"$state/metrics.poll"
        stored=$(metric pulsestream_consumer_rows_inserted_total "$state/metrics.poll")
        stored=${stored%.*}
        [ -z "$t_first" ] && [ "$stored" -gt 0 ] && t_first=$(now)
        [ "$stored" -ge "$events" ] && break
        kill -0 "$consumer" 2>/dev/null || { echo "bench: consumer died" >&2; tail "$state/consumer.log" >&2; exit 1; }
        [ $SECONDS -lt $end ] || { echo "bench: only $stored of $events rows after ${deadline_s}s" >&2; exit 1; }
        sleep 0.1
    done
    t1=$(now)
    local t0_consumer=$t0 t1_consumer=$t1 c_cpu pg_cpu
    c_cpu=$(cpu_seconds "$consumer")
    # shellcheck disable=SC2046
    pg_cpu=$(echo "$(cpu_seconds $(pg_pids)) - $pg_cpu0" | bc)
    cp "$state/metrics.poll" "$state/metrics.txt"
    count=$(sql "SELECT count(*) FROM events")
    [ "$count" -eq "$events" ] || { echo "bench: the consumer reported $stored rows, events holds $count" >&2; exit 1; }
    kill -TERM "$consumer"
    wait "$consumer" || true

    local c_secs c_rate
    c_secs=$(echo "$t1 - $t0" | bc -l)
    c_rate=$(echo "$events / $c_secs" | bc -l)
    local w_sum w_cnt inserted skipped
    w_sum=$(metric pulsestream_consumer_db_write_duration_seconds_sum)
    w_cnt=$(metric pulsestream_consumer_db_write_duration_seconds_count)
    inserted=$(metric pulsestream_consumer_rows_inserted_total)
    skipped=$(metric pulsestream_consumer_duplicates_skipped_total)

    sql "TRUNCATE events" >/dev/null
    t0=$(now)
    psql -X -q -v ON_ERROR_STOP=1 "$DATABASE_URL" -c "\\copy events(id, client_id, device_id, event_type, value, event_time, metadata, received_at) FROM '$state/rows.copy'"
    t1=$(now)
    count=$(sql "SELECT count(*) FROM events")
    [ "$count" -eq "$events" ] || { echo "bench: COPY stored $count rows" >&2; exit 1; }
    local p_secs p_rate
    p_secs=$(echo "$t1 - $t0" | bc -l)
    p_rate=$(echo "$events / $p_secs" | bc -l)

    printf 'duplicates=%s records=%s rows=%s\n' "$dups" "$sent" "$events"
    printf '  consumer: %.1f s, %.0f rows/s (%.0f records/s); db writes %s batches, %.1f s in db_write (%.0f%%); inserted %.0f, duplicates skipped %.0f\n' \
        "$c_secs" "$c_rate" "$(echo "$sent / $c_secs" | bc -l)" "$w_cnt" "$w_sum" \
        "$(echo "100 * $w_sum / $c_secs" | bc -l)" "$inserted" "$skipped"
    printf '  consumer start to first committed row: %.1f s (group join, partition set-up, first batch)\n' \
        "$(echo "$t_first - ${t0_consumer}" | bc -l)"
    printf '  first committed row to last: %.1f s, %.0f rows/s; CPU: consumer %.1f s, PostgreSQL %.1f s\n' \
        "$(echo "$t1_consumer - $t_first" | bc -l)" "$(echo "$events / ($t1_consumer - $t_first)" | bc -l)" \
        "$c_cpu" "$pg_cpu"
    printf '  raw COPY: %.1f s, %.0f rows/s\n' "$p_secs" "$p_rate"
    printf '  ratio consumer/COPY: %.0f%%\n' "$(echo "100 * $c_rate / $p_rate" | bc -l)"

    kill -TERM "$broker"
    wait "$broker" || true
}

for fraction in ${DUPLICATES:-0 0.2}; do scenario "$fraction"; done
echo "# load after: $(uptime | sed 's/.*load average/load average/')"
