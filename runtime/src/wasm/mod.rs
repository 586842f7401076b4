//! The function sandbox: Wasmtime with the component model, a pooling
//! allocator, epoch-interruption deadlines, per-instance memory limits,
//! compiled-artifact caching, WASI without filesystem or sockets, and
//! allow-listed outbound HTTP.
//!
//! Every invocation gets a fresh instance from the function's pre-linked
//! `InstancePre`, in a fresh `Store`, and nothing survives it.
//!
//! # Layout
//! - [`bindings`]: the host side of the `edgefn:functions` WIT package;
//! - [`component`]: format checks, compile cache, linking, export discovery;
//! - [`invoke`]: running hooks and interval functions under their limits;
//! - [`endpoint`]: running HTTP endpoint functions;
//! - [`javascript`]: turning a `.js` module into a component (the built-in
//!   QuickJS runner, snapshotted with the module loaded);
//! - [`state`]: the per-invocation store data;
//! - [`limits`]: memory and table limits;
//! - [`caps`]: the host capabilities (outbound HTTP, KV, bus, presence,
//!   history, message actions, App Context, channel groups, files, tokens,
//!   secrets, logging), one module each.

pub mod bindings;
pub mod caps;
pub mod component;
pub mod endpoint;
pub mod invoke;
pub mod javascript;
pub mod limits;
pub mod state;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use std::collections::{BTreeMap, HashSet};

