#!/usr/bin/env bash
# Fuzz smoke run: builds every cargo-fuzz target of fuzz/ and runs each for a few
# seconds from its committed seed corpus (installs cargo-fuzz if missing). The long
# runs are done by hand: scripts in fuzz/README.md.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

# libFuzzer needs nightly-only flags; the stable toolchain accepts them with this.
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-$HOME/.cache/auth-tokens/fuzz-target}"
SECONDS_PER_TARGET="${FUZZ_SMOKE_SECONDS:-10}"

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

cargo fuzz build -O
targets=$(cargo fuzz list)
for target in $targets; do
    # A scratch copy of the seeds, so the smoke run never rewrites the committed corpus.
    work=$(mktemp -d)
    cp -r "corpus/$target/." "$work/"
    echo "fuzz smoke: $target (${SECONDS_PER_TARGET}s)"
    log="$work.log"
    if ! cargo fuzz run -O "$target" "$work" -- \
        -max_total_time="$SECONDS_PER_TARGET" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        >"$log" 2>&1; then
        tail -40 "$log"
        echo "fuzz-smoke: $target failed (crash input under fuzz/artifacts/$target/)"
        exit 1
    fi
    grep -E "stat::number_of_executed_units|stat::peak_rss_mb|cov: " "$log" | tail -3
    rm -rf "$work" "$log"
done
echo "fuzz-smoke: $(echo "$targets" | wc -w) passed, 0 failed"
