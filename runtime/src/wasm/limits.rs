//! Per-instance resource limits, and a record of which one was hit so that a
//! resulting trap can be reported as "exceeded its memory limit" rather than
//! as a bare `unreachable`.

use wasmtime::ResourceLimiter;

/// Most table elements an instance may have (per table).
pub const MAX_TABLE_ELEMENTS: usize = 1 << 20;

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
