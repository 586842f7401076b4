//! Table growth needs the `table.grow` instruction, which stable Rust cannot
//! emit for wasm32 (no intrinsic; inline asm on wasm is the unstable
//! `asm_experimental_arch` feature). When the compiler accepts unstable
//! features (a nightly, or Debian's rustc with RUSTC_BOOTSTRAP=1, as
//! scripts/build-guests.sh uses it) this enables `cfg(table_asm)`; otherwise
//! the guest is built without it and says so when invoked.
//!
//! It also links with `--growable-table`: without it wasm-ld gives the
//! function table a maximum equal to its initial size, and growth would be
//! refused by the module itself rather than by the host's limits.

use std::process::Command;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(table_asm)");
    println!("cargo::rerun-if-env-changed=RUSTC_BOOTSTRAP");
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let version = Command::new(rustc)
        .arg("-V")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    let unstable = std::env::var("RUSTC_BOOTSTRAP").is_ok_and(|v| v == "1")
        || version.contains("nightly")
        || version.contains("-dev");
    if unstable {
        println!("cargo::rustc-cfg=table_asm");
    }
    println!("cargo::rustc-link-arg=--growable-table");
}
