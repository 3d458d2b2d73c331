#!/usr/bin/env bash
# CI, second pass: the PostgreSQL and MySQL/MariaDB suites again, each server in a
# container that the test harness starts itself (AUTH_TEST_DATABASES=containers), on
# every server version of the matrix: PostgreSQL 15 and 18, MariaDB 10.11. The images
# are built locally by scripts/test-containers.sh (no registry is reachable here),
# which also installs and starts the Docker engine; if it cannot, this step fails.
# Afterwards no container of the tests may be left running: the harness removes its
# own when each test process exits, and a leftover is a failure (then swept by label).
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/auth-tokens/target}"
export CARGO_TERM_COLOR=never
label=org.auth-tokens.test-database

leftovers() { docker ps -aq --filter "label=$label"; }
sweep() {
    local ids
    ids=$(leftovers 2>/dev/null) || return 0
    if [ -n "$ids" ]; then
        # shellcheck disable=SC2086 # one id per word
        docker rm -f -v $ids >/dev/null
    fi
}

# A dockerd this step starts is stopped again at its end.
engine_was_running=false
if docker info >/dev/null 2>&1; then engine_was_running=true; fi
finish() {
    sweep
    if [ "$engine_was_running" = false ] && [ -s /var/run/docker.pid ]; then
        kill "$(cat /var/run/docker.pid)" 2>/dev/null || true
    fi
}
trap finish EXIT

started=$SECONDS
# Fails this step (set -e) if the engine cannot start or an image cannot be built.
images=$(bash scripts/test-containers.sh)
echo "containers: engine and images ready in $((SECONDS - started)) s: ${images//$'\n'/ }"
prefix=${AUTH_TEST_IMAGE_PREFIX:-auth-tokens-test}
sweep

export AUTH_TEST_DATABASES=containers
# Published ports are reached on loopback (dockerd runs on this machine).
export AUTH_TEST_CONTAINER_HOST=127.0.0.1
unset AUTH_TEST_POSTGRES_URL AUTH_TEST_MYSQL_URL

# The conformance suite, the migration tests and the store-level contract tests
# (rotation races, and the shared store scenarios wherever a crate has them).
suites="conformance migrations rotation store store_contract contract"

# "<crate> <suite> <executable>" of each test binary `cargo test --workspace` built
# before this step: asking for the same workspace-wide build finds them without a
# rebuild (a `-p CRATE` build would unify features differently and rebuild).
cargo test --workspace --locked --no-run --message-format=json |
    python3 -c '
import json, pathlib, sys
for line in sys.stdin:
    try:
        message = json.loads(line)
    except ValueError:
        continue
    if message.get("reason") == "compiler-artifact" and message.get("executable") \
            and message["target"]["kind"] == ["test"]:
        crate = pathlib.Path(message["manifest_path"]).parent.name
        print(crate, message["target"]["name"], message["executable"])
' >"${TMPDIR:-/tmp}/auth-tokens-test-binaries"

# Runs the suites of crate $1 with the image variable $2 set to image $3 ($4 is the
# server binary that reports the image's version).
run_suites() {
    local crate=$1 variable=$2 image=$3 version crate_of suite executable t0 ran=0
    version=$(docker run --rm --entrypoint "$4" "$image" --version)
    echo "containers: $crate on $image ($version)"
    while read -r crate_of suite executable; do
        if [ "$crate_of" != "$crate" ] || [[ " $suites " != *" $suite "* ]]; then
            continue
        fi
        if [ ! -x "$executable" ]; then
            echo "containers: error: $executable is gone (deleted after the build?)" >&2
            exit 1
        fi
        t0=$SECONDS
        (cd "crates/$crate" && env "$variable=$image" "$executable")
        echo "containers: $crate $suite on $image: $((SECONDS - t0)) s"
        ran=$((ran + 1))
    done <"${TMPDIR:-/tmp}/auth-tokens-test-binaries"
    if [ "$ran" -lt 3 ]; then
        echo "containers: error: only $ran suites of $crate found" >&2
        exit 1
    fi
}

run_suites auth-postgres AUTH_TEST_POSTGRES_IMAGE "$prefix/postgres:15" postgres
run_suites auth-postgres AUTH_TEST_POSTGRES_IMAGE "$prefix/postgres:18" postgres
run_suites auth-mysql AUTH_TEST_MYSQL_IMAGE "$prefix/mariadb:10.11" mariadbd

left=$(leftovers)
if [ -n "$left" ]; then
    echo "containers: error: the test processes left containers behind:" >&2
    docker ps -a --filter "label=$label" >&2
    exit 1
fi
echo "containers: all suites passed in $((SECONDS - started)) s; no container left"
