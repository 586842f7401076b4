#!/usr/bin/env bash
# Builds the Python guests (WebAssembly components, with componentize-py) and
# copies each component to target/guests/<name>.wasm.
#
# Usage: scripts/build-python-guests.sh [DIR]...
#
#   DIR   a Python guest: a directory holding `app.py` (the module whose
#         classes implement the exported interfaces) and `world.wit` (one
#         world, built on the WIT in wit/). Builds target/guests/<basename
#         of DIR>.wasm. Default: every such directory under examples/python.
#
# Toolchain: componentize-py (pinned below, from PyPI) in a virtualenv at
# target/tools/componentize-py, created with python3's venv and pip when
# missing (python3-venv from apt-get when venv is missing; needs root or
# sudo). componentize-py generates the Python bindings itself at each build;
# stubs of them, for editors and type checkers, are written to
# target/python-guests/<name>/bindings.
#
# A guest is rebuilt only when its sources, its world, wit/ or the tool
# changed (a build takes 10-20 s), so a run with nothing changed is quick.
set -euo pipefail

COMPONENTIZE_PY_VERSION=0.25.1

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/target/tools/componentize-py"
tool="$venv/bin/componentize-py"
work_dir="$root/target/python-guests"
out_dir="$root/target/guests"

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ROOT_HINT="install python3-venv yourself"

usage() { sed -n '2,20s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; }

dirs=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        -h|--help) usage; exit 0 ;;
        -*) usage >&2; die "unknown argument: $1" ;;
        *) dirs+=("$1"); shift ;;
    esac
done
if [[ ${#dirs[@]} -eq 0 ]]; then
    for app in "$root"/examples/python/*/app.py; do
        [[ -f "$app" ]] && dirs+=("$(dirname "$app")")
    done
    [[ ${#dirs[@]} -gt 0 ]] || die "no Python guests (*/app.py) under examples/python"
fi
for i in "${!dirs[@]}"; do
    [[ -f "${dirs[$i]}/app.py" && -f "${dirs[$i]}/world.wit" ]] \
        || die "${dirs[$i]} is not a Python guest (it needs app.py and world.wit)"
    dirs[$i]="$(cd "${dirs[$i]}" && pwd)"
done

# --- Toolchain --------------------------------------------------------------

tool_is_current() {
    [[ -x "$tool" ]] && "$tool" --version 2>/dev/null | grep -qx "componentize-py $COMPONENTIZE_PY_VERSION"
}

if ! tool_is_current; then
    command -v python3 >/dev/null || die "python3 is missing (needed to install componentize-py)"
    # Debian's python3 has venv without ensurepip (which brings pip into a
    # venv) until python3-venv is installed.
    if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
        command -v apt-get >/dev/null || die "python3's venv module is missing: install it"
        apt_install python3-venv
    fi
    say "installing componentize-py $COMPONENTIZE_PY_VERSION into ${venv#"$root"/} (PyPI)"
    rm -rf "$venv"
    python3 -m venv "$venv" || die "cannot create a virtualenv at $venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
        "componentize-py==$COMPONENTIZE_PY_VERSION" \
        || die "cannot install componentize-py $COMPONENTIZE_PY_VERSION with pip"
    tool_is_current || die "$tool does not run, or is not version $COMPONENTIZE_PY_VERSION"
fi

# --- Build ------------------------------------------------------------------

# The `-w` name of the world in a WIT file: `namespace:package/world[@version]`.
world_of() {
    local package world
    package="$(sed -n 's/^[[:space:]]*package[[:space:]]\{1,\}\([^;[:space:]]*\)[[:space:]]*;.*/\1/p' "$1" | head -n 1)"
    world="$(sed -n 's/^[[:space:]]*world[[:space:]]\{1,\}\([a-z0-9-]*\).*/\1/p' "$1" | head -n 1)"
    [[ -n "$package" && -n "$world" ]] || die "$1 needs a \`package\` line and a \`world\`"
    case "$package" in
        *@*) printf '%s/%s@%s\n' "${package%@*}" "$world" "${package#*@}" ;;
        *) printf '%s/%s\n' "$package" "$world" ;;
    esac
}

# A digest of everything a build depends on.
inputs_digest() {
    local dir="$1"
    {
        printf 'componentize-py %s\n' "$COMPONENTIZE_PY_VERSION"
        (cd "$dir" && find . -type f ! -path '*/__pycache__/*' | LC_ALL=C sort | xargs -d '\n' sha256sum)
        (cd "$root/wit" && find . -type f -name '*.wit' | LC_ALL=C sort | xargs -d '\n' sha256sum)
    } | sha256sum | awk '{print $1}'
}

# Fails unless $1 is a WebAssembly component (not a core module).
check_component() {
    local header
    header="$(od -An -tx1 -N8 "$1" | tr -d ' \n')"
    [[ "$header" == 0061736d0d000100 ]] || die "$1 is not a WebAssembly component (header $header)"
}

mkdir -p "$out_dir" "$work_dir"
built=()
for dir in "${dirs[@]}"; do
    name="$(basename "$dir")"
    dest="$out_dir/$name.wasm"
    stamp="$work_dir/$name.inputs"
    digest="$(inputs_digest "$dir")"
    built+=("$dest")
    if [[ -f "$dest" && -f "$stamp" && "$(cat "$stamp")" == "$digest" ]]; then
        say "$name is up to date"
        continue
    fi
    world="$(world_of "$dir/world.wit")"
    say "building ${dir#"$root"/} (world $world)"
    start=$SECONDS
    # Build from a copy: componentize-py leaves __pycache__ next to the sources.
    staging="$work_dir/$name"
    rm -rf "$staging"
    mkdir -p "$staging/src"
    cp -R "$dir/." "$staging/src/"
    find "$staging/src" -depth -type d -name __pycache__ -exec rm -rf {} +
    wit_args=(-d "$root/wit" -d "$dir/world.wit" -w "$world")
    "$tool" "${wit_args[@]}" bindings "$staging/bindings" >/dev/null \
        || die "componentize-py cannot generate bindings for $world"
    "$tool" -q "${wit_args[@]}" componentize -p "$staging/src" app -o "$staging/$name.wasm" \
        || die "componentize-py failed for ${dir#"$root"/}"
    check_component "$staging/$name.wasm"
    mv -f "$staging/$name.wasm" "$dest"
    printf '%s\n' "$digest" >"$stamp"
    say "built $name in $((SECONDS - start)) s"
done

say "components in $out_dir:"
printf '%s\n' "${built[@]}" | sort -u | while IFS= read -r file; do
    printf '    %-50s %8s bytes\n' "${file#"$root"/}" "$(wc -c <"$file" | tr -d ' ')" >&2
done
