//! Dependencies point one way: core domain modules own the contracts they
//! need (`trait`s) and never import the storage adapters that implement
//! them (`store`: redb, `cluster`: NATS), the protocol adapters that call
//! them (`http`, `pubnub`) or the node that wires everything.
//!
//! This test reads each listed module's code (not its comments, not its
//! `#[cfg(test)]` module, whose tests may use the real store) and fails on
//! a `crate::` path that points against the direction. Modules join the
//! list as their seams are cut (issue 17 carries the rest).

use std::fs;
use std::path::{Path, PathBuf};

/// What the core may never import.
const ADAPTERS: &[&str] = &["store", "cluster", "http", "pubnub", "node", "cli"];

/// Each checked module and what it may not import besides [`ADAPTERS`].
const RULES: &[(&str, &[&str])] = &[
    // The bus is below every other domain module.
    ("bus", BELOW_EVERYTHING),
    (
        "actions",
        &["functions", "wasm", "access", "presence", "kv"],
    ),
    (
        "objects",
        &["functions", "wasm", "access", "actions", "presence", "kv"],
    ),
    (
        "presence",
        &["functions", "wasm", "access", "actions", "kv"],
    ),
    // The sandbox reaches the node's parts through the narrow traits its
    // capabilities own (`HostServices`); functions are above it.
    ("wasm", &["functions"]),
    // Functions run above the bus and presence; their storage comes
    // through `functions::records`.
    ("functions", &["access", "actions", "objects", "kv"]),
    (
        "files",
        &["functions", "wasm", "access", "actions", "presence", "kv"],
    ),
    (
        "access",
        &["functions", "wasm", "actions", "objects", "presence", "kv"],
    ),
    (
        "kv",
        &[
            "bus",
            "functions",
            "wasm",
            "access",
            "actions",
            "objects",
            "presence",
        ],
    ),
    ("clock", &["bus", "functions", "wasm", "access", "actions"]),
    // What the node keeps bounded, and durable key files: below everything
    // too.
    ("bounds", BELOW_EVERYTHING),
    ("durable", BELOW_EVERYTHING),
];

/// Every domain module: what a module at the bottom may not import.
const BELOW_EVERYTHING: &[&str] = &[
    "bus",
    "functions",
    "wasm",
    "access",
    "actions",
    "objects",
    "presence",
    "kv",
    "files",
];

#[test]
fn domain_modules_do_not_import_against_the_direction() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut wrong = Vec::new();
    for &(module, also_forbidden) in RULES {
        let files = module_files(&src, module);
        assert!(!files.is_empty(), "no source for module `{module}`");
        for file in files {
            let code = code(&fs::read_to_string(&file).expect("readable source"));
            for (line, target) in crate_paths(&code) {
                if ADAPTERS.contains(&target) || also_forbidden.contains(&target) {
                    let shown = file.strip_prefix(&src).unwrap_or(&file).display();
                    wrong.push(format!(
                        "{shown}:{line}: `{module}` imports `crate::{target}`"
                    ));
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports against the direction (a domain module owns a trait; the adapter implements it):\n{}",
        wrong.join("\n")
    );
}

/// `src/{module}.rs`, or every `.rs` file under `src/{module}/`.
fn module_files(src: &Path, module: &str) -> Vec<PathBuf> {
    let single = src.join(format!("{module}.rs"));
    if single.is_file() {
        return vec![single];
    }
    let mut files = Vec::new();
    let mut dirs = vec![src.join(module)];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files
}

/// The file's code before its test module, with comments blanked (lines
/// kept, so positions still name lines).
fn code(text: &str) -> String {
    text.lines()
        .take_while(|line| line.trim() != "#[cfg(test)]")
        .map(|line| line.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The top-level modules named by `crate::…` paths in `code`, with the
/// line each is on, including grouped imports over several lines (`use
/// crate::{a::B, c::{D, E}};`).
fn crate_paths(code: &str) -> Vec<(usize, &str)> {
    let mut found = Vec::new();
    for (at, _) in code.match_indices("crate::") {
        let start = at + "crate::".len();
        let rest = &code[start..];
        let mut names = vec![(start, rest)];
        if rest.starts_with('{') {
            // The group's top-level items, to its closing brace.
            names.clear();
            let mut depth = 0;
            let mut item = start + 1;
            for (i, c) in rest.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 1 => {
                        names.push((item, &code[item..start + i]));
                        break;
                    }
                    '}' => depth -= 1,
                    ',' if depth == 1 => {
                        names.push((item, &code[item..start + i]));
                        item = start + i + 1;
                    }
                    _ => {}
                }
            }
        }
        for (offset, name) in names {
            let skipped = name.len() - name.trim_start().len();
            let name = name.trim_start();
            let end = name
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(name.len());
            if end > 0 {
                let line = code[..offset + skipped].matches('\n').count() + 1;
                found.push((line, &name[..end]));
            }
        }
    }
    found
}

#[test]
fn crate_paths_are_read_from_plain_and_grouped_imports() {
    let text = "use crate::store::Store;\n\
                use crate::{bus::Channel, cluster,\n    config::{A, B}};\n\
                //! see [`crate::http`]\n\
                fn f() { crate::node::x() } // crate::pubnub\n\
                #[cfg(test)]\n\
                use crate::wasm::Sandbox;\n";
    assert_eq!(
        crate_paths(&code(text)),
        [
            (1, "store"),
            (2, "bus"),
            (2, "cluster"),
            (3, "config"),
            (5, "node")
        ]
    );
}
