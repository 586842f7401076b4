//! JavaScript functions: a `.js` module becomes a component by specialising
//! the built-in JavaScript runner (QuickJS, built from `runners/js` by
//! `scripts/build-js-runner.sh`) with it. The runner's `init` evaluates the
//! module once and Wizer snapshots the runner's memory, so every invocation
//! starts with the module loaded, in a fresh instance like any component,
//! and a restart loads the snapshot without running the module's top-level
//! code again.
//!
//! `init` runs with WASI only (no environment, no files): the module's
//! top-level code may `require` modules and build its data, while host
//! calls (KV, bus, outbound HTTP...) belong in the handler.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use wasmtime::component::{Component, Linker, ResourceTable, Val};
use wasmtime::{Store, UpdateDeadline};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{
    Error as HttpError, RequestOptions, WasiBody, WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks,
    WasiHttpView,
};
use wasmtime_wizer::Wizer;

use super::Sandbox;
use super::component::ComponentError;
use super::limits::InstanceLimits;

/// The runner component, as `scripts/build-js-runner.sh` built it.
static RUNNER: &[u8] = include_bytes!("../../runners/js-runner.wasm");

/// How long a module's top-level code may run at deploy.
const INIT_DEADLINE: Duration = Duration::from_secs(2);

/// Whether an uploaded file called `file_name` is a JavaScript module.
pub fn is_javascript(file_name: &str) -> bool {
    let lower = file_name.to_ascii_lowercase();
    lower.ends_with(".js") || lower.ends_with(".mjs")
}

/// Why a JavaScript module cannot be deployed.
#[derive(Debug, thiserror::Error)]
pub enum JavaScriptError {
    /// The source is not UTF-8 text.
    #[error("the JavaScript file is not UTF-8 text: {0}")]
    NotText(std::str::Utf8Error),
    /// Evaluating the module failed: a syntax error, an exception in its
    /// top-level code, or no default export.
    #[error("the JavaScript module cannot be loaded: {0}")]
    Module(String),
    /// The module's top-level code did not finish in time.
    #[error(
        "the JavaScript module's top-level code did not finish within {} s (an endless loop?)",
        INIT_DEADLINE.as_secs()
    )]
    Deadline,
    /// The runner could not be specialised.
    #[error("the JavaScript runner failed: {0}")]
    Runner(String),
}

impl From<JavaScriptError> for ComponentError {
    fn from(e: JavaScriptError) -> Self {
        ComponentError::Invalid(e.to_string())
    }
}

/// The store data while the runner evaluates a module: WASI with nothing
/// granted, and the sandbox's memory limit. wasi-http is linked for its
/// types; the runner makes no request while it loads a module (its host
/// functions refuse until the module is loaded).
struct InitState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    no_outbound: NoOutbound,
    table: ResourceTable,
    limits: InstanceLimits,
    deadline: Instant,
}

impl WasiView for InitState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for InitState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.no_outbound,
        }
    }
}

/// Refuses every outbound request.
pub struct NoOutbound;

impl WasiHttpHooks for NoOutbound {
    fn send_request(
        &mut self,
        _: http::Request<WasiBody>,
        _: Option<RequestOptions>,
        _: Box<dyn Future<Output = Result<(), HttpError>> + Send>,
    ) -> Box<
        dyn Future<
                Output = Result<
                    (
                        http::Response<WasiBody>,
                        Box<dyn Future<Output = Result<(), HttpError>> + Send>,
                    ),
                    HttpError,
                >,
            > + Send,
    > {
        Box::new(async { Err(HttpError::HttpRequestDenied) })
    }
}

