#!/usr/bin/env bash
# A throwaway PostgreSQL server on 127.0.0.1 for the PostgresStore tests. Source it:
#   source .ci/postgres.sh   # sets ANY_AGENT_TEST_POSTGRES_URL; pg_stop_test_server stops it
# It installs the Debian postgresql package if no initdb is found (and pgvector, if the
# distribution has it, so both of the store's vector paths get tested), makes a cluster in a
# temporary directory, and runs it as an unprivileged user (created when running as root).
# On any failure it says why and leaves the variable unset: those tests then skip, saying so.

_pg_setup() {
    local bindir initdb port dir user
    initdb=$(ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1)
    if [ -z "$initdb" ] && command -v apt-get >/dev/null; then
        echo "postgres.sh: installing postgresql" >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >/dev/null 2>&1 \
            || { apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >/dev/null 2>&1; }
        initdb=$(ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1)
    fi
    if [ -z "$initdb" ]; then
        echo "postgres.sh: no PostgreSQL binaries (initdb); the PostgreSQL tests will skip" >&2
        return 1
    fi
    bindir=$(dirname "$initdb")
    local major
    major=$(basename "$(dirname "$bindir")")
    if [ ! -e "/usr/share/postgresql/$major/extension/vector.control" ] && command -v apt-get >/dev/null; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q "postgresql-$major-pgvector" >/dev/null 2>&1 || true
    fi
    dir=$(mktemp -d /tmp/anyagent-pg.XXXXXX)
    user=$(id -un)
    if [ "$(id -u)" = 0 ]; then
        user=anyagent-pg
        id "$user" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$user" \
            || { echo "postgres.sh: cannot create the user $user" >&2; return 1; }
        chown "$user" "$dir"
    fi
    _pg_as() { if [ "$(id -u)" = 0 ]; then su -s /bin/sh "$user" -c "$*"; else sh -c "$*"; fi; }
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    _pg_as "'$bindir/initdb' -D '$dir/data' -A trust -U postgres -E UTF8 --no-instructions" >"$dir/initdb.log" 2>&1 \
        || { echo "postgres.sh: initdb failed:" >&2; tail -n 20 "$dir/initdb.log" >&2; return 1; }
    _pg_as "'$bindir/pg_ctl' -D '$dir/data' -l '$dir/server.log' -w -t 60 start -o \"-h 127.0.0.1 -p $port -k '$dir' -c fsync=off -c max_connections=200\"" >/dev/null \
        || { echo "postgres.sh: the server did not start:" >&2; tail -n 20 "$dir/server.log" >&2; return 1; }
    "$bindir/psql" -h 127.0.0.1 -p "$port" -U postgres -q -c "CREATE DATABASE anyagent_test" >/dev/null \
        || { echo "postgres.sh: cannot create the test database" >&2; return 1; }
    ANY_AGENT_TEST_POSTGRES_URL="postgresql://postgres@127.0.0.1:$port/anyagent_test"
    export ANY_AGENT_TEST_POSTGRES_URL
    _PG_STOP="$bindir/pg_ctl -D '$dir/data' -m fast -w stop"
    _PG_USER=$user
    _PG_DIR=$dir
    echo "postgres.sh: PostgreSQL $major on 127.0.0.1:$port (data in $dir)" >&2
}

pg_stop_test_server() {
    if [ -n "${_PG_STOP:-}" ]; then
        if [ "$(id -u)" = 0 ]; then su -s /bin/sh "$_PG_USER" -c "$_PG_STOP" >/dev/null 2>&1; else sh -c "$_PG_STOP" >/dev/null 2>&1; fi
        rm -rf "$_PG_DIR"
        _PG_STOP=
    fi
}

_pg_setup || true
