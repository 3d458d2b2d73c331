#!/usr/bin/env bash
# Browser suite: authd's /account page in real Chromium (Debian's /usr/bin/chromium,
# driven by the pinned playwright-core, which downloads no browser). Starts authd on a
# free port on SQLite with issuer http://localhost:$PORT (Chromium treats
# http://localhost as a secure context, so the Secure __Host- cookies work over http),
# registers a user with curl and runs node's test runner; any failure fails the script
# and prints authd's log tail.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/auth-tokens/target}"
CHROMIUM=/usr/bin/chromium

log() { echo "browser: $*"; }

# --- Chromium, node and playwright-core ------------------------------------------
if [ ! -x "$CHROMIUM" ]; then
    log "installing chromium from Debian"
    apt-get update -qq && apt-get install -y -qq chromium >/dev/null
fi
if ! command -v npm >/dev/null || ! command -v curl >/dev/null; then
    apt-get update -qq && apt-get install -y -qq nodejs npm curl >/dev/null
fi
lock_hash=$(sha256sum interop/browser/package-lock.json | cut -c1-16)
if [ "$(cat interop/browser/node_modules/.browser-lock 2>/dev/null)" != "$lock_hash" ]; then
    log "npm ci"
    (cd interop/browser && npm ci --no-audit --no-fund --prefer-offline --loglevel=error)
    echo "$lock_hash" > interop/browser/node_modules/.browser-lock
fi

# --- authd -------------------------------------------------------------------------
cargo build --locked --quiet -p authd --bin authd
AUTHD="$CARGO_TARGET_DIR/debug/authd"

WORK=$(mktemp -d)
AUTHD_PID=
cleanup() {
    if [ -n "$AUTHD_PID" ]; then kill "$AUTHD_PID" 2>/dev/null || true; wait "$AUTHD_PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export AUTHD_URL="http://localhost:$PORT"
export BROWSER_EMAIL=browser@example.com
export BROWSER_PASSWORD="correct horse battery staple"
export CHROMIUM

cat > "$WORK/authd.toml" <<TOML
bind = "127.0.0.1:$PORT"
issuer = "$AUTHD_URL"
audience = "authd"
database_url = "sqlite:$WORK/authd.db"
pbkdf2_rounds = 1000
login_per_ip = 0
login_per_account = 0
refresh_per_ip = 0
refresh_per_account = 0
register_per_ip = 0
cleanup_interval = "off"
TOML

(cd "$WORK" && exec "$AUTHD" --config "$WORK/authd.toml" >"$WORK/authd.log" 2>&1) &
AUTHD_PID=$!
up=false
for _ in $(seq 1 100); do
    if curl -s -o /dev/null "http://127.0.0.1:$PORT/healthz"; then up=true; break; fi
    kill -0 "$AUTHD_PID" 2>/dev/null || break
    sleep 0.1
done
if [ "$up" != true ]; then log "authd did not start"; cat "$WORK/authd.log"; exit 1; fi
curl -sf -o /dev/null -X POST "http://127.0.0.1:$PORT/v1/auth/register" \
    -H 'Content-Type: application/json' \
    -d "{\"email\": \"$BROWSER_EMAIL\", \"password\": \"$BROWSER_PASSWORD\"}"
log "authd at $AUTHD_URL; playwright-core $(cd interop/browser && node -p 'require("./package.json").dependencies["playwright-core"]'), $("$CHROMIUM" --version 2>/dev/null | tail -1)"

status=0
(cd interop/browser && node --test test/account.test.mjs) || status=1
if [ "$status" != 0 ]; then
    log "FAILED; authd log:"
    tail -50 "$WORK/authd.log"
fi
exit "$status"
