#!/usr/bin/env bash
# Builds the guest (WebAssembly component) crates and copies each component to
# target/guests/<crate>.wasm.
#
# Usage: scripts/build-guests.sh [--manifest PATH]...
#
#   --manifest PATH   a guest workspace (or crate) manifest to build; repeatable.
#                     Default: examples/Cargo.toml. Every cdylib crate of each
#                     workspace is built, with one cargo invocation per manifest.
#
# Toolchain: rustup's `wasm32-wasip2` target when it is installed (`rustup target
# add wasm32-wasip2`). Otherwise Debian's Rust (rustc-web, cargo-web,
# rust-web-src, wasi-libc) builds the standard library for the target from
# source (-Zbuild-std), linking with wasm-component-ld from crates.io; whatever
# of that is missing is installed first (apt-get needs root or sudo).
#
# Intermediate files live in target/wasm-guests (kept between runs, so a run
# with nothing changed takes seconds), or $EDGEFN_GUEST_TARGET_DIR; extra
# rustc flags for the guests may be given in $EDGEFN_GUEST_RUSTFLAGS.
set -euo pipefail

TARGET=wasm32-wasip2
COMPONENT_LD_VERSION=0.5.31
DEBIAN_PACKAGES=(rustc-web cargo-web rust-web-src wasi-libc)
# The guests' rust-version: an older Debian rustc (a stale package index
# offers one) cannot build them.
MIN_RUSTC=1.95

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
target_dir="${EDGEFN_GUEST_TARGET_DIR:-$root/target/wasm-guests}"
out_dir="$root/target/guests"
cargo_home="${CARGO_HOME:-$HOME/.cargo}"

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ROOT_HINT="install it yourself, or use rustup: rustup target add $TARGET"

