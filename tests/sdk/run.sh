#!/usr/bin/env bash
# Proves that the official PubNub SDKs work against edgefn unchanged: runs the
# Python suite (the `pubnub` package from PyPI, with pytest) and the JavaScript
# suite (the `pubnub` package from npm, with Node's test runner) against a
# built node. Each test module starts nodes of its own on free ports.
#
# Usage: tests/sdk/run.sh [--python-only | --js-only]
#
# Installs what is missing, and only that (a run with everything installed
# starts testing at once):
#   - a Python venv in target/sdk-venv with tests/sdk/python/requirements.txt;
#   - tests/sdk/js/node_modules with `npm ci` (tests/sdk/js/package-lock.json).
# Needs python3 (>= 3.9), node (>= 20) and npm on PATH.
#
# The node is $EDGEFN_BIN (default target/release/edgefn: cargo build --release
# -p edgefn) and the guests $EDGEFN_GUESTS (default target/guests:
# scripts/build-guests.sh). Exits non-zero if anything fails.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
sdk="$root/tests/sdk"
venv="$root/target/sdk-venv"
export EDGEFN_BIN="${EDGEFN_BIN:-$root/target/release/edgefn}"
export EDGEFN_GUESTS="${EDGEFN_GUESTS:-$root/target/guests}"

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 2; }

run_python=1 run_js=1
case "${1:-}" in
    "") ;;
    --python-only) run_js=0 ;;
    --js-only) run_python=0 ;;
    -h|--help) sed -n '2,17s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
esac

[[ -x "$EDGEFN_BIN" ]] || die "no edgefn binary at $EDGEFN_BIN: run cargo build --release -p edgefn (or set EDGEFN_BIN)"
for guest in moderate counter; do
    [[ -f "$EDGEFN_GUESTS/$guest.wasm" ]] \
        || die "no $EDGEFN_GUESTS/$guest.wasm: run scripts/build-guests.sh (or set EDGEFN_GUESTS)"
done

# A stamp records what an install was made from; the install is redone only
# when that changes.
fingerprint() { cat "$@" | sha256sum | cut -d' ' -f1; }

install_python() {
    command -v python3 >/dev/null || die "python3 is missing"
    local wanted stamp="$venv/.edgefn-stamp"
    wanted="$(fingerprint "$sdk/python/requirements.txt") $(python3 --version 2>&1)"
    if [[ -x "$venv/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$wanted" ]]; then
        return
    fi
    say "installing the Python SDK into ${venv#"$root"/}"
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
        --requirement "$sdk/python/requirements.txt"
    printf '%s' "$wanted" >"$stamp"
}

install_js() {
    command -v node >/dev/null || die "node is missing"
    command -v npm >/dev/null || die "npm is missing"
    local wanted stamp="$sdk/js/node_modules/.edgefn-stamp"
    wanted="$(fingerprint "$sdk/js/package-lock.json" "$sdk/js/.npmrc") $(node --version)"
    if [[ -f "$stamp" && "$(cat "$stamp")" == "$wanted" ]]; then
        return
    fi
    say "installing the JavaScript SDK into tests/sdk/js/node_modules"
    (cd "$sdk/js" && npm ci --no-progress --loglevel=error)
    printf '%s' "$wanted" >"$stamp"
}

failed=()

if ((run_python)); then
    install_python
    say "Python suite (pubnub $("$venv/bin/python" -c 'from importlib.metadata import version; print(version("pubnub"))'))"
    # No caches or bytecode written into the source tree.
    PYTHONDONTWRITEBYTECODE=1 "$venv/bin/python" -m pytest -p no:cacheprovider -q -rfE "$sdk/python" \
        || failed+=(python)
fi

if ((run_js)); then
    install_js
    say "JavaScript suite (pubnub $(cd "$sdk/js" && node -p 'require("pubnub/package.json").version'))"
    (cd "$sdk/js" && node --test --test-reporter=spec --test-timeout=120000 test/*.test.mjs) || failed+=(js)
fi

if ((${#failed[@]})); then
    say "failed: ${failed[*]}"
    exit 1
fi
say "all SDK suites passed"
