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
//! - [`presence`]: the `edgefn:functions/presence` interface;
//! - [`history`]: the `edgefn:functions/history` interface;
//! - [`actions`]: the `edgefn:functions/message-actions` interface;
//! - [`objects`]: the `edgefn:functions/objects` interface (App Context
//!   metadata and memberships);
//! - [`groups`]: the `edgefn:functions/channel-groups` interface;
//! - [`files`]: the `edgefn:functions/files` interface;
//! - [`tokens`]: the `edgefn:functions/tokens` interface;
//! - [`secrets`]: the `edgefn:functions/secrets` interface;
//! - [`log`]: `edgefn:functions/log`, plus captured stdout/stderr.

pub mod actions;
pub mod bus;
pub mod files;
pub mod groups;
pub mod history;
pub mod kv;
pub mod log;
pub mod objects;
pub mod outbound;
pub mod presence;
pub mod secrets;
pub mod tokens;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use self::log::{FunctionLogs, LogSource};
use crate::bus::Timetoken;

/// A per-invocation budget of calls to one capability (or to several that
/// [share](Budget::share) it, as bus, presence, history, message actions,
/// App Context, channel groups and files do: PubNub counts them all as API
/// calls).
pub struct Budget {
    what: &'static str,
    limit: u32,
    used: Arc<AtomicU32>,
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
            used: Arc::default(),
            logs,
            invocation,
        }
    }

    /// The same budget, for another capability: a call counted by either
    /// counts for both.
    pub fn share(&self) -> Self {
        Self {
            what: self.what,
            limit: self.limit,
            used: Arc::clone(&self.used),
            logs: Arc::clone(&self.logs),
            invocation: self.invocation,
        }
    }

    /// Counts one call.
    ///
    /// # Errors
    /// A sentence naming the budget once it is used up (the first refusal
    /// is also written to the function's log).
    pub fn spend(&mut self) -> Result<(), String> {
        let used = self
            .used
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                Some(n.saturating_add(1))
            })
            .unwrap_or_else(|n| n)
            .saturating_add(1);
        if used <= self.limit {
            return Ok(());
        }
        let message = format!(
            "{} budget exhausted: at most {} calls per invocation",
            self.what, self.limit
        );
        if used == self.limit + 1 {
            self.logs
                .push(self.invocation, LogSource::Host, message.clone());
        }
        Err(message)
    }
}

/// Parses a timetoken argument (17 decimal digits) that a guest named
/// `what` (as in "`start`").
///
/// # Errors
/// A sentence naming the argument and what was given.
pub fn timetoken(what: &str, text: &str) -> Result<Timetoken, String> {
    text.parse()
        .map_err(|_| format!("{what} must be a timetoken (17 decimal digits), not {text:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shared_budget_counts_every_call_once() {
        let logs = Arc::new(FunctionLogs::new("f".into(), 16));
        let mut bus = Budget::new("bus", 3, Arc::clone(&logs), 7);
        let mut presence = bus.share();
        let mut history = presence.share();
        assert!(bus.spend().is_ok());
        assert!(presence.spend().is_ok());
        assert!(history.spend().is_ok());
        let refused = presence.spend().unwrap_err();
        assert_eq!(
            refused,
            "bus budget exhausted: at most 3 calls per invocation"
        );
        assert!(bus.spend().is_err());
        let logged: Vec<_> = logs.tail(10).into_iter().map(|l| l.text).collect();
        assert_eq!(logged, vec![refused], "the first refusal is logged, once");
    }
}
