//! Turning uploaded bytes into a ready-to-instantiate component: format
//! checks, compilation with an on-disk cache of compiled artifacts (keyed by
//! content hash and engine configuration, checksummed, written atomically,
//! removed when no function uses them), import resolution against the
//! host's linker (`InstancePre`) and discovery of which triggers the
//! component exports.

use std::collections::HashSet;
use std::fs::File;
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use sha2::{Digest as _, Sha256};

use wasmtime::Engine;
use wasmtime::component::{Component, InstancePre, Linker};
use wasmtime_wasi_http::p2::bindings::ProxyPre;

use super::bindings::{
    AfterPresenceIndices, AfterPublishIndices, BeforePublishIndices, IntervalIndices,
};
use super::state::InvocationState;

/// The interface each trigger needs the component to export.
pub mod exports {
    /// Needed by `--before-publish`.
    pub const BEFORE_PUBLISH: &str = "edgefn:functions/before-publish@0.1.0";
    /// Needed by `--after-publish`.
    pub const AFTER_PUBLISH: &str = "edgefn:functions/after-publish@0.1.0";
    /// Needed by `--after-presence`.
    pub const AFTER_PRESENCE: &str = "edgefn:functions/after-presence@0.1.0";
    /// Needed by `--every`.
    pub const INTERVAL: &str = "edgefn:functions/interval@0.1.0";
    /// Needed by `--endpoint`.
    pub const HTTP: &str = "wasi:http/incoming-handler@0.2.x";
}

/// Why uploaded bytes cannot run.
#[derive(Debug, thiserror::Error)]
pub enum ComponentError {
    /// Not WebAssembly at all.
    #[error("the file is not a WebAssembly binary (it does not start with `\\0asm`)")]
    NotWasm,
    /// A core module, not a component.
    #[error(
        "the file is a core WebAssembly module, not a component: build it for wasm32-wasip2 (or wrap it with `wasm-tools component new`)"
    )]
    CoreModule,
    /// Compilation failed.
    #[error("the component is invalid: {0}")]
    Invalid(String),
    /// It imports something the host does not provide.
    #[error("the component cannot be linked: {0}")]
    Link(String),
    /// A trigger's export is missing.
    #[error("the component does not export `{export}`, which {trigger} needs")]
    MissingExport {
        /// The interface that is missing.
        export: &'static str,
        /// The deploy option that needs it.
        trigger: &'static str,
    },
    /// The compiled-artifact cache could not be written.
    #[error("cannot write the compiled-component cache: {0}")]
    Cache(std::io::Error),
}

/// A component ready to instantiate, with the triggers it can serve.
pub struct LoadedComponent {
    /// Imports resolved against the host's linker.
    pub pre: InstancePre<InvocationState>,
    /// Present when it exports `before-publish`.
    pub before_publish: Option<BeforePublishIndices>,
    /// Present when it exports `after-publish`.
    pub after_publish: Option<AfterPublishIndices>,
    /// Present when it exports `after-presence`.
    pub after_presence: Option<AfterPresenceIndices>,
    /// Present when it exports `interval`.
    pub interval: Option<IntervalIndices>,
    /// Present when it exports `wasi:http/incoming-handler`.
    pub http: Option<ProxyPre<InvocationState>>,
}

/// Checks the binary's header.
///
/// # Errors
/// [`ComponentError::NotWasm`] or [`ComponentError::CoreModule`].
pub fn check_format(bytes: &[u8]) -> Result<(), ComponentError> {
    // The preamble: magic, then version and layer (core modules are layer 0,
    // components layer 1).
    match bytes.get(..8) {
        Some([0, b'a', b's', b'm', _, _, 1, 0]) => Ok(()),
        Some([0, b'a', b's', b'm', _, _, 0, 0]) => Err(ComponentError::CoreModule),
        _ => Err(ComponentError::NotWasm),
    }
}

/// Compiles `bytes` (content hash `hash`), or loads the compiled artifact
/// cached in `cache_dir` by an earlier run of a compatible engine. Blocking
/// and CPU-heavy on a cache miss: call it off the async executor.
///
/// An artifact is loaded only when its checksum matches; one that does not
/// (a torn or tampered file) or that wasmtime refuses is logged, compiled
/// anew and replaced.
///
/// # Errors
/// When the bytes are not a valid component, or the cache cannot be written.
pub fn compile(
    engine: &Engine,
    cache_dir: &Path,
    hash: &str,
    bytes: &[u8],
) -> Result<Component, ComponentError> {
    check_format(bytes)?;
    let cached = cache_dir.join(artifact_name(engine, hash));
    match read_artifact(&cached) {
        Ok(Some(artifact)) => {
            // SAFETY: these bytes are exactly what `Component::serialize` of
            // an engine with the same compatibility hash (in the file name)
            // wrote: their SHA-256 checksum, written with them, matches.
            // wasmtime checks the header again.
            match unsafe { Component::deserialize(engine, &artifact) } {
                Ok(component) => {
                    mark_used(&cached);
                    return Ok(component);
                }
                Err(e) => {
                    tracing::warn!(path = %cached.display(), error = %e, "compiled artifact cannot be loaded; recompiling")
                }
            }
        }
        Ok(None) => {}
        Err(e) => {
            tracing::warn!(path = %cached.display(), error = %e, "compiled artifact is unusable; recompiling")
        }
    }
    let component =
        Component::new(engine, bytes).map_err(|e| ComponentError::Invalid(format!("{e:#}")))?;
    let serialized = component
        .serialize()
        .map_err(|e| ComponentError::Invalid(e.to_string()))?;
    write_artifact(cache_dir, &cached, &serialized).map_err(ComponentError::Cache)?;
    Ok(component)
}

