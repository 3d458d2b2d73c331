#!/usr/bin/env bash
# Soak: a bounded refresh + authenticate load against release authd on each database,
# sampling authd's resident memory, open file descriptors and the error count every
# 10 s. Not a test: it prints the samples and a first/last summary per database.
#
#   scripts/soak.sh                 # 600 s per database: SQLite, PostgreSQL, MariaDB
#   SOAK_SECONDS=120 SOAK_DATABASES="sqlite postgres" scripts/soak.sh
#
# PostgreSQL and MariaDB: the local servers (127.0.0.1:5432 postgres, 127.0.0.1:3306
# root), each soak in a database of its own that is dropped afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_PER_DB="${SOAK_SECONDS:-600}"
CLIENTS="${SOAK_CLIENTS:-4}"
DATABASES="${SOAK_DATABASES:-sqlite postgres mysql}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/auth-tokens/target}"

# AUTHD_BIN: an authd binary already built (skips the build).
if [ -z "${AUTHD_BIN:-}" ]; then
    cargo build --release -p authd
fi
AUTHD="${AUTHD_BIN:-$CARGO_TARGET_DIR/release/authd}"
work=$(mktemp -d)
trap 'kill "${pid:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT
"$AUTHD" keys generate --key-file "$work/keys.json" --alg ES256 >/dev/null

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

for db in $DATABASES; do
    name="authd_soak_$$"
    case "$db" in
        sqlite) url="sqlite:$work/soak.db" ;;
        postgres)
            psql -q -h 127.0.0.1 -U postgres -d postgres -c "CREATE DATABASE $name" >/dev/null
            url="postgres://postgres@127.0.0.1:5432/$name" ;;
        mysql)
            mariadb -uroot -h127.0.0.1 -P3306 -e "CREATE DATABASE $name"
            url="mysql://root@127.0.0.1:3306/$name" ;;
        *) echo "unknown database $db" >&2; exit 2 ;;
    esac
    port=$(free_port)
    AUTHD_DATABASE_URL="$url" AUTHD_BIND="127.0.0.1:$port" AUTHD_KEY_FILE="$work/keys.json" \
    AUTHD_PBKDF2_ROUNDS=1000 AUTHD_LOGIN_PER_IP=0 AUTHD_LOGIN_PER_ACCOUNT=0 \
    AUTHD_REFRESH_PER_IP=0 AUTHD_REFRESH_PER_ACCOUNT=0 AUTHD_REGISTER_PER_IP=0 \
    AUTHD_LOG=warn "$AUTHD" serve 2>"$work/authd-$db.log" &
    pid=$!
    for _ in $(seq 1 100); do
        curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
        sleep 0.1
    done
    echo "soak $db: ${SECONDS_PER_DB}s, $CLIENTS clients, authd pid $pid"
    python3 scripts/soak_load.py "http://127.0.0.1:$port" "$pid" "$SECONDS_PER_DB" "$CLIENTS" "$db"
    kill "$pid"; wait "$pid" 2>/dev/null || true
    case "$db" in
        postgres) psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE $name" >/dev/null ;;
        mysql) mariadb -uroot -h127.0.0.1 -P3306 -e "DROP DATABASE $name" ;;
    esac
done
