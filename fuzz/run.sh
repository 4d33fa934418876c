#!/usr/bin/env bash
# Fuzzes every target for a bounded time: `fuzz/run.sh [seconds-per-target]` (default 15, so the
# six targets fuzz for about 90 s in all). Builds with cargo-fuzz (installed from crates.io when
# missing) into fuzz/target, starts each target from its seed corpus in fuzz/corpus/<target>/
# (new inputs go to a scratch directory, the committed seeds stay as they are), fails on the first
# crash, panic, timeout or out-of-memory, and prints the executions run per target. A crashing
# input is saved under fuzz/artifacts/<target>/; replay it with
# `cargo +nightly fuzz run -s none -a --target-dir fuzz/target <target> <file>`, and add it to the
# corpus once fixed. Set FUZZ_SEED=N to repeat one mutation sequence.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-15}"
targets=(spec normalise request_options policy jwt mcp_http)

# Each input gets 10 s (none needs more than a fraction of one; longer is a hang) and the
# process 2 GiB, any single allocation included.
common=(-timeout=10 -rss_limit_mb=2048 -print_final_stats=1)
# FUZZ_SEED fixes libFuzzer's mutation sequence, so a run is a repeatable regression pass (the
# test command sets it); without it every run explores new inputs.
if [[ -n "${FUZZ_SEED:-}" ]]; then
    common+=(-seed="$FUZZ_SEED")
fi

if ! command -v cargo-fuzz >/dev/null; then
    echo "installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

# libFuzzer needs nightly compiler flags: nightly when rustup has it, else the stable toolchain
# with its unstable flags unlocked.
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    fuzz=(cargo +nightly fuzz)
else
    export RUSTC_BOOTSTRAP=1
    fuzz=(cargo fuzz)
fi
# No sanitizer (the code under test has no `unsafe`), with debug assertions and overflow checks.
build=(-s none -a --target-dir fuzz/target)

echo "building the fuzz targets"
"${fuzz[@]}" build "${build[@]}"

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
declare -A executions
for target in "${targets[@]}"; do
    mkdir -p "$scratch/$target"
    case "$target" in
        spec) limits=(-max_len=16384) ;;
        *) limits=(-max_len=4096) ;;
    esac
    echo "fuzzing $target for ${seconds}s"
    if ! "${fuzz[@]}" run "${build[@]}" "$target" "$scratch/$target" "fuzz/corpus/$target" -- \
        "${common[@]}" "${limits[@]}" -max_total_time="$seconds" >"$scratch/$target.log" 2>&1; then
        tail -n 60 "$scratch/$target.log"
        echo "fuzz target $target failed: the input is under fuzz/artifacts/$target/" >&2
        exit 1
    fi
    executions[$target]="$(sed -n 's/^stat::number_of_executed_units: *//p' "$scratch/$target.log")"
done

printf '%-16s %12s\n' target executions
for target in "${targets[@]}"; do
    printf '%-16s %12s\n' "$target" "${executions[$target]}"
done
echo "fuzz: ${#targets[@]} passed, 0 failed"
