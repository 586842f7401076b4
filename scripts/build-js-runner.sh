#!/usr/bin/env bash
# Builds the JavaScript runner (runners/js: QuickJS through rquickjs, as an
# edgefn component) and installs it as runtime/runners/js-runner.wasm, the
# copy edgefn builds in (committed, so that `cargo build` alone works).
#
# Usage: scripts/build-js-runner.sh [--check]
#
#   --check   build (proving the build works here), and fail if the runner's
#             sources differ from those the committed copy was built from
#             (the test command runs this, so the copy never goes stale).
#
# The committed copy comes with runtime/runners/js-runner.sources, a digest
# of its sources (runners/js, guest-sdk, wit). Builds are not byte-identical
# across checkouts (path dependencies' symbol hashes depend on where they
# are), so the digest, not the bytes, is what is checked.
#
# Toolchain: the Rust guest toolchain of scripts/build-guests.sh, plus
# Debian's clang-19 and llvm-19 (installed when missing) to compile QuickJS's
# C sources for wasm32-wasip2 against Debian's wasi-libc. Paths are remapped
# so that the artifact names no directory of the machine that built it.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ROOT_HINT="install clang-19 and llvm-19 yourself"

check=false
case "${1:-}" in
    --check) check=true ;;
    "") ;;
    -h|--help) sed -n '2,14s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) die "unknown argument: $1" ;;
esac

if ! command -v clang-19 >/dev/null || ! command -v llvm-ar-19 >/dev/null; then
    apt_install clang-19 llvm-19 # QuickJS is C
fi

# clang looks for wasm32-wasip2 headers and libraries where Debian's
# wasi-libc does not put them: a sysroot of links bridges the two.
sysroot="$root/target/js-runner/wasi-sysroot"
mkdir -p "$sysroot/include" "$sysroot/lib"
ln -sfn /usr/include/wasm32-wasi "$sysroot/include/wasm32-wasip2"
ln -sfn /usr/lib/wasm32-wasi "$sysroot/lib/wasm32-wasip2"

export RQUICKJS_SYS_NO_WASI_SDK=1 # rquickjs-sys would download wasi-sdk
export CC_wasm32_wasip2=clang-19 AR_wasm32_wasip2=llvm-ar-19
export CFLAGS_wasm32_wasip2="--sysroot=$sysroot -ffile-prefix-map=$root=/edgefn -ffile-prefix-map=${CARGO_HOME:-$HOME/.cargo}=/cargo"
export EDGEFN_GUEST_TARGET_DIR="$root/target/js-runner"
export EDGEFN_GUEST_RUSTFLAGS="--remap-path-prefix=$root=/edgefn --remap-path-prefix=${CARGO_HOME:-$HOME/.cargo}=/cargo"
scripts/build-guests.sh --manifest runners/js/Cargo.toml

# A digest of every file the runner is built from (as the working tree has
# them; files git does not track, such as a local Cargo.lock, do not count).
sources_digest() {
    (cd "$root" && git ls-files -z runners/js guest-sdk wit \
        | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)
}

built="$root/target/guests/edgefn-js-runner.wasm"
installed="$root/runtime/runners/js-runner.wasm"
stamp="$root/runtime/runners/js-runner.sources"
if $check; then
    [[ "$(cat "$stamp" 2>/dev/null)" == "$(sources_digest)" ]] \
        || die "runtime/runners/js-runner.wasm is stale (its sources changed since it was built): run scripts/build-js-runner.sh and commit the result"
    say "runtime/runners/js-runner.wasm was built from these sources"
else
    mkdir -p "$(dirname "$installed")"
    cp "$built" "$installed"
    sources_digest >"$stamp"
    say "installed ${installed#"$root"/} ($(wc -c <"$installed" | tr -d ' ') bytes) and its sources' digest"
fi
