//! Interval functions: one task per deployed version of a function with
//! `every`, running it every N seconds, one run at a time. A task ends by
//! itself once its deployment (generation) is no longer the current one.
//! In a cluster every node ticks at the wall clock's multiples of `every`,
//! and the node that claims the period (Unix time divided by `every`) first
//! runs it: once per period cluster-wide.

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use tokio::time::MissedTickBehavior;

use super::records::Records;
use super::registry::Registry;
use crate::wasm::Sandbox;

/// Starts the interval task for deployment `generation` of function `name`.
pub fn spawn(
    registry: Arc<ArcSwap<Registry>>,
    sandbox: Arc<Sandbox>,
    name: String,
    generation: u64,
    every: u64,
    records: Arc<dyn Records>,
) {
    tokio::spawn(async move {
        let period = Duration::from_secs(every);
        // In a cluster every node ticks on the wall clock's multiples of
        // the period, so all of them compete for the same period.
        let first = if records.shared() {
            let every_ms = every.max(1) * 1000;
            Duration::from_millis(every_ms - crate::clock::unix_ms() % every_ms)
        } else {
            period
        };
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + first, period);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let current = registry.load();
            let Some(function) = current.get(&name).filter(|f| f.generation == generation) else {
                return;
            };
            let period = crate::clock::unix_ms() / 1000 / every.max(1);
            let version = function.deployment.version;
            if !Arc::clone(&records)
                .claim_run(name.clone(), version, period)
                .await
            {
                continue;
            }
            let timeout = function
                .deployment
                .spec
                .timeout(sandbox.config().default_timeout());
            // Failures are already logged to the function's log and counted.
            let _ = sandbox.interval(&function.prepared, timeout).await;
        }
    });
}