usage() { sed -n '2,18s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; }

manifests=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --manifest) [[ $# -ge 2 ]] || die "--manifest needs a path"; manifests+=("$2"); shift 2 ;;
        --manifest=*) manifests+=("${1#--manifest=}"); shift ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die "unknown argument: $1" ;;
    esac
done
[[ ${#manifests[@]} -gt 0 ]] || manifests=("$root/examples/Cargo.toml")
for i in "${!manifests[@]}"; do
    [[ -f "${manifests[$i]}" ]] || die "no such manifest: ${manifests[$i]}"
    manifests[$i]="$(cd "$(dirname "${manifests[$i]}")" && pwd)/$(basename "${manifests[$i]}")"
done

# --- Toolchain --------------------------------------------------------------

# Sets `cargo_cmd` (and exports what it needs) for the rustup toolchain, if it
# has the target installed.
use_rustup() {
    command -v rustup >/dev/null || return 1
    rustup target list --installed 2>/dev/null | grep -qx "$TARGET" || return 1
    local toolchain
    toolchain="$(rustup show active-toolchain | awk '{print $1; exit}')"
    say "using rustup's $TARGET target ($(rustup run "$toolchain" rustc --version))"
    cargo_cmd=(rustup run "$toolchain" cargo build --release --target "$TARGET")
    [[ -z "${EDGEFN_GUEST_RUSTFLAGS:-}" ]] || export CARGO_TARGET_WASM32_WASIP2_RUSTFLAGS="$EDGEFN_GUEST_RUSTFLAGS"
}

# The version of Debian's rustc, e.g. 1.96.0.
debian_rustc_version() { /usr/bin/rustc --version | awk '{print $2}'; }

# Whether Debian's rustc is at least MIN_RUSTC.
debian_rustc_is_recent() {
    [[ "$(printf '%s\n' "$MIN_RUSTC" "$(debian_rustc_version)" | sort -V | head -1)" == "$MIN_RUSTC" ]]
}

# Sets `cargo_cmd` for Debian's Rust, building std from source; installs what
# is missing or too old.
use_debian() {
    say "rustup has no $TARGET target here; building the standard library from source with Debian's Rust"
    command -v apt-get >/dev/null \
        || die "this is not a Debian-like system: install rustup and run: rustup target add $TARGET"
    local missing=() pkg
    for pkg in "${DEBIAN_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed' || missing+=("$pkg")
    done
    [[ ${#missing[@]} -eq 0 ]] || apt_install "${missing[@]}"
    if ! debian_rustc_is_recent; then
        say "Debian's rustc is $(debian_rustc_version), older than $MIN_RUSTC: refreshing the package index and upgrading"
        as_root apt-get update
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y "${DEBIAN_PACKAGES[@]}"
        debian_rustc_is_recent \
            || die "Debian offers rustc $(debian_rustc_version); the guests need $MIN_RUSTC (or use rustup: rustup target add $TARGET)"
    fi

    local component_ld="$cargo_home/bin/wasm-component-ld"
    if [[ ! -x "$component_ld" ]]; then
        say "installing wasm-component-ld $COMPONENT_LD_VERSION (the component linker) into $cargo_home/bin with cargo install"
        local installer=cargo
        command -v cargo >/dev/null || installer=/usr/bin/cargo
        "$installer" install --locked "wasm-component-ld@$COMPONENT_LD_VERSION"
    fi

    # wasm-component-ld runs `wasm-ld`: take rustup's, one on PATH, or LLVM's lld.
    local wasm_ld="" sysroot host candidate
    if command -v rustc >/dev/null && sysroot="$(rustc --print sysroot 2>/dev/null)" \
        && host="$(rustc -vV | sed -n 's/^host: //p')" \
        && [[ -x "$sysroot/lib/rustlib/$host/bin/gcc-ld/wasm-ld" ]]; then
        wasm_ld="$sysroot/lib/rustlib/$host/bin/gcc-ld/wasm-ld"
    elif candidate="$(command -v wasm-ld)"; then
        wasm_ld="$candidate"
    else
        # Debian's rust-lld is LLVM's lld (from the lld-N package), which acts
        # as wasm-ld when called by that name.
        if [[ ! -e /usr/bin/rust-lld ]]; then
            local lld_package
            lld_package="$(basename "$(readlink /usr/bin/rust-lld 2>/dev/null || echo lld)")"
            apt_install "$lld_package"
        fi
        [[ -e /usr/bin/rust-lld ]] || die "no wasm-ld found (install LLVM's lld)"
        mkdir -p "$target_dir/tools"
        ln -sf /usr/bin/rust-lld "$target_dir/tools/wasm-ld"
        wasm_ld="$target_dir/tools/wasm-ld"
    fi

    export RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc RUSTC_BOOTSTRAP=1
    export CARGO_TARGET_WASM32_WASIP2_LINKER="$component_ld"
    export CARGO_TARGET_WASM32_WASIP2_RUSTFLAGS="-C link-self-contained=no -L /usr/lib/wasm32-wasi -C link-arg=--wasm-ld-path=$wasm_ld ${EDGEFN_GUEST_RUSTFLAGS:-}"
    # A RUSTFLAGS from the environment would replace the target flags above.
    unset RUSTFLAGS CARGO_ENCODED_RUSTFLAGS
    cargo_cmd=(/usr/bin/cargo build --release --target "$TARGET" -Zbuild-std=std,panic_abort)
}

use_rustup || use_debian
export CARGO_TARGET_DIR="$target_dir"

# --- Build ------------------------------------------------------------------

# The `name = "..."` of the [package] section of a Cargo.toml.
package_name() {
    awk '
        /^[[:space:]]*\[/ { in_package = ($0 ~ /^[[:space:]]*\[package\][[:space:]]*$/) }
        in_package && /^[[:space:]]*name[[:space:]]*=/ {
            sub(/^[^=]*=[[:space:]]*"/, ""); sub(/".*$/, ""); print; exit
        }' "$1"
}

# Fails unless $1 is a WebAssembly component (not a core module).
check_component() {
    local header
    header="$(od -An -tx1 -N8 "$1" | tr -d ' \n')"
    case "$header" in
        0061736d0d000100) ;;
        0061736d01000000) die "$1 is a core WebAssembly module, not a component (was it linked with wasm-component-ld?)" ;;
        *) die "$1 is not a WebAssembly component (header $header)" ;;
    esac
}

mkdir -p "$out_dir"
built=()
for manifest in "${manifests[@]}"; do
    say "building ${manifest#"$root"/}"
    start=$SECONDS
    # JSON messages on stdout tell which artifacts are components; cargo's
    # progress and diagnostics still go to stderr.
    messages="$("${cargo_cmd[@]}" --manifest-path "$manifest" --workspace \
        --message-format=json-render-diagnostics)" || die "cargo build failed for $manifest"
    say "built in $((SECONDS - start)) s"

    # One `compiler-artifact` line per crate; guests are the cdylib ones.
    while IFS= read -r line; do
        crate_manifest="$(sed -n 's/.*"manifest_path":"\([^"]*\)".*/\1/p' <<<"$line")"
        wasm="$(grep -o '"filenames":\["[^"]*\.wasm"' <<<"$line" | sed 's/.*\["//; s/"$//' || true)"
        [[ -n "$crate_manifest" && -n "$wasm" ]] || die "unexpected cargo output: $line"
        name="$(package_name "$crate_manifest")"
        [[ -n "$name" ]] || die "no package name in $crate_manifest"
        check_component "$wasm"
        dest="$out_dir/$name.wasm"
        cmp -s "$wasm" "$dest" 2>/dev/null || cp "$wasm" "$dest"
        built+=("$dest")
    done < <(grep '"reason":"compiler-artifact"' <<<"$messages" | grep '"crate_types":\[[^]]*"cdylib"' || true)
done

[[ ${#built[@]} -gt 0 ]] || die "no guest (cdylib) crates found in: ${manifests[*]}"
say "components in $out_dir (each checked to be a component, not a core module):"
printf '%s\n' "${built[@]}" | sort -u | while IFS= read -r file; do
    printf '    %-50s %8s bytes\n' "${file#"$root"/}" "$(wc -c <"$file" | tr -d ' ')" >&2
done
