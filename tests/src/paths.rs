//! Where the `edgefn` binary and the guest components are.

use std::path::{Path, PathBuf};
use std::sync::Once;
use std::time::SystemTime;

/// The repository's root (the parent of `tests/`).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// The binary under test: `$EDGEFN_BIN`, else `<repo>/target/release/edgefn`
/// (with a warning, once, when it is older than the runtime's sources).
///
/// # Panics
/// When it does not exist, saying how to build it.
pub fn edgefn_bin() -> PathBuf {
    let given = std::env::var_os("EDGEFN_BIN").map(PathBuf::from);
    let path = given
        .clone()
        .unwrap_or_else(|| repo_root().join("target/release/edgefn"));
    assert!(
        path.is_file(),
        "the edgefn binary is missing at {}: run `cargo build --release -p edgefn` (or set EDGEFN_BIN)",
        path.display()
    );
    static CHECKED: Once = Once::new();
    if given.is_none() {
        CHECKED.call_once(|| warn_if_stale(&path));
    }
    path
}

/// Warns when a file under `runtime/` changed after `binary` was built.
fn warn_if_stale(binary: &Path) {
    let modified = |path: &Path| std::fs::metadata(path).and_then(|m| m.modified()).ok();
    let Some(built) = modified(binary) else {
        return;
    };
    let mut newest = SystemTime::UNIX_EPOCH;
    let mut pending = vec![repo_root().join("runtime")];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if let Some(time) = modified(&path) {
                newest = newest.max(time);
            }
        }
    }
    if newest > built {
        eprintln!(
            "warning: {} is older than the sources in runtime/: the tests run the old binary (run `cargo build --release -p edgefn`)",
            binary.display()
        );
    }
}

/// The component `<repo>/target/guests/NAME.wasm`.
///
/// # Panics
/// When it does not exist, saying how to build it.
pub fn guest(name: &str) -> PathBuf {
    let path = repo_root()
        .join("target/guests")
        .join(format!("{name}.wasm"));
    assert!(
        path.is_file(),
        "guest component {} is missing: run `scripts/build-guests.sh --manifest examples/Cargo.toml --manifest tests/guests/Cargo.toml`",
        path.display()
    );
    path
}

/// The bytes of [`guest`]`(name)`.
pub fn guest_bytes(name: &str) -> Vec<u8> {
    let path = guest(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}