use wasmtime::component::{HasSelf, Linker};
use wasmtime::{Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use self::caps::actions::ActionBook;
use self::caps::bus::Publisher;
use self::caps::files::SharedFiles;
use self::caps::groups::ChannelGroups;
use self::caps::history::HistoryReader;
use self::caps::log::FunctionLogs;
use self::caps::objects::AppContext;
use self::caps::outbound::OutboundRule;
use self::caps::presence::PresenceTable;
pub use self::component::{ComponentError, LoadedComponent};
pub use self::invoke::{HookDecision, InvokeError};
use self::state::InvocationState;
use crate::access::Access;
use crate::config::{OutboundConfig, WasmConfig};
use crate::kv::Kv;
use crate::metrics::Metrics;

/// How often the engine's epoch advances: the granularity of deadlines.
const EPOCH_TICK: Duration = Duration::from_millis(1);
const MIB: usize = 1024 * 1024;

/// A function as the sandbox runs it.
pub struct PreparedFunction {
    /// Its name, for errors, logs and metrics.
    pub name: Arc<str>,
    /// Its compiled, linked component.
    pub component: LoadedComponent,
    /// Its configuration, as environment variables.
    pub env: Vec<(String, String)>,
    /// Its memory limit per instance, in bytes.
    pub memory_bytes: usize,
    /// Where it may send outbound HTTP.
    pub outbound: Arc<[OutboundRule]>,
    /// Its log.
    pub logs: Arc<FunctionLogs>,
    /// Its secrets, unsealed.
    pub secrets: Arc<BTreeMap<String, String>>,
    /// Whether it may grant and revoke tokens.
    pub may_grant: bool,
    /// Its calls per invocation.
    pub budgets: Budgets,
    /// Invocations it may run at once.
    pub max_concurrency: u32,
    /// One permit per invocation that may run now.
    pub slots: Arc<tokio::sync::Semaphore>,
}

/// Calls a function may make per invocation, by capability.
#[derive(Debug, Clone, Copy)]
pub struct Budgets {
    /// Outbound HTTP requests.
    pub http: u32,
    /// KV calls.
    pub kv: u32,
    /// Publish, fire and signal calls, and presence, history,
    /// message-action and App Context calls (PubNub API calls, all in one
    /// budget).
    pub bus: u32,
}

/// What the node lends the sandbox's capabilities.
#[derive(Clone)]
pub struct HostServices {
    /// The KV store behind the KV capability.
    pub kv: Kv,
    /// Access control, for the tokens capability.
    pub access: Arc<Access>,
    /// The node's publish path, for the bus capability.
    pub publisher: Arc<dyn Publisher>,
    /// The node's presence table, for the presence capability.
    pub presence: Arc<dyn PresenceTable>,
    /// The node's history, for the history capability.
    pub history: Arc<dyn HistoryReader>,
    /// The node's message actions, for the message-actions capability.
    pub actions: Arc<dyn ActionBook>,
    /// The node's App Context objects, for the objects capability.
    pub objects: Arc<dyn AppContext>,
    /// The node's channel groups, for the channel-groups capability.
    pub groups: Arc<dyn ChannelGroups>,
    /// The node's shared files, for the files capability.
    pub files: Arc<dyn SharedFiles>,
}

/// The engine, linker and limits shared by every function on the node.
pub struct Sandbox {
    engine: Engine,
    linker: Linker<InvocationState>,
    cache_dir: PathBuf,
    config: WasmConfig,
    outbound_limits: Arc<OutboundConfig>,
    services: HostServices,
    metrics: Arc<Metrics>,
    invocations: AtomicU64,
    _ticker: EpochTicker,
}

impl Sandbox {
    /// Builds the engine and linker; compiled components are cached under
    /// `data_dir/compiled`.
    ///
    /// # Errors
    /// When the engine cannot be configured (e.g. not enough address space
    /// for the pool) or the cache directory cannot be created.
    pub fn new(
        config: WasmConfig,
        data_dir: &Path,
        services: HostServices,
        metrics: Arc<Metrics>,
    ) -> anyhow::Result<Self> {
        let engine = Engine::new(&engine_config(&config))?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
        bindings::kv::add_to_linker::<_, HasSelf<_>>(&mut linker, |s: &mut InvocationState| {
            &mut s.kv
        })?;
        bindings::bus::add_to_linker::<_, HasSelf<_>>(&mut linker, |s: &mut InvocationState| {
            &mut s.bus
        })?;
        bindings::presence::add_to_linker::<_, HasSelf<_>>(
            &mut linker,
            |s: &mut InvocationState| &mut s.presence,
        )?;
        bindings::history::add_to_linker::<_, HasSelf<_>>(
            &mut linker,
            |s: &mut InvocationState| &mut s.history,
        )?;
        bindings::message_actions::add_to_linker::<_, HasSelf<_>>(
            &mut linker,
            |s: &mut InvocationState| &mut s.actions,
        )?;
        bindings::objects::add_to_linker::<_, HasSelf<_>>(
            &mut linker,
            |s: &mut InvocationState| &mut s.objects,
        )?;
        bindings::channel_groups::add_to_linker::<_, HasSelf<_>>(
            &mut linker,
            |s: &mut InvocationState| &mut s.groups,
        )?;
        bindings::files::add_to_linker::<_, HasSelf<_>>(&mut linker, |s: &mut InvocationState| {
            &mut s.files
        })?;
        bindings::tokens::add_to_linker::<_, HasSelf<_>>(
            &mut linker,
            |s: &mut InvocationState| &mut s.tokens,
        )?;
        bindings::secrets::add_to_linker::<_, HasSelf<_>>(
            &mut linker,
            |s: &mut InvocationState| &mut s.secrets,
        )?;
        bindings::log::add_to_linker::<_, HasSelf<_>>(&mut linker, |s: &mut InvocationState| {
            &mut s.log
        })?;
        let cache_dir = data_dir.join("compiled");
        std::fs::create_dir_all(&cache_dir)?;
        Ok(Self {
            _ticker: EpochTicker::start(engine.clone()),
            engine,
            linker,
            cache_dir,
            outbound_limits: Arc::new(config.outbound.clone()),
            config,
            services,
            metrics,
            invocations: AtomicU64::new(1),
        })
    }

    /// The sandbox's limits.
    pub fn config(&self) -> &WasmConfig {
        &self.config
    }

    /// Compiles (or loads from cache) and links a component.
    ///
    /// # Errors
    /// [`ComponentError`] when the bytes cannot run here.
    pub async fn load(
        &self,
        hash: &str,
        bytes: Arc<[u8]>,
    ) -> Result<LoadedComponent, ComponentError> {
        let (engine, cache_dir, hash) =
            (self.engine.clone(), self.cache_dir.clone(), hash.to_owned());
        let component = tokio::task::spawn_blocking(move || {
            component::compile(&engine, &cache_dir, &hash, &bytes)
        })
        .await
        .map_err(|e| ComponentError::Invalid(format!("compilation task failed: {e}")))??;
        component::prepare(&self.linker, &component)
    }

    /// Removes the compiled artifacts of other engine configurations and,
    /// when `in_use` is given (the content hashes of the deployed
    /// functions), of components not in it.
    pub async fn remove_unused_artifacts(&self, in_use: Option<HashSet<String>>) {
        let (engine, cache_dir) = (self.engine.clone(), self.cache_dir.clone());
        let removed = tokio::task::spawn_blocking(move || {
            component::remove_unused(&engine, &cache_dir, in_use.as_ref());
        })
        .await;
        if let Err(e) = removed {
            tracing::warn!(error = %e, "the compiled-artifact clean-up failed");
        }
    }

    fn next_invocation(&self) -> u64 {
        self.invocations.fetch_add(1, Ordering::Relaxed)
    }
}

/// The engine configuration a sandbox with `config` runs on: the pooling
/// allocator sized for `config`, epoch interruption, stack limits.
///
/// Slots are recycled cheaply: a freed memory keeps up to 2 MiB resident,
/// and where Linux offers `PAGEMAP_SCAN` (6.7 and later) only the pages an
/// instance actually touched are reset (copied back from the image or
/// zeroed) instead of the whole 2 MiB, which halves the cost of a small
/// hook's invocation. Memory that was not resident is decommitted either
/// way, so no byte of one invocation is visible to the next.
pub fn engine_config(config: &WasmConfig) -> Config {
    let instances = config.max_instances.max(1);
    let mut pool = PoolingAllocationConfig::new();
    pool.total_component_instances(instances)
        .total_core_instances(instances.saturating_mul(8))
        .total_memories(instances.saturating_mul(2))
        .total_tables(instances.saturating_mul(8))
        .total_stacks(instances)
        .max_memories_per_component(4)
        .max_memory_size(config.max_memory_mb as usize * MIB)
        .table_elements(limits::MAX_TABLE_ELEMENTS)
        .linear_memory_keep_resident(2 * MIB)
        .table_keep_resident(64 * 1024)
        .pagemap_scan(Enabled::Auto);
    let mut wasm = Config::new();
    wasm.wasm_component_model(true)
        .epoch_interruption(true)
        .max_wasm_stack(config.max_stack_kb * 1024)
        .async_stack_size(config.max_stack_kb * 1024 + 2 * MIB)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    wasm
}

/// Advances the engine's epoch every [`EPOCH_TICK`] until dropped.
struct EpochTicker {
    stop: Arc<AtomicBool>,
}

impl EpochTicker {
    fn start(engine: Engine) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        std::thread::Builder::new()
            .name("edgefn-epoch".into())
            .spawn(move || {
                while !stopped.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    engine.increment_epoch();
                }
            })
            .expect("cannot start the epoch thread");
        Self { stop }
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
