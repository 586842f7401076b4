//! Turning uploaded bytes into a ready-to-instantiate component: format
//! checks, compilation with an on-disk cache of compiled artifacts (keyed by
//! content hash and engine), import resolution against the host's linker
//! (`InstancePre`) and discovery of which triggers the component exports.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};

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
/// # Errors
/// When the bytes are not a valid component, or the cache cannot be written.
pub fn compile(
    engine: &Engine,
    cache_dir: &Path,
    hash: &str,
    bytes: &[u8],
) -> Result<Component, ComponentError> {
    check_format(bytes)?;
    let cached = cache_path(engine, cache_dir, hash);
    if cached.exists() {
        // SAFETY: the file was written by `Component::serialize` of an engine
        // with the same compatibility hash (it is in the file name), in the
        // node's own data directory; wasmtime re-checks the header.
        match unsafe { Component::deserialize_file(engine, &cached) } {
            Ok(component) => return Ok(component),
            Err(e) => {
                tracing::warn!(path = %cached.display(), error = %e, "ignoring unusable compiled-component cache entry")
            }
        }
    }
    let component =
        Component::new(engine, bytes).map_err(|e| ComponentError::Invalid(format!("{e:#}")))?;
    let serialized = component
        .serialize()
        .map_err(|e| ComponentError::Invalid(e.to_string()))?;
    write_atomically(&cached, &serialized).map_err(ComponentError::Cache)?;
    Ok(component)
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

fn cache_path(engine: &Engine, cache_dir: &Path, hash: &str) -> PathBuf {
    let mut hasher = DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    cache_dir.join(format!("{hash}-{:016x}.cwasm", hasher.finish()))
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}
