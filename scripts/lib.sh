# Helpers shared by the scripts (sourced, not run): messages, and installing
# Debian packages as root (directly, or through sudo).

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Runs a command as root: directly, or through sudo. $ROOT_HINT says what
# to do instead when neither is possible.
as_root() {
    if [[ $(id -u) -eq 0 ]]; then "$@"
    elif command -v sudo >/dev/null; then sudo "$@"
    else die "need root to run: $* (${ROOT_HINT:-install it yourself})"
    fi
}

# Installs Debian packages, refreshing the package index once if that fails.
apt_install() {
    say "installing with apt-get: $*"
    if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y "$@"; then
        say "apt-get install failed; running apt-get update and trying again"
        as_root apt-get update
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y "$@"
    fi
}
