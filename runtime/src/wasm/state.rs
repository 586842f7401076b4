//! What lives in the `Store` of one invocation: WASI, wasi-http, each host
//! capability's state, limits and the deadline. Built fresh for every
//! invocation and dropped with it.

use std::time::Instant;

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use super::caps::bus::BusCtx;
use super::caps::kv::KvCtx;
use super::caps::log::{LogCapture, LogCtx};
use super::caps::outbound::OutboundCtx;
use super::caps::secrets::SecretsCtx;
use super::caps::tokens::TokensCtx;
use super::limits::InstanceLimits;

/// The store data of one invocation.
pub struct InvocationState {
    pub(super) table: ResourceTable,
    pub(super) wasi: WasiCtx,
    pub(super) http: WasiHttpCtx,
    pub(super) outbound: OutboundCtx,
    pub(super) kv: KvCtx,
    pub(super) bus: BusCtx,
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
