//! The recent-messages window: every message delivered on this node (not
//! fires), newest last, bounded by count and bytes. Long-poll subscribers
//! (PubNub's `/v2/subscribe`) are not connected between two polls; when they
//! come back with their cursor, they catch up from here, so nothing
//! published in between is missed as long as it is still in the window.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use super::channel::{Pattern, subscription_for};
use super::message::{Delivery, Published};
use super::timetoken::Timetoken;

/// The window.
pub struct Recent {
    inner: Mutex<Window>,
    max_messages: usize,
    max_bytes: usize,
}

#[derive(Default)]
struct Window {
    messages: VecDeque<Arc<Published>>,
    bytes: usize,
    /// The newest timetoken evicted so far.
    evicted_upto: Timetoken,
}

impl Recent {
    /// A window of at most `max_messages` messages and `max_bytes` bytes.
    pub fn new(max_messages: usize, max_bytes: usize) -> Self {
        Self {
            inner: Mutex::default(),
            max_messages: max_messages.max(1),
            max_bytes,
        }
    }

    /// Adds a delivered message (they arrive in timetoken order).
    pub fn push(&self, published: &Arc<Published>) {
        let mut window = self.inner.lock().expect("recent window poisoned");
        window.bytes += published.message.size();
        window.messages.push_back(Arc::clone(published));
        while window.messages.len() > self.max_messages || window.bytes > self.max_bytes {
            let Some(oldest) = window.messages.pop_front() else {
                break;
            };
            window.bytes -= oldest.message.size();
            window.evicted_upto = oldest.timetoken;
        }
    }

    /// Messages after `cursor` on channels matching `patterns`, oldest
    /// first, at most `limit`; each with the wildcard it matched. Also
    /// returns whether the window still reaches back to `cursor` (if not,
    /// some messages after it may have been evicted).
    pub fn after(
        &self,
        patterns: &[Pattern],
        cursor: Timetoken,
        limit: usize,
    ) -> (Vec<Delivery>, bool) {
        let window = self.inner.lock().expect("recent window poisoned");
        let complete = cursor >= window.evicted_upto;
        let start = window.messages.partition_point(|p| p.timetoken <= cursor);
        let found = window
            .messages
            .range(start..)
            .filter_map(|published| {
                let subscription = subscription_for(&published.message.channel, patterns)?;
                Some(Delivery {
                    published: Arc::clone(published),
                    subscription,
                })
            })
            .take(limit)
            .collect();
        (found, complete)
    }
}
