#!/usr/bin/env bash
# Fuzzes every parser that reads client or guest input (fuzz/fuzz_targets):
# channel names and patterns, messages, tokens, filter expressions, PubNub
# query strings and signatures, values guests hand the host.
#
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]   (default 60 s, all targets)
#
# Uses cargo-fuzz (installed if missing) with libFuzzer, without sanitizers,
# so it runs on the stable toolchain. Each target starts from its committed
# seeds (fuzz/seeds/TARGET) and grows a local corpus (fuzz/corpus/TARGET).
# A crash leaves its input in fuzz/artifacts/TARGET and fails the script:
# turn it into a regression test.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root/fuzz"

seconds="${1:-60}"
shift || true
# libFuzzer is C++: a compiler is needed to build it.
if ! command -v c++ >/dev/null; then
    echo "==> installing a C++ compiler (for libFuzzer)"
    sudo=""; [[ $(id -u) -eq 0 ]] || sudo="sudo"
    $sudo apt-get update -qq && $sudo apt-get install -y -qq g++ >/dev/null
fi
command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz@0.13.2
# cargo-fuzz passes -Z flags; stable rustc accepts them with RUSTC_BOOTSTRAP.
export RUSTC_BOOTSTRAP=1
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || mapfile -t targets < <(cargo fuzz list)

echo "==> building the fuzz targets"
cargo fuzz build --sanitizer none
for target in "${targets[@]}"; do
    echo "==> fuzzing $target for ${seconds}s"
    mkdir -p "corpus/$target"
    log="target/fuzz-$target.log"
    if ! cargo fuzz run --sanitizer none "$target" "corpus/$target" "seeds/$target" -- \
        -max_total_time="$seconds" -max_len=65536 -print_final_stats=1 >"$log" 2>&1; then
        tail -n 40 "$log" >&2
        echo "error: $target crashed; its input is in fuzz/artifacts/$target" >&2
        exit 1
    fi
    grep -E '^stat::(number_of_executed_units|peak_rss_mb)' "$log" | sed 's/^/    /'
done
