//! What lives in the `Store` of one invocation: WASI, wasi-http, outbound
//! policy, limits and the deadline. Built fresh for every invocation and
//! dropped with it.

use std::time::Instant;

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use super::limits::InstanceLimits;
use super::logs::LogCapture;
use super::outbound::OutboundCtx;

/// The store data of one invocation.
pub struct InvocationState {
    pub(super) table: ResourceTable,
    pub(super) wasi: WasiCtx,
    pub(super) http: WasiHttpCtx,
    pub(super) outbound: OutboundCtx,
    pub(super) limits: InstanceLimits,
    pub(super) logs: LogCapture,
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
