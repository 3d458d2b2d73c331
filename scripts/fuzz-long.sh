#!/usr/bin/env bash
# The long fuzz runs: each cargo-fuzz target until 10 million executions or 30 minutes,
# whichever comes first (FUZZ_RUNS, FUZZ_SECONDS), from a scratch copy of its seed
# corpus, at nice 15. Prints per target the executions, the coverage (libFuzzer's cov
# and ft), the peak RSS and the time taken; a crash stops the run with its input
# under fuzz/artifacts/<target>/. Not part of .ci/run (which runs .ci/fuzz-smoke.sh).
#
#   scripts/fuzz-long.sh                       # every target
#   FUZZ_SECONDS=600 scripts/fuzz-long.sh refresh_token access_token
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-$HOME/.cache/auth-tokens/fuzz-target}"
RUNS="${FUZZ_RUNS:-10000000}"
SECONDS_PER_TARGET="${FUZZ_SECONDS:-1800}"

cargo fuzz build -O
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(cargo fuzz list)
fi
printf '%-14s %12s %8s %8s %8s %8s\n' target executions cov ft rss_mb seconds
for target in "${targets[@]}"; do
    work=$(mktemp -d)
    cp -r "corpus/$target/." "$work/"
    log="$work.log"
    started=$(date +%s)
    if ! nice -n 15 cargo fuzz run -O "$target" "$work" -- \
        -runs="$RUNS" -max_total_time="$SECONDS_PER_TARGET" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 >"$log" 2>&1; then
        tail -40 "$log"
        echo "fuzz-long: $target crashed (input under fuzz/artifacts/$target/)"
        exit 1
    fi
    took=$(( $(date +%s) - started ))
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -1)
    last=$(grep -E '^#[0-9]+' "$log" | tail -1)
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
    printf '%-14s %12s %8s %8s %8s %8s\n' "$target" "$execs" "$cov" "$ft" "$rss" "$took"
    rm -rf "$work" "$log"
done
