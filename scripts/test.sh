#!/usr/bin/env bash
# Runs every test on a fresh machine: installs what is missing (the guest
# toolchain, via build-guests.sh; the PubNub SDKs, via tests/sdk/run.sh),
# builds the example and test guests and the edgefn binary once, then runs
# the unit tests, the end-to-end suite (which drives the real binary over
# HTTP, SSE and WebSocket), the official PubNub SDKs' suites, and each fuzz
# target for a few seconds (EDGEFN_FUZZ_SECONDS, default 10; 0 skips).
#
# Usage: scripts/test.sh [extra arguments for `cargo test`]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

say() { printf '==> %s\n' "$*" >&2; }

command -v cargo >/dev/null || { echo "error: cargo is missing: install Rust from https://rustup.rs" >&2; exit 1; }

say "building guest components"
scripts/build-guests.sh --manifest examples/Cargo.toml --manifest tests/guests/Cargo.toml

say "building edgefn"
cargo build --release --locked -p edgefn

say "running tests"
export EDGEFN_BIN="$root/target/release/edgefn"
cargo test --release --locked --workspace "$@"

say "running the PubNub SDK suites (Python and JavaScript)"
tests/sdk/run.sh

fuzz_seconds="${EDGEFN_FUZZ_SECONDS:-10}"
if [[ "$fuzz_seconds" != 0 ]]; then
    say "fuzzing each input parser for ${fuzz_seconds}s"
    scripts/fuzz.sh "$fuzz_seconds"
fi
