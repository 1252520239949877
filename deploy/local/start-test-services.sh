#!/usr/bin/env bash
# Install (when missing) and start the servers the test suite uses: PostgreSQL, Redis, Mosquitto,
# plus Chromium and its driver for the browser tests. Safe to run again while they are running.
# Debian only; run as root or with sudo available.
set -euo pipefail

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

install_missing() {
    local wanted=() command package
    for pair in "$@"; do
        command=${pair%%:*} package=${pair#*:}
        command -v "$command" >/dev/null 2>&1 || wanted+=("$package")
    done
    if [ ${#wanted[@]} -gt 0 ]; then
        echo "installing: ${wanted[*]}"
        as_root apt-get update -qq
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${wanted[@]}" >/dev/null
    fi
}

port_open() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

wait_for_port() {
    local name=$1 port=$2
    for _ in $(seq 1 60); do
        port_open "$port" && return 0
        sleep 0.5
    done
    echo "$name did not open port $port" >&2
    return 1
}

install_missing redis-server:redis-server mosquitto:mosquitto pg_ctlcluster:postgresql \
    chromium:chromium chromedriver:chromium-driver

# PostgreSQL: the first cluster Debian made (15/main on bookworm), or a new one where there is none.
if [ -z "$(pg_lsclusters --no-header)" ]; then
    as_root pg_createcluster "$(ls /usr/lib/postgresql | sort -V | tail -n 1)" main
fi
read -r pg_version pg_cluster pg_port _ < <(pg_lsclusters --no-header | head -n 1)
if ! port_open "$pg_port"; then
    as_root pg_ctlcluster "$pg_version" "$pg_cluster" start
fi
wait_for_port PostgreSQL "$pg_port"
# The password role access.settings.test logs in with: Debian's pg_hba.conf asks for scram on 127.0.0.1.
# CREATEDB lets pytest-django create and drop its test database.
as_root runuser -u postgres -- psql --quiet --port "$pg_port" -v ON_ERROR_STOP=1 <<'SQL'
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'facegate') THEN
        CREATE ROLE facegate LOGIN CREATEDB PASSWORD 'facegate';
    END IF;
END
$$;
SQL

# Redis and Mosquitto are started directly rather than through their init scripts, which assume systemd's
# run directories and resource limits that containers lack. Test data needs no persistence.
if ! port_open 6379; then
    as_root runuser -u redis -- redis-server --daemonize yes --bind 127.0.0.1 --port 6379 \
        --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/redis-server.log
fi
wait_for_port Redis 6379

# Without a config file Mosquitto listens on the loopback only, port 1883, and drops root for its own user.
port_open 1883 || as_root mosquitto -d
wait_for_port Mosquitto 1883

echo "services up: PostgreSQL $pg_version on :$pg_port, Redis on :6379, Mosquitto on :1883"
