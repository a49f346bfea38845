#!/usr/bin/env bash
# Make sure the PostgreSQL and Redis that the test suite uses are reachable.
#
#   scripts/services.sh            # both
#   scripts/services.sh postgres   # only one of them
#
# Reads DATABASE_URL and REDIS_URL (defaults: postgres://postgres@127.0.0.1:5432/agenwork and
# redis://127.0.0.1:6379/0). A server that answers is left alone. A local server (127.0.0.1 /
# localhost) that is installed but stopped is started. A server that is not installed, or a remote
# one that does not answer, is reported in one line, and the script exits 1.
set -uo pipefail

DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/agenwork}"
REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379/0}"
WAIT_SECONDS="${SERVICES_WAIT_SECONDS:-30}"

say() { echo "services: $*" >&2; }

# host_port URL DEFAULT_PORT -> "host port" (userinfo, path and query dropped)
host_port() {
    local rest="${1#*://}"
    rest="${rest%%/*}"
    rest="${rest%%\?*}"
    rest="${rest##*@}"
    local host="${rest%:*}" port="${rest##*:}"
    if [ "$host" = "$rest" ] || [ -z "$port" ]; then
        host="$rest" port="$2"
    fi
    host="${host#[}" host="${host%]}"
    echo "${host:-127.0.0.1} $port"
}

is_local() { case "$1" in 127.* | localhost | ::1) return 0 ;; *) return 1 ;; esac; }

# tcp_open HOST PORT: something listens there (bash's /dev/tcp, no client tools needed)
tcp_open() { timeout 3 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null; }

postgres_ready() {
    if command -v pg_isready >/dev/null; then
        pg_isready -q -h "$1" -p "$2" -t 3
    else
        tcp_open "$1" "$2"
    fi
}

redis_ready() {
    if command -v redis-cli >/dev/null; then
        [ "$(timeout 3 redis-cli -h "$1" -p "$2" ping 2>/dev/null)" = "PONG" ]
    else
        tcp_open "$1" "$2"
    fi
}

# wait_for CHECK HOST PORT: poll until CHECK succeeds or WAIT_SECONDS pass
wait_for() {
    local i
    for ((i = 0; i < WAIT_SECONDS * 2; i++)); do
        "$1" "$2" "$3" && return 0
        sleep 0.5
    done
    return 1
}

ensure_postgres() {
    local host port
    read -r host port < <(host_port "$DATABASE_URL" 5432)
    postgres_ready "$host" "$port" && return 0
    if ! is_local "$host"; then
        say "PostgreSQL at $host:$port does not answer (DATABASE_URL); start it or fix the URL"
        return 1
    fi
    local clusters=()
    if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
        local dir
        for dir in /etc/postgresql/*/main; do
            [ -d "$dir" ] && clusters+=("$(basename "$(dirname "$dir")")")
        done
    fi
    if [ ${#clusters[@]} -eq 0 ]; then
        say "PostgreSQL is not installed: apt-get install postgresql (or set DATABASE_URL to a running server)"
        return 1
    fi
    local version
    for version in "${clusters[@]}"; do
        say "starting PostgreSQL $version (cluster main)"
        pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>&1 | sed 's/^/services: /' >&2
    done
    if ! wait_for postgres_ready "$host" "$port"; then
        say "PostgreSQL $host:$port still does not answer after ${WAIT_SECONDS}s (see /var/log/postgresql/)"
        return 1
    fi
}

ensure_redis() {
    local host port
    read -r host port < <(host_port "$REDIS_URL" 6379)
    redis_ready "$host" "$port" && return 0
    if ! is_local "$host"; then
        say "Redis at $host:$port does not answer (REDIS_URL); start it or fix the URL"
        return 1
    fi
    if ! command -v redis-server >/dev/null; then
        say "Redis is not installed: apt-get install redis-server (or set REDIS_URL to a running server)"
        return 1
    fi
    say "starting Redis on 127.0.0.1:$port"
    local args=(--daemonize yes --bind 127.0.0.1 --port "$port" --save "" --appendonly no)
    # Debian's package owns these folders; elsewhere redis writes next to where it was started.
    [ -d /var/lib/redis ] && [ -w /var/lib/redis ] && args+=(--dir /var/lib/redis)
    [ -d /var/log/redis ] && [ -w /var/log/redis ] && args+=(--logfile /var/log/redis/agenwork-test.log)
    redis-server "${args[@]}" >&2
    if ! wait_for redis_ready "$host" "$port"; then
        say "Redis $host:$port still does not answer after ${WAIT_SECONDS}s"
        return 1
    fi
}

main() {
    local wanted=("$@") status=0 name
    [ ${#wanted[@]} -eq 0 ] && wanted=(postgres redis)
    for name in "${wanted[@]}"; do
        case "$name" in
            postgres) ensure_postgres || status=1 ;;
            redis) ensure_redis || status=1 ;;
            *) say "unknown service '$name' (postgres, redis)"; status=2 ;;
        esac
    done
    return "$status"
}

main "$@"