/// How long an artifact no deployment uses is kept after its last use, so
/// that a function removed and deployed again, or switched back and forth
/// between two builds, does not compile each time.
pub const UNUSED_ARTIFACT_GRACE: Duration = Duration::from_secs(3600);

/// Records that `artifact` was just loaded (its modification time), so
/// that [`remove_unused`] keeps it for [`UNUSED_ARTIFACT_GRACE`].
fn mark_used(artifact: &Path) {
    let touched = std::fs::File::options()
        .write(true)
        .open(artifact)
        .and_then(|file| file.set_modified(SystemTime::now()));
    if let Err(e) = touched {
        tracing::debug!(path = %artifact.display(), error = %e, "cannot mark a compiled artifact used");
    }
}

/// Whether `entry` was last used (written or loaded) more than
/// [`UNUSED_ARTIFACT_GRACE`] ago.
fn unused_for_long(entry: &std::fs::DirEntry) -> bool {
    entry
        .metadata()
        .and_then(|m| m.modified())
        .ok()
        .and_then(|modified| modified.elapsed().ok())
        .is_some_and(|idle| idle > UNUSED_ARTIFACT_GRACE)
}

/// Removes from `cache_dir` every artifact of another engine
/// configuration, temporary files that other processes left behind and,
/// when `in_use` is given, every artifact of a component not in it that
/// has not been used for [`UNUSED_ARTIFACT_GRACE`].
/// Blocking: call it off the async executor.
pub fn remove_unused(engine: &Engine, cache_dir: &Path, in_use: Option<&HashSet<String>>) {
    let this_engine = artifact_name(engine, "");
    let keep: Option<HashSet<String>> =
        in_use.map(|hashes| hashes.iter().map(|h| artifact_name(engine, h)).collect());
    let own_temp = format!(".tmp-{}-", std::process::id());
    let entries = match std::fs::read_dir(cache_dir) {
        Ok(entries) => entries,
        Err(e) => {
            tracing::warn!(path = %cache_dir.display(), error = %e, "cannot list the compiled-component cache");
            return;
        }
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let stale = if name.contains(".tmp-") {
            !name.contains(&own_temp)
        } else {
            name.ends_with(ARTIFACT_EXTENSION)
                && (!name.ends_with(&this_engine)
                    || (keep.as_ref().is_some_and(|keep| !keep.contains(&name))
                        && unused_for_long(&entry)))
        };
        if !stale {
            continue;
        }
        match std::fs::remove_file(entry.path()) {
            Ok(()) => tracing::info!(
                artifact = name,
                "removed a compiled artifact no function uses"
            ),
            Err(e) => {
                tracing::warn!(artifact = name, error = %e, "cannot remove an unused compiled artifact")
            }
        }
    }
}

/// Resolves the component's imports and finds its trigger exports.
///
/// # Errors
/// [`ComponentError::Link`] naming the import the host does not provide.
pub fn prepare(
    linker: &Linker<InvocationState>,
    component: &Component,
) -> Result<LoadedComponent, ComponentError> {
    let pre = linker
        .instantiate_pre(component)
        .map_err(|e| ComponentError::Link(format!("{e:#}")))?;
    Ok(LoadedComponent {
        before_publish: BeforePublishIndices::new(&pre).ok(),
        after_publish: AfterPublishIndices::new(&pre).ok(),
        after_presence: AfterPresenceIndices::new(&pre).ok(),
        interval: IntervalIndices::new(&pre).ok(),
        http: ProxyPre::new(pre.clone()).ok(),
        pre,
    })
}

const ARTIFACT_EXTENSION: &str = ".cwasm";
const CHECKSUM_LEN: usize = 32;

