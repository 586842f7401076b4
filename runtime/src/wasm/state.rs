//! What lives in the `Store` of one invocation: WASI, wasi-http, each host
//! capability's state, limits and the deadline. Built fresh for every
//! invocation ([`new_store`]) and dropped with it.

use std::sync::Arc;
use std::time::Instant;

use wasmtime::component::ResourceTable;
use wasmtime::{Store, UpdateDeadline};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use super::caps::Budget;
use super::caps::actions::ActionsCtx;
use super::caps::bus::BusCtx;
use super::caps::files::FilesCtx;
use super::caps::groups::GroupsCtx;
use super::caps::history::HistoryCtx;
use super::caps::kv::KvCtx;
use super::caps::log::{LogCapture, LogCtx};
use super::caps::objects::ObjectsCtx;
use super::caps::outbound::OutboundCtx;
use super::caps::presence::PresenceCtx;
use super::caps::secrets::SecretsCtx;
use super::caps::tokens::TokensCtx;
use super::limits::InstanceLimits;
use super::{PreparedFunction, Sandbox};
use crate::bus::FUNCTION_ID_PREFIX;

/// The store data of one invocation.
pub struct InvocationState {
    pub(super) table: ResourceTable,
    pub(super) wasi: WasiCtx,
    pub(super) http: WasiHttpCtx,
    pub(super) outbound: OutboundCtx,
    pub(super) kv: KvCtx,
    pub(super) bus: BusCtx,
    pub(super) presence: PresenceCtx,
    pub(super) history: HistoryCtx,
    pub(super) actions: ActionsCtx,
    pub(super) objects: ObjectsCtx,
    pub(super) groups: GroupsCtx,
    pub(super) files: FilesCtx,
    pub(super) tokens: TokensCtx,
    pub(super) secrets: SecretsCtx,
    pub(super) log: LogCtx,
    pub(super) limits: InstanceLimits,
    pub(super) output: LogCapture,
    /// When the epoch callback interrupts the guest.
    pub(super) deadline: Instant,
}

impl WasiView for InvocationState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for InvocationState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.outbound,
        }
    }
}

/// A store for invocation `id` of `function`, interrupted at `deadline`,
/// triggered by a message of chain depth `depth`.
pub(super) fn new_store(
    sandbox: &Sandbox,
    function: &PreparedFunction,
    id: u64,
    deadline: Instant,
    depth: u8,
) -> Store<InvocationState> {
    let output = LogCapture::new(sandbox.config.max_log_bytes);
    let wasi = super::limits::wasi_builder()
        .envs(&function.env)
        .stdout(output.clone())
        .stderr(output.stderr())
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false)
        .build();
    let budget = |what, limit| Budget::new(what, limit, Arc::clone(&function.logs), id);
    let services = &sandbox.services;
    // Publishes, presence, history, message-action, App Context, channel
    // group and file calls are all PubNub API calls: they share one
    // budget. The function acts as `fn:NAME`.
    let bus_budget = budget("bus", function.budgets.bus);
    let identity = format!("{FUNCTION_ID_PREFIX}{}", function.name);
    let state = InvocationState {
        table: ResourceTable::new(),
        wasi,
        http: WasiHttpCtx::new(),
        outbound: OutboundCtx {
            rules: Arc::clone(&function.outbound),
            limits: Arc::clone(&sandbox.outbound_limits),
            budget: budget("outbound HTTP", function.budgets.http),
            logs: Arc::clone(&function.logs),
            metrics: Arc::clone(&sandbox.metrics),
            invocation: id,
        },
        kv: KvCtx {
            kv: services.kv.clone(),
            budget: budget("KV", function.budgets.kv),
        },
        presence: PresenceCtx {
            table: Arc::clone(&services.presence),
            budget: bus_budget.share(),
        },
        history: HistoryCtx {
            reader: Arc::clone(&services.history),
            budget: bus_budget.share(),
        },
        actions: ActionsCtx {
            book: Arc::clone(&services.actions),
            budget: bus_budget.share(),
            author: identity.clone(),
        },
        objects: ObjectsCtx {
            context: Arc::clone(&services.objects),
            budget: bus_budget.share(),
            author: identity.clone(),
        },
        groups: GroupsCtx {
            groups: Arc::clone(&services.groups),
            budget: bus_budget.share(),
        },
        files: FilesCtx {
            files: Arc::clone(&services.files),
            budget: bus_budget.share(),
        },
        bus: BusCtx {
            publisher: Arc::clone(&services.publisher),
            budget: bus_budget,
            depth,
            publisher_id: identity,
        },
        tokens: TokensCtx {
            access: Arc::clone(&services.access),
            may_grant: function.may_grant,
            function: Arc::clone(&function.name),
        },
        secrets: SecretsCtx {
            secrets: Arc::clone(&function.secrets),
        },
        log: LogCtx {
            logs: Arc::clone(&function.logs),
            invocation: id,
            budget: output.clone(),
        },
        limits: InstanceLimits::new(function.memory_bytes),
        output,
        deadline,
    };
    let mut store = Store::new(&sandbox.engine, state);
    store.limiter(|state| &mut state.limits);
    // Yield to the executor at every epoch tick so a busy guest never
    // holds a worker thread, and stop it at its deadline.
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(|cx| {
        if Instant::now() >= cx.data().deadline {
            Ok(UpdateDeadline::Interrupt)
        } else {
            Ok(UpdateDeadline::Yield(1))
        }
    });
    store
}
