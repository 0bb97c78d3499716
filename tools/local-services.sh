#!/usr/bin/env bash
# Private PostgreSQL 15 + Redis 7 for the local demo, on free ports, all state in one directory.
# Never touches the system-wide instances or their ports.
#
# Usage: tools/local-services.sh start|stop|status|env [state-dir]   (default state-dir: build/local)
#   start   initialise (first time), start both servers, create database `pulsestream`,
#           apply schema.sql, write <state-dir>/env (DATABASE_URL=..., REDIS_URL=...)
#   stop    stop both servers (by pid: fast shutdown, SIGKILL after a deadline)
#   status  say what runs where; exit 0 when both run, 3 otherwise
#   env     print `export` lines:  eval "$(tools/local-services.sh env)"
# Environment: PG_BINDIR (default /usr/lib/postgresql/15/bin), REDIS_SERVER (default redis-server).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
command=${1:-}
state=${2:-$root/build/local}
pg_bindir=${PG_BINDIR:-/usr/lib/postgresql/15/bin}
redis_server=${REDIS_SERVER:-redis-server}
deadline_s=30

say() { echo "local-services: $*" >&2; }
die() { say "error: $*"; exit 1; }

usage() {
    sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
    exit 2
}

# PostgreSQL refuses to run as root: as root, run its programs as the `postgres` system user.
as_pg() {
    if [ "$(id -u)" -eq 0 ]; then
        setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"
    else
        "$@"
    fi
}

alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# A random port below the kernel's ephemeral range (so outgoing connections do not take it
# meanwhile) that nothing listens on. Binding can still lose a race: callers retry.
pick_port() {
    local port
    for _ in $(seq 1 50); do
        port=$((20000 + RANDOM % 12000))
        port_in_use "$port" || { echo "$port"; return 0; }
    done
    die "no free TCP port found on 127.0.0.1"
}

pg_pid() {
    local pidfile=$state/postgres/data/postmaster.pid
    [ -f "$pidfile" ] && head -n 1 "$pidfile" || true
}
redis_pid() { [ -f "$state/redis/redis.pid" ] && cat "$state/redis/redis.pid" || true; }

wait_gone() {
    local pid=$1 end=$((SECONDS + deadline_s))
    while alive "$pid"; do
        [ $SECONDS -lt $end ] || return 1
        sleep 0.1
    done
}

check_binaries() {
    [ -x "$pg_bindir/postgres" ] && [ -x "$pg_bindir/initdb" ] && [ -x "$pg_bindir/pg_ctl" ] ||
        die "PostgreSQL 15 not found in $pg_bindir (run tools/install-deps, or set PG_BINDIR)"
    command -v "$redis_server" >/dev/null ||
        die "redis-server not found (run tools/install-deps, or set REDIS_SERVER)"
    command -v psql >/dev/null || die "psql not found (run tools/install-deps)"
    command -v redis-cli >/dev/null || die "redis-cli not found (run tools/install-deps)"
}

