//! Per-instance resource limits, and a record of which one was hit so that a
//! resulting trap can be reported as "exceeded its memory limit" rather than
//! as a bare `unreachable`; and the limits on what one WASI call may make the
//! host allocate.
//!
//! Each limit here is the one a guest meets: the pooling allocator's slots
//! are sized from the same numbers (`engine_config`), never smaller.

use wasmtime::ResourceLimiter;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder};

/// Most elements a table may have. The pool's table slots hold exactly this
/// many (`PoolingAllocationConfig::table_elements`). Room for interpreters:
/// CPython built with componentize-py starts with about 6,000.
pub const MAX_TABLE_ELEMENTS: usize = 16_384;

/// Most bytes one `wasi:random` `get-random-bytes` (or insecure) call may
/// ask for; a larger request traps. The host allocates the bytes before
/// copying them into the guest, so this keeps one call far below any
/// function's memory limit (at least 1 MiB) instead of WASI's default 64 MiB.
pub const MAX_RANDOM_BYTES: u64 = 64 * 1024;

/// A WASI context builder with this module's limits; every store the
/// sandbox runs guest code in starts from it.
pub fn wasi_builder() -> WasiCtxBuilder {
    let mut builder = WasiCtx::builder();
    builder.max_random_size(MAX_RANDOM_BYTES);
    builder
}

/// The limits of one instance and what it tried to exceed.
pub struct InstanceLimits {
    memory_bytes: usize,
    /// The largest memory size asked for and refused, if any.
    pub memory_refused: Option<usize>,
    /// The largest table size asked for and refused, if any.
    pub table_refused: Option<usize>,
}

impl InstanceLimits {
    /// Limits allowing `memory_bytes` of linear memory in total per memory.
    pub fn new(memory_bytes: usize) -> Self {
        Self {
            memory_bytes,
            memory_refused: None,
            table_refused: None,
        }
    }

    /// The memory limit, in bytes.
    pub fn memory_bytes(&self) -> usize {
        self.memory_bytes
    }
}

impl ResourceLimiter for InstanceLimits {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let allowed = desired <= self.memory_bytes && maximum.is_none_or(|max| desired <= max);
        if !allowed {
            self.memory_refused = Some(self.memory_refused.unwrap_or(0).max(desired));
        }
        Ok(allowed)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let allowed = desired <= MAX_TABLE_ELEMENTS && maximum.is_none_or(|max| desired <= max);
        if !allowed {
            self.table_refused = Some(self.table_refused.unwrap_or(0).max(desired));
        }
        Ok(allowed)
    }
}
