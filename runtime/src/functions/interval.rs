//! Interval functions: one task per deployed version of a function with
//! `every`, running it every N seconds, one run at a time. A task ends by
//! itself once its deployment (generation) is no longer the current one.

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use tokio::time::MissedTickBehavior;

use super::registry::Registry;
use crate::wasm::Sandbox;

/// Starts the interval task for deployment `generation` of function `name`.
pub fn spawn(
    registry: Arc<ArcSwap<Registry>>,
    sandbox: Arc<Sandbox>,
    name: String,
    generation: u64,
    every: u64,
) {
    tokio::spawn(async move {
        let period = Duration::from_secs(every);
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let current = registry.load();
            let Some(function) = current.get(&name).filter(|f| f.generation == generation) else {
                return;
            };
            let timeout = function
                .deployment
                .spec
                .timeout(sandbox.config().default_timeout());
            // Failures are already logged to the function's log and counted.
            let _ = sandbox.interval(&function.prepared, timeout).await;
        }
    });
}
