#!/usr/bin/env bash
# Bench, not a test: GET /v1/me p99 under a flood of failing logins (shipped PBKDF2
# cost, 600,000 rounds) against the same without a flood, in one run, for authd with
# the default hashing bound (one slot per core) and with the bound lifted (64 slots,
# what authd did before load shedding). Prints one line per authd with the p99 ratio.
#
#   scripts/login-flood-bench.sh          # 15 s per phase, 8 flooding clients
#   BENCH_SECONDS=30 BENCH_FLOODERS=16 scripts/login-flood-bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_PHASE="${BENCH_SECONDS:-15}"
FLOODERS="${BENCH_FLOODERS:-8}"
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

for slots in default 64; do
    port=$(free_port)
    env_slots=()
    [ "$slots" = default ] || env_slots=(AUTHD_HASH_CONCURRENCY="$slots")
    env "${env_slots[@]}" AUTHD_DATABASE_URL="sqlite:$work/bench-$slots.db" AUTHD_BIND="127.0.0.1:$port" \
        AUTHD_KEY_FILE="$work/keys.json" AUTHD_LOGIN_PER_IP=0 AUTHD_LOGIN_PER_ACCOUNT=0 \
        AUTHD_LOG=error "$AUTHD" serve 2>"$work/authd-$slots.log" &
    pid=$!
    for _ in $(seq 1 100); do
        curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
        sleep 0.1
    done
    python3 scripts/login_flood.py "http://127.0.0.1:$port" "hash-slots-$slots" "$SECONDS_PER_PHASE" "$FLOODERS"
    kill "$pid"; wait "$pid" 2>/dev/null || true
done
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
