//! Joining a replay with the live feed, for subscribes with `since`: the
//! live subscription starts first, then history is read page by page, then
//! what the node delivered after the last page but has not stored yet (or
//! never stores) from its window of recent deliveries; live messages that
//! the replay already delivered are skipped, so the subscriber sees every
//! message once, with no gap.

use std::collections::HashSet;
use std::sync::Arc;

use crate::bus::channel::subscription_for;
use crate::bus::{Channel, Delivery, Pattern, Published, Timetoken};

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
