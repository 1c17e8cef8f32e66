#!/usr/bin/env bash
# A private PostgreSQL server for the tests: installed from Debian's packages if missing,
# started on its own port and data directory, stopped by `stop_private_postgres`.
#
#   source scripts/postgres.sh
#   start_private_postgres        # exports TEST_DATABASE_URL
#   ...
#   stop_private_postgres

# A port nobody listens on, unless PHIM_PG_PORT names one.
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

pg_bin_dir() {
    ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

ensure_postgres_installed() {
    if [ -z "$(pg_bin_dir)" ] || [ ! -x "$(pg_bin_dir)/pg_ctl" ]; then
        echo "installing PostgreSQL from Debian's packages"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    fi
}

# Runs a PostgreSQL program as the postgres user when we are root (the server refuses root).
as_postgres_user() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

start_private_postgres() {
    ensure_postgres_installed
    local bin
    bin="$(pg_bin_dir)"
    PHIM_PG_PORT="${PHIM_PG_PORT:-$(free_port)}"
    PHIM_PG_DATA="$(mktemp -d /tmp/phim-pg.XXXXXX)"
    export PHIM_PG_DATA
    if [ "$(id -u)" = 0 ]; then chown postgres "$PHIM_PG_DATA"; fi
    as_postgres_user "$bin/initdb" -D "$PHIM_PG_DATA" -U phim -A trust --no-sync >/dev/null
    # Test data is thrown away, so durability settings are off for speed.
    as_postgres_user "$bin/pg_ctl" -D "$PHIM_PG_DATA" -l "$PHIM_PG_DATA/server.log" -w \
        -o "-p $PHIM_PG_PORT -k $PHIM_PG_DATA -c listen_addresses=127.0.0.1 -c max_connections=400 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
        start >/dev/null
    as_postgres_user "$bin/createdb" -h 127.0.0.1 -p "$PHIM_PG_PORT" -U phim phim_test
    export TEST_DATABASE_URL="postgres://phim@127.0.0.1:$PHIM_PG_PORT/phim_test?sslmode=disable"
    echo "PostgreSQL $("$bin/postgres" --version | awk '{print $3}') running on 127.0.0.1:$PHIM_PG_PORT"
}

stop_private_postgres() {
    if [ -n "${PHIM_PG_DATA:-}" ] && [ -d "$PHIM_PG_DATA" ]; then
        as_postgres_user "$(pg_bin_dir)/pg_ctl" -D "$PHIM_PG_DATA" -m fast -w stop >/dev/null 2>&1 || true
        rm -rf "$PHIM_PG_DATA"
    fi
}