/// `{component hash}-{engine}.cwasm`, where `engine` is a digest of the
/// engine's compatibility hash: its wasmtime version, target and every
/// setting that changes compiled code.
fn artifact_name(engine: &Engine, hash: &str) -> String {
    struct Digest(Sha256);
    impl Hasher for Digest {
        fn write(&mut self, bytes: &[u8]) {
            self.0.update(bytes);
        }
        fn finish(&self) -> u64 {
            // Never asked for: the SHA-256 digest is read instead.
            0
        }
    }
    let mut digest = Digest(Sha256::new());
    engine.precompile_compatibility_hash().hash(&mut digest);
    let engine_key = hex::encode(&digest.0.finalize()[..8]);
    format!("{hash}-{engine_key}{ARTIFACT_EXTENSION}")
}

/// The artifact stored at `path` (its bytes, then their SHA-256), checked:
/// `None` when there is none.
fn read_artifact(path: &Path) -> std::io::Result<Option<Vec<u8>>> {
    let mut stored = match std::fs::read(path) {
        Ok(stored) => stored,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let checksum_at = stored.len().checked_sub(CHECKSUM_LEN).ok_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::InvalidData, "shorter than its checksum")
    })?;
    let checksum = stored.split_off(checksum_at);
    if Sha256::digest(&stored).as_slice() != checksum.as_slice() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "its checksum does not match its contents",
        ));
    }
    Ok(Some(stored))
}

/// Writes `artifact` and its checksum to `path` atomically and durably: a
/// temporary file, fsynced, renamed over `path`, then the directory fsynced.
fn write_artifact(dir: &Path, path: &Path, artifact: &[u8]) -> std::io::Result<()> {
    static TEMPORARIES: AtomicU64 = AtomicU64::new(0);
    let n = TEMPORARIES.fetch_add(1, Ordering::Relaxed);
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(format!(".tmp-{}-{n}", std::process::id()));
    let temporary = PathBuf::from(temporary);
    let written = (|| {
        let mut file = File::create_new(&temporary)?;
        file.write_all(artifact)?;
        file.write_all(&Sha256::digest(artifact))?;
        file.sync_all()?;
        std::fs::rename(&temporary, path)?;
        File::open(dir)?.sync_all()
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("edgefn-artifacts-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn names_in(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn an_artifact_is_used_only_when_its_checksum_matches() {
        let dir = temp_dir("checked");
        let path = dir.join("a.cwasm");
        assert!(read_artifact(&path).unwrap().is_none());
        write_artifact(&dir, &path, b"compiled code").unwrap();
        assert_eq!(names_in(&dir), ["a.cwasm"], "a temporary file was left");
        assert_eq!(read_artifact(&path).unwrap().unwrap(), b"compiled code");

        let mut stored = std::fs::read(&path).unwrap();
        stored[3] ^= 1;
        std::fs::write(&path, &stored).unwrap();
        let error = read_artifact(&path).unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::InvalidData);
        assert!(error.to_string().contains("checksum does not match"));

        std::fs::write(&path, b"short").unwrap();
        assert!(read_artifact(&path).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_key_names_the_component_and_the_engine_configuration() {
        let plain = Engine::default();
        let mut config = wasmtime::Config::new();
        config.epoch_interruption(true);
        let interruptible = Engine::new(&config).unwrap();
        assert_eq!(
            artifact_name(&plain, "h"),
            artifact_name(&Engine::default(), "h")
        );
        assert_ne!(artifact_name(&plain, "h"), artifact_name(&plain, "i"));
        assert_ne!(
            artifact_name(&plain, "h"),
            artifact_name(&interruptible, "h")
        );
    }

    #[test]
    fn artifacts_no_component_uses_are_removed() {
        let engine = Engine::default();
        let dir = temp_dir("unused");
        let used = artifact_name(&engine, "aa");
        let own_temporary = format!("{used}.tmp-{}-7", std::process::id());
        for name in [
            used.as_str(),
            &artifact_name(&engine, "bb"),
            "aa-0000000000000000.cwasm",
            "bb-0000000000000000.cwasm.tmp-1-0",
            &own_temporary,
            "notes.txt",
        ] {
            std::fs::write(dir.join(name), b"x").unwrap();
        }
        remove_unused(&engine, &dir, None);
        assert_eq!(
            names_in(&dir).len(),
            4,
            "only another engine's and a temporary were removed"
        );
        // An unused artifact stays while it was used within the grace period.
        let unused = dir.join(artifact_name(&engine, "bb"));
        remove_unused(&engine, &dir, Some(&HashSet::from(["aa".to_owned()])));
        assert!(unused.exists(), "removed within the grace period");
        let long_ago = SystemTime::now() - UNUSED_ARTIFACT_GRACE - Duration::from_secs(60);
        let file = File::options().write(true).open(&unused).unwrap();
        file.set_modified(long_ago).unwrap();
        remove_unused(&engine, &dir, Some(&HashSet::from(["aa".to_owned()])));
        let mut expected = vec![used, own_temporary, "notes.txt".to_owned()];
        expected.sort();
        assert_eq!(names_in(&dir), expected);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
