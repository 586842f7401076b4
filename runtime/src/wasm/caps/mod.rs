//! Host capabilities: what a guest may call besides WASI. One module each,
//! in the shape of Spin's factors: `mod.rs` holds the capability's
//! per-invocation state (`*Ctx`) and what it shares across invocations;
//! `host.rs` holds only the WIT `Host` implementation; limits live in the
//! node's [`WasmConfig`](crate::config::WasmConfig) and the function's spec.
//!
//! Going over a limit is an ordinary error the guest sees (and a line in the
//! function's log), never a trap.
//!
//! # Layout
//! - [`outbound`]: `wasi:http/outgoing-handler`, allow-listed;
//! - [`kv`]: the `edgefn:functions/kv` interface;
//! - [`bus`]: the `edgefn:functions/bus` interface;
//! - [`tokens`]: the `edgefn:functions/tokens` interface;
//! - [`secrets`]: the `edgefn:functions/secrets` interface;
//! - [`log`]: `edgefn:functions/log`, plus captured stdout/stderr.

pub mod bus;
pub mod kv;
pub mod log;
pub mod outbound;
pub mod secrets;
pub mod tokens;

use std::sync::Arc;

use self::log::{FunctionLogs, LogSource};

/// A per-invocation budget of calls to one capability.
pub struct Budget {
    what: &'static str,
    limit: u32,
    used: u32,
    logs: Arc<FunctionLogs>,
    invocation: u64,
}

impl Budget {
    /// A budget of `limit` calls for `what` ("KV", "bus", ...), reporting
    /// exhaustion to `logs` as part of `invocation`.
    pub fn new(what: &'static str, limit: u32, logs: Arc<FunctionLogs>, invocation: u64) -> Self {
        Self {
            what,
            limit,
            used: 0,
            logs,
            invocation,
        }
    }

    /// Counts one call.
    ///
    /// # Errors
    /// A sentence naming the budget once it is used up (the first refusal
    /// is also written to the function's log).
    pub fn spend(&mut self) -> Result<(), String> {
        self.used = self.used.saturating_add(1);
        if self.used <= self.limit {
            return Ok(());
        }
        let message = format!(
            "{} budget exhausted: at most {} calls per invocation",
            self.what, self.limit
        );
        if self.used == self.limit + 1 {
            self.logs
                .push(self.invocation, LogSource::Host, message.clone());
        }
        Err(message)
    }
}
