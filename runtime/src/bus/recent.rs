//! The recent-messages window: every message delivered on this node (not
//! fires), newest last, bounded by count and bytes. Long-poll subscribers
//! (PubNub's `/v2/subscribe`) are not connected between two polls; when they
//! come back with their cursor, they catch up from here, so nothing
//! published in between is missed as long as it is still in the window.
//!
//! Messages arrive in timetoken order, so a cursor splits the window in
//! two: alone, the sequencer hands timetokens out in order; in a cluster,
//! the log's chain gives them in log order, on every channel, whatever the
//! appenders' clocks (see [`super::sequencer`]).

use std::collections::VecDeque;
use std::sync::Arc;

use super::channel::{Channel, Pattern};
use super::history::Deletion;
use super::message::Delivery;
use super::timetoken::Timetoken;
use parking_lot::Mutex;

/// The window.
pub struct Recent {
    inner: Mutex<Window>,
    max_messages: usize,
    max_bytes: usize,
}

#[derive(Default)]
struct Window {
    /// Each message as delivered to subscribers that name its channel, so
    /// what a long-poll encodes of it is shared with them.
    messages: VecDeque<Arc<Delivery>>,
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
    pub fn push(&self, delivery: &Arc<Delivery>) {
        let mut window = self.inner.lock();
        window.bytes += delivery.published.message.size();
        window.messages.push_back(Arc::clone(delivery));
        while window.messages.len() > self.max_messages || window.bytes > self.max_bytes {
            let Some(oldest) = window.messages.pop_front() else {
                break;
            };
            window.bytes -= oldest.published.message.size();
            window.evicted_upto = oldest.published.timetoken;
        }
    }

    /// Drops the messages of `channel` that `range` deleted from history, so
    /// that no catch-up or replay returns them again.
    pub fn forget(&self, channel: &Channel, range: Deletion) {
        let mut window = self.inner.lock();
        let mut freed = 0;
        window.messages.retain(|d| {
            let published = &d.published;
            let deleted = published.message.channel == *channel
                && (range.from..=range.to).contains(&published.timetoken);
            if deleted {
                freed += published.message.size();
            }
            !deleted
        });
        window.bytes -= freed;
    }

    /// Messages after `cursor` on channels matching `patterns`, oldest
    /// first, at most `limit` (as delivered to exact subscribers: the
    /// reader labels wildcard matches itself). Also
    /// returns whether the window still reaches back to `cursor` (if not,
    /// some messages after it may have been evicted).
    pub fn after(
        &self,
        patterns: &[Pattern],
        cursor: Timetoken,
        limit: usize,
    ) -> (Vec<Arc<Delivery>>, bool) {
        let window = self.inner.lock();
        let complete = cursor >= window.evicted_upto;
        let start = window
            .messages
            .partition_point(|d| d.published.timetoken <= cursor);
        let found = window
            .messages
            .range(start..)
            .filter(|d| {
                let channel = &d.published.message.channel;
                patterns.iter().any(|p| p.matches(channel))
            })
            .take(limit)
            .cloned()
            .collect();
        (found, complete)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bus::{Channel, Message, MessageKind, Published};

    fn published(channel: &str, timetoken: u64, payload: &str) -> Arc<Delivery> {
        let channel = Channel::parse(channel).unwrap();
        let published = Arc::new(Published {
            timetoken: Timetoken(timetoken),
            message: Message::new(channel, MessageKind::Publish, payload, None, None).unwrap(),
        });
        Arc::new(Delivery::new(published, None))
    }

    fn patterns(list: &str) -> Vec<Pattern> {
        crate::bus::parse_pattern_list(list).unwrap()
    }

    fn timetokens(found: &[Arc<Delivery>]) -> Vec<u64> {
        found.iter().map(|d| d.published.timetoken.0).collect()
    }

    #[test]
    fn a_cursor_gets_what_came_after_it_on_its_channels_oldest_first() {
        let recent = Recent::new(100, 1 << 20);
        let mut pushed = Vec::new();
        for (channel, timetoken) in [("a", 10), ("b", 11), ("c.x", 12), ("a", 13), ("b", 14)] {
            pushed.push(published(channel, timetoken, "1"));
            recent.push(pushed.last().unwrap());
        }
        let (found, complete) = recent.after(&patterns("a,b"), Timetoken(10), 100);
        assert_eq!(timetokens(&found), [11, 13, 14]);
        assert!(complete);
        let (found, _) = recent.after(&patterns("a,b"), Timetoken(0), 2);
        assert_eq!(
            timetokens(&found),
            [10, 11],
            "at most the limit, oldest first"
        );
        let (found, _) = recent.after(&patterns("c.*,a"), Timetoken(11), 100);
        assert_eq!(timetokens(&found), [12, 13]);
        assert!(
            Arc::ptr_eq(&found[0], &pushed[2]),
            "the delivery itself, with what was encoded of it"
        );
        let (found, complete) = recent.after(&patterns("a,b"), Timetoken(14), 100);
        assert!(found.is_empty() && complete, "nothing after the newest");

        // Deleted from history: gone from here too.
        let range = Deletion {
            from: Timetoken(11),
            to: Timetoken(14),
        };
        recent.forget(&Channel::parse("b").unwrap(), range);
        let (found, complete) = recent.after(&patterns("a,b"), Timetoken(0), 100);
        assert_eq!(timetokens(&found), [10, 13]);
        assert!(complete);
    }

    #[test]
    fn eviction_by_count_or_bytes_says_the_window_no_longer_reaches_back() {
        let recent = Recent::new(3, 1 << 20);
        for timetoken in 1..=5 {
            recent.push(&published("a", timetoken, "1"));
        }
        let (found, complete) = recent.after(&patterns("a"), Timetoken(1), 100);
        assert_eq!(timetokens(&found), [3, 4, 5]);
        assert!(!complete, "2 was evicted");
        let (_, complete) = recent.after(&patterns("a"), Timetoken(2), 100);
        assert!(complete, "everything after 2 is still there");

        // Three-byte payloads in a window of eight bytes: two fit.
        let recent = Recent::new(100, 8);
        for timetoken in 1..=4 {
            recent.push(&published("a", timetoken, "\"x\""));
        }
        let (found, complete) = recent.after(&patterns("a"), Timetoken(0), 100);
        assert_eq!(timetokens(&found), [3, 4]);
        assert!(!complete);
    }
}
