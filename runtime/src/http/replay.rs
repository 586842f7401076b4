//! Joining a replay with the live feed, for subscribes with `since`: the
//! live subscription starts first, then history is read page by page, then
//! what the node delivered after the last page but has not stored yet (or
//! never stores) from its window of recent deliveries; live messages that
//! the replay already delivered are skipped, so the subscriber sees every
//! message once, with no gap.
//!
//! When history has dropped messages after `since` on some of the
//! channels (to keep to its per-channel limit), the subscriber is told
//! first with a `reset` ([`history_gap`]): it should reload those
//! channels' state, as what follows cannot fill the gap.

use std::collections::HashSet;
use std::sync::Arc;

use serde_json::{Value, json};

use super::error::ApiError;
use crate::bus::channel::subscription_for;
use crate::bus::{Bus, Channel, Delivery, Pattern, Published, Timetoken};

/// The `reset` notice for a replay of `patterns` from `since`, when history
/// no longer holds every message after it on some channels: `{"code":
/// "history_gap", "since", "channels": [{"channel", "dropped_through"}],
/// "message"}`, where `dropped_through` is the newest timetoken the
/// channel dropped. `None` when nothing is missing.
///
/// # Errors
/// When history cannot be read.
pub async fn history_gap(
    bus: &Bus,
    patterns: &[Pattern],
    since: Timetoken,
) -> Result<Option<Value>, ApiError> {
    let dropped = bus.dropped_after(patterns.to_vec(), since).await?;
    if dropped.is_empty() {
        return Ok(None);
    }
    let channels: Vec<Value> = dropped
        .iter()
        .map(|(channel, newest)| {
            json!({ "channel": channel.as_str(), "dropped_through": newest.to_string() })
        })
        .collect();
    Ok(Some(json!({
        "code": "history_gap",
        "since": since.to_string(),
        "channels": channels,
        "message": "history no longer holds every message after `since` on these channels                     (it keeps the newest ones per channel); reload their state:                     what follows starts after `dropped_through`",
    })))
}

/// Remembers what a replay delivered until the live feed has moved past it.
#[derive(Default)]
pub struct ReplayFilter {
    replayed: HashSet<(Channel, Timetoken)>,
    upto: Timetoken,
}

impl ReplayFilter {
    /// Turns replayed messages into deliveries (reporting the wildcard
    /// pattern they match, as live deliveries do) and remembers them.
    pub fn replay(
        &mut self,
        messages: impl IntoIterator<Item = Arc<Published>>,
        patterns: &[Pattern],
    ) -> Vec<Delivery> {
        messages
            .into_iter()
            .map(|published| {
                self.upto = self.upto.max(published.timetoken);
                self.replayed
                    .insert((published.message.channel.clone(), published.timetoken));
                let subscription = subscription_for(&published.message.channel, patterns).flatten();
                Delivery::new(published, subscription)
            })
            .collect()
    }

    /// Whether a live delivery should be passed on (it was not replayed).
    pub fn admit(&mut self, delivery: &Delivery) -> bool {
        if self.replayed.is_empty() {
            return true;
        }
        let published = &delivery.published;
        if published.timetoken > self.upto {
            self.replayed.clear();
            return true;
        }
        !self
            .replayed
            .contains(&(published.message.channel.clone(), published.timetoken))
    }
}
