#!/usr/bin/env bash
# Interoperability suite: authd driven by pinned third-party clients (PyPI and npm),
# plus auth-axum's example resource server following the revocation feed.
# Installs its own clients (a venv per requirements.txt, `npm ci`), starts authd on a
# free port with registered clients, runs pytest and node's test runner; any failure
# fails the script.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/auth-tokens/target}"
CACHE="${AUTH_INTEROP_CACHE:-$HOME/.cache/auth-tokens/interop}"
mkdir -p "$CACHE"

log() { echo "interop: $*"; }

# --- clients -------------------------------------------------------------------
if ! command -v python3 >/dev/null || ! command -v npm >/dev/null; then
    log "installing python3 and node from Debian"
    apt-get update -qq
    apt-get install -y -qq python3 python3-venv nodejs npm >/dev/null
fi
req_hash=$(sha256sum interop/python/requirements.txt | cut -c1-16)
VENV="$CACHE/venv-$req_hash"
if [ ! -x "$VENV/bin/pytest" ]; then
    log "creating $VENV"
    rm -rf "$VENV"
    if ! python3 -m venv "$VENV" 2>/dev/null; then
        apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
        python3 -m venv "$VENV"
    fi
    "$VENV/bin/pip" install --quiet --disable-pip-version-check -r interop/python/requirements.txt
fi
lock_hash=$(sha256sum interop/node/package-lock.json | cut -c1-16)
if [ "$(cat interop/node/node_modules/.interop-lock 2>/dev/null)" != "$lock_hash" ]; then
    log "npm ci"
    (cd interop/node && npm ci --no-audit --no-fund --prefer-offline --loglevel=error)
    echo "$lock_hash" > interop/node/node_modules/.interop-lock
fi

# --- authd and the example resource server --------------------------------------
cargo build --locked --quiet -p authd --bin authd -p auth-axum --example protect
AUTHD="$CARGO_TARGET_DIR/debug/authd"
PROTECT="$CARGO_TARGET_DIR/debug/examples/protect"

WORK=$(mktemp -d)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
AUTHD_PORT=$(free_port)
RS_PORT=$(free_port)
while [ "$RS_PORT" = "$AUTHD_PORT" ]; do RS_PORT=$(free_port); done

secret_pair() { "$AUTHD" clients secret; }
RS_PAIR=$(secret_pair)
APP_PAIR=$(secret_pair)
field() { echo "$1" | sed -n "s/^$2 = \"\\{0,1\\}\\([^\"]*\\)\"\\{0,1\\}$/\\1/p"; }

export AUTHD_ISSUER="http://127.0.0.1:$AUTHD_PORT"
export AUTHD_AUDIENCE=authd
export RS_CLIENT_ID=interop-resource-server
export RS_CLIENT_SECRET=$(field "$RS_PAIR" client_secret)
export APP_CLIENT_ID=interop-authlib
export APP_CLIENT_SECRET=$(field "$APP_PAIR" client_secret)
export PUBLIC_CLIENT_ID=interop-public
export PROTECTED_URL="http://127.0.0.1:$RS_PORT/hello"
# The bound README states for the revocation feed.
export REVOCATION_BOUND_SECONDS=2

cat > "$WORK/authd.toml" <<TOML
bind = "127.0.0.1:$AUTHD_PORT"
issuer = "$AUTHD_ISSUER"
audience = "$AUTHD_AUDIENCE"
database_url = "sqlite:$WORK/authd.db"
pbkdf2_rounds = 1000
login_per_ip = 0
login_per_account = 0
refresh_per_ip = 0
refresh_per_account = 0
register_per_ip = 0
cleanup_interval = "off"

[[clients]]
id = "$RS_CLIENT_ID"
secret_sha256 = "$(field "$RS_PAIR" secret_sha256)"
grants = []

[[clients]]
id = "$APP_CLIENT_ID"
secret_sha256 = "$(field "$APP_PAIR" secret_sha256)"
scopes = ["read", "write"]

[[clients]]
id = "$PUBLIC_CLIENT_ID"
scopes = ["read"]
TOML

wait_http() {
    local url=$1 pid=$2
    for _ in $(seq 1 100); do
        if curl -s -o /dev/null "$url"; then return 0; fi
        if ! kill -0 "$pid" 2>/dev/null; then return 1; fi
        sleep 0.1
    done
    return 1
}

(cd "$WORK" && exec "$AUTHD" --config "$WORK/authd.toml" >"$WORK/authd.log" 2>&1) &
PIDS+=($!)
wait_http "$AUTHD_ISSUER/healthz" "${PIDS[-1]}" || { cat "$WORK/authd.log"; exit 1; }
ALLOW_HTTP=true ISSUER=$AUTHD_ISSUER AUDIENCE=$AUTHD_AUDIENCE CLIENT_ID=$RS_CLIENT_ID CLIENT_SECRET=$RS_CLIENT_SECRET \
    BIND="127.0.0.1:$RS_PORT" "$PROTECT" >"$WORK/protect.log" 2>&1 &
PIDS+=($!)
wait_http "$PROTECTED_URL" "${PIDS[-1]}" || { cat "$WORK/protect.log"; exit 1; }
log "authd at $AUTHD_ISSUER, auth-axum example at $PROTECTED_URL"

status=0
log "python clients: $(grep -v '^#' interop/python/requirements.txt | grep -iE '^(pyjwt|authlib|jwcrypto|cryptography|requests|pytest)' | tr '\n' ' ')"
(cd interop/python && "$VENV/bin/pytest" -q -p no:cacheprovider -rA) || status=1
log "node clients: $(cd interop/node && node -e 'const d=require("./package.json").dependencies; console.log(Object.entries(d).map(([k,v])=>k+"=="+v).join(" "))')"
(cd interop/node && node --test test/jose.test.mjs test/express-jwt.test.mjs) || status=1
if [ "$status" != 0 ]; then
    log "FAILED; authd log:"
    tail -50 "$WORK/authd.log"
fi
exit "$status"