impl Sandbox {
    /// Turns JavaScript `source` into a component: the runner with the module
    /// evaluated. CPU-heavy (it compiles the runner): seconds, not
    /// milliseconds.
    ///
    /// # Errors
    /// [`JavaScriptError`], with the module's error as QuickJS reports it
    /// (file, line and column for a syntax error).
    pub async fn specialise_javascript(&self, source: &[u8]) -> Result<Vec<u8>, JavaScriptError> {
        let source = std::str::from_utf8(source).map_err(JavaScriptError::NotText)?;
        let runner_error = |e: wasmtime::Error| JavaScriptError::Runner(format!("{e:#}"));
        let mut linker: Linker<InitState> = Linker::new(&self.engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(runner_error)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker).map_err(runner_error)?;
        let state = InitState {
            wasi: super::limits::wasi_builder().build(),
            http: WasiHttpCtx::new(),
            no_outbound: NoOutbound,
            table: ResourceTable::new(),
            limits: InstanceLimits::new(self.config.max_memory_mb as usize * super::MIB),
            // Set when the module starts to load, after compilation.
            deadline: Instant::now(),
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|state| &mut state.limits);
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(|cx| {
            if Instant::now() >= cx.data().deadline {
                Ok(UpdateDeadline::Interrupt)
            } else {
                Ok(UpdateDeadline::Yield(1))
            }
        });
        let mut wizer = Wizer::new();
        wizer.init_func(format!("init({})", wave_string(source)));
        let (snapshot, results) = wizer
            .run_component(&mut store, RUNNER, async |store, component| {
                stub_capabilities(&mut linker, component)?;
                store.data_mut().deadline = Instant::now() + INIT_DEADLINE;
                linker.instantiate_async(store, component).await
            })
            .await
            .map_err(|e| {
                if Instant::now() >= store.data().deadline {
                    JavaScriptError::Deadline
                } else {
                    runner_error(e)
                }
            })?;
        match results.as_slice() {
            [Val::Result(Ok(_))] => Ok(snapshot),
            [Val::Result(Err(Some(message)))] => match message.as_ref() {
                Val::String(message) => Err(JavaScriptError::Module(message.clone())),
                other => Err(JavaScriptError::Runner(format!(
                    "init failed with {other:?}"
                ))),
            },
            other => Err(JavaScriptError::Runner(format!("init returned {other:?}"))),
        }
    }
}

/// Links edgefn's own capabilities (`edgefn:functions/*`) as functions that
/// trap: the runner makes no host call while it loads a module. (Wasmtime's
/// `define_unknown_imports_as_traps` would also shadow the WASI interfaces
/// the linker provides under another 0.2.x version.)
fn stub_capabilities(
    linker: &mut Linker<InitState>,
    component: &Component,
) -> wasmtime::Result<()> {
    use wasmtime::component::types::ComponentItem;
    let engine = component.engine().clone();
    for (name, item) in component.component_type().imports(&engine) {
        let ComponentItem::ComponentInstance(instance) = item.ty else {
            continue;
        };
        if !name.starts_with("edgefn:functions/") {
            continue;
        }
        let mut stubs = linker.instance(name)?;
        for (function, item) in instance.exports(&engine) {
            if matches!(item.ty, ComponentItem::ComponentFunc(_)) {
                let called = format!("{name}#{function}");
                stubs.func_new(function, move |_, _, _, _| {
                    wasmtime::bail!("`{called}` was called while the JavaScript module loaded")
                })?;
            }
        }
    }
    Ok(())
}

/// `text` as a WAVE string literal.
fn wave_string(text: &str) -> String {
    let mut literal = String::with_capacity(text.len() + 2);
    literal.push('"');
    for c in text.chars() {
        match c {
            '"' => literal.push_str("\\\""),
            '\\' => literal.push_str("\\\\"),
            '\n' => literal.push_str("\\n"),
            '\t' => literal.push_str("\\t"),
            '\r' => literal.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(literal, "\\u{{{:x}}}", c as u32);
            }
            c => literal.push(c),
        }
    }
    literal.push('"');
    literal
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_javascript_by_name() {
        assert!(is_javascript("handler.js"));
        assert!(is_javascript("Handler.MJS"));
        assert!(!is_javascript("handler.wasm"));
        assert!(!is_javascript("js"));
    }

    #[test]
    fn wave_strings_escape_what_they_must() {
        assert_eq!(
            wave_string("a\"b\\c\nd\u{1}é"),
            "\"a\\\"b\\\\c\\nd\\u{1}é\""
        );
    }
}
