#!/bin/bash
# Entrypoint of the locally built MariaDB test image (scripts/test-containers.sh).
# It honours the official `mariadb` image's settings, each under its MARIADB_* name or
# its MYSQL_* alias: ROOT_PASSWORD, ALLOW_EMPTY_ROOT_PASSWORD, DATABASE, USER, PASSWORD,
# plus /docker-entrypoint-initdb.d/*.sql|*.sh. Like the official image it initialises
# through a temporary server without networking, then runs mariadbd in the foreground;
# mariadbd's own "mariadbd: ready for connections." and "port: 3306" lines on stderr
# are what testcontainers-modules' Mariadb waits for. Name resolution is off: a reverse
# DNS lookup per login (seconds each inside a container) would dominate the tests.
set -euo pipefail

# The MARIADB_ name, else its MYSQL_ alias, else the default given.
setting() {
    local mariadb="MARIADB_$1" mysql="MYSQL_$1"
    printf '%s' "${!mariadb:-${!mysql:-${2:-}}}"
}

if [ $# -eq 0 ] || [ "${1#-}" != "$1" ]; then
    set -- mariadbd "$@"
fi
if [ "$1" != mariadbd ] && [ "$1" != mysqld ]; then
    exec "$@"
fi
shift

datadir=/var/lib/mysql
socket=/run/mysqld/mysqld.sock
mkdir -p "$datadir" /run/mysqld
chown mysql:mysql "$datadir" /run/mysqld

if [ ! -d "$datadir/mysql" ]; then
    root_password=$(setting ROOT_PASSWORD)
    allow_empty=$(setting ALLOW_EMPTY_ROOT_PASSWORD)
    if [ -z "$root_password" ] && [ -z "$allow_empty" ]; then
        echo "error: set MARIADB_ROOT_PASSWORD, or MARIADB_ALLOW_EMPTY_ROOT_PASSWORD=1" >&2
        exit 1
    fi
    echo "initialising the database in $datadir"
    mariadb-install-db --user=mysql --datadir="$datadir" --skip-test-db \
        --auth-root-authentication-method=normal --skip-name-resolve >/dev/null

    mariadbd --user=mysql --datadir="$datadir" --skip-networking --skip-name-resolve \
        --socket="$socket" &
    temporary=$!
    for _ in $(seq 1 60); do
        if mariadb-admin --socket="$socket" -uroot ping >/dev/null 2>&1; then break; fi
        sleep 0.5
    done
    sql() { mariadb --protocol=socket --socket="$socket" -uroot "$@"; }

    quoted_root=${root_password//\'/\'\'}
    database=$(setting DATABASE)
    user=$(setting USER)
    password=$(setting PASSWORD)
    {
        echo "SET sql_log_bin = 0;"
        echo "CREATE USER 'root'@'%' IDENTIFIED BY '$quoted_root';"
        echo "GRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION;"
        echo "ALTER USER 'root'@'localhost' IDENTIFIED BY '$quoted_root';"
        if [ -n "$database" ]; then
            echo "CREATE DATABASE IF NOT EXISTS \`${database//\`/\`\`}\`;"
        fi
        if [ -n "$user" ]; then
            echo "CREATE USER '${user//\'/\'\'}'@'%' IDENTIFIED BY '${password//\'/\'\'}';"
            if [ -n "$database" ]; then
                echo "GRANT ALL ON \`${database//\`/\`\`}\`.* TO '${user//\'/\'\'}'@'%';"
            fi
        fi
    } | sql
    for f in /docker-entrypoint-initdb.d/*; do
        case "$f" in
        *.sh) echo "running $f" && . "$f" ;;
        *.sql) echo "running $f" && sql --password="$root_password" ${database:+"$database"} <"$f" ;;
        *) ;;
        esac
    done
    mariadb-admin --socket="$socket" -uroot --password="$root_password" shutdown
    wait "$temporary" || true
    echo "MariaDB init process done. Ready for start up."
fi

exec mariadbd --user=mysql --datadir="$datadir" --skip-name-resolve \
    --bind-address=0.0.0.0 --port=3306 --socket="$socket" "$@"