pg_psql() { psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$(cat "$state/postgres/port")" -U postgres "$@"; }

start_postgres() {
    local dir=$state/postgres
    mkdir -p "$dir"
    if [ "$(id -u)" -eq 0 ]; then
        chown postgres:postgres "$dir"
        as_pg test -x "$dir" || die "user postgres cannot enter $dir: choose a state dir it can reach"
    fi
    if [ ! -f "$dir/data/PG_VERSION" ]; then
        say "initialising PostgreSQL in $dir/data"
        as_pg "$pg_bindir/initdb" -D "$dir/data" -A trust -U postgres -E UTF8 --locale=C \
            >"$dir/initdb.log" 2>&1 || die "initdb failed, see $dir/initdb.log"
    fi
    if alive "$(pg_pid)"; then
        say "PostgreSQL already running (pid $(pg_pid), port $(cat "$dir/port"))"
        return 0
    fi
    local port attempt
    for attempt in 1 2 3 4 5; do
        # Keep the previous port when it is still free, so DATABASE_URL stays the same.
        port=$(cat "$dir/port" 2>/dev/null || true)
        if [ -z "$port" ] || port_in_use "$port"; then port=$(pick_port); fi
        echo "$port" >"$dir/port"
        if as_pg "$pg_bindir/pg_ctl" start -w -t "$deadline_s" -D "$dir/data" -l "$dir/postgres.log" \
            -o "-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories='$dir'" \
            >/dev/null 2>&1; then
            say "PostgreSQL running on 127.0.0.1:$port (pid $(pg_pid), log $dir/postgres.log)"
            return 0
        fi
        rm -f "$dir/port"
        say "PostgreSQL did not start on port $port (attempt $attempt), see $dir/postgres.log"
    done
    die "PostgreSQL failed to start"
}

apply_schema() {
    if [ -z "$(pg_psql -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'pulsestream'")" ]; then
        pg_psql -d postgres -c "CREATE DATABASE pulsestream" >/dev/null
    fi
    pg_psql -d pulsestream -f "$root/schema.sql" >/dev/null || die "schema.sql failed"
    say "schema.sql applied to database pulsestream"
}

start_redis() {
    local dir=$state/redis
    mkdir -p "$dir"
    if alive "$(redis_pid)"; then
        say "Redis already running (pid $(redis_pid), port $(cat "$dir/port"))"
        return 0
    fi
    rm -f "$dir/redis.pid"
    local port attempt end
    for attempt in 1 2 3 4 5; do
        port=$(cat "$dir/port" 2>/dev/null || true)
        if [ -z "$port" ] || port_in_use "$port"; then port=$(pick_port); fi
        echo "$port" >"$dir/port"
        "$redis_server" --port "$port" --bind 127.0.0.1 --save "" --appendonly no \
            --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" --dir "$dir" \
            >/dev/null 2>&1 || true
        end=$((SECONDS + deadline_s))
        while [ $SECONDS -lt $end ]; do
            if [ "$(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null)" = "PONG" ]; then
                say "Redis running on 127.0.0.1:$port (pid $(redis_pid), log $dir/redis.log)"
                return 0
            fi
            # A daemonized redis that could not bind exits at once: do not wait out the deadline.
            [ -f "$dir/redis.pid" ] && ! alive "$(redis_pid)" && break
            sleep 0.1
        done
        alive "$(redis_pid)" && kill -KILL "$(redis_pid)" 2>/dev/null || true
        rm -f "$dir/port" "$dir/redis.pid"
        say "Redis did not start on port $port (attempt $attempt), see $dir/redis.log"
    done
    die "Redis failed to start"
}

write_env() {
    local pg_port redis_port
    pg_port=$(cat "$state/postgres/port")
    redis_port=$(cat "$state/redis/port")
    cat >"$state/env" <<EOF
DATABASE_URL=postgresql://postgres@127.0.0.1:$pg_port/pulsestream
REDIS_URL=redis://127.0.0.1:$redis_port
EOF
    say "wrote $state/env"
}

stop_one() {
    local name=$1 pid=$2 sig=$3
    if ! alive "$pid"; then
        say "$name not running"
        return 0
    fi
    kill "-$sig" "$pid" 2>/dev/null || true
    if ! wait_gone "$pid"; then
        say "$name (pid $pid) still running after ${deadline_s}s: SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        wait_gone "$pid" || die "$name (pid $pid) survived SIGKILL"
    fi
    say "$name stopped (pid $pid)"
}

cmd_start() {
    check_binaries
    mkdir -p "$state"
    state=$(cd "$state" && pwd)
    start_postgres
    apply_schema
    start_redis
    write_env
    cat "$state/env"
}

cmd_stop() {
    [ -d "$state" ] || { say "nothing to stop: $state does not exist"; return 0; }
    stop_one PostgreSQL "$(pg_pid)" INT   # SIGINT: fast shutdown
    stop_one Redis "$(redis_pid)" TERM
    rm -f "$state/redis/redis.pid"
}

cmd_status() {
    local rc=0 pid
    pid=$(pg_pid)
    if alive "$pid"; then
        say "PostgreSQL running: pid $pid, 127.0.0.1:$(cat "$state/postgres/port")"
    else
        say "PostgreSQL stopped"; rc=3
    fi
    pid=$(redis_pid)
    if alive "$pid"; then
        say "Redis running: pid $pid, 127.0.0.1:$(cat "$state/redis/port")"
    else
        say "Redis stopped"; rc=3
    fi
    return $rc
}

cmd_env() {
    [ -f "$state/env" ] || die "$state/env missing: run '$0 start $state' first"
    sed 's/^/export /' "$state/env"
}

case "$command" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    env) cmd_env ;;
    *) usage ;;
esac
