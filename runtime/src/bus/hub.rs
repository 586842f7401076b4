//! The hub: this node's local subscribers and the fan-out to them.
//!
//! Every subscriber (one SSE stream or one WebSocket connection) owns one
//! bounded queue. Fan-out never waits: when a subscriber's queue is full, the
//! subscriber is counted as slow and disconnected (its connection sees
//! [`Closed::Slow`] once it has drained what was queued), so one slow reader
//! never holds up the others or makes the node buffer without bound. A client
//! that reconnects with the last timetoken it saw resumes from history.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};

use parking_lot::RwLock;
use tokio::sync::mpsc;

use super::channel::{Channel, Pattern};
use super::history::Deletion;
use super::message::{Delivery, Published};
use super::recent::Recent;
use super::timetoken::Timetoken;
use crate::metrics::Metrics;

/// Why a subscription ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closed {
    /// The subscriber did not keep up: its queue filled and it was cut off.
    Slow,
}

/// This node's subscriptions.
pub struct Hub {
    state: RwLock<HubState>,
    /// What was delivered lately, for subscribers that reconnect.
    recent: Recent,
    queue_capacity: usize,
    next_id: AtomicU64,
    /// Numbers the messages fanned out, so a subscriber that several of
    /// its patterns match gets each one once.
    next_stamp: AtomicU64,
    metrics: Arc<Metrics>,
}

#[derive(Default)]
struct HubState {
    /// Subscribers by exact channel.
    exact: HashMap<Channel, Vec<Entry>>,
    /// Subscribers by wildcard prefix (`chat.` for `chat.*`).
    prefix: HashMap<String, Wildcard>,
    /// Subscribers to presence channels by wildcard prefix (`chat.` for
    /// `chat.*-pnpres`).
    presence_prefix: HashMap<String, Wildcard>,
    /// Every subscriber: its queue and the patterns it holds.
    subscribers: HashMap<u64, Subscriber>,
}

/// The subscribers of one wildcard pattern.
struct Wildcard {
    /// The pattern's text, which deliveries through it report.
    label: Arc<str>,
    entries: Vec<Entry>,
}

struct Subscriber {
    entry: Entry,
    patterns: Vec<Pattern>,
}

#[derive(Clone)]
struct Entry {
    id: u64,
    queue: mpsc::Sender<Arc<Delivery>>,
    shared: Arc<Shared>,
}

/// What the hub and a subscription's owner both see.
#[derive(Default)]
struct Shared {
    slow: AtomicBool,
    /// The stamp of the last message queued for this subscriber.
    last_stamp: AtomicU64,
}

/// One subscriber's end of its queue. Dropping it unsubscribes everything.
///
/// The hub holds the only senders of the queue, so when the hub cuts the
/// subscriber off, the queue ends once drained.
pub struct Subscription {
    id: u64,
    hub: Weak<Hub>,
    queue: mpsc::Receiver<Arc<Delivery>>,
    shared: Arc<Shared>,
}

/// What one fan-out did, counted as it goes.
#[derive(Default)]
struct FanOut {
    delivered: u64,
    cut_off: Vec<u64>,
}

impl Hub {
    /// A hub whose subscribers each get a queue of `queue_capacity` messages.
    pub fn new(queue_capacity: usize, recent: Recent, metrics: Arc<Metrics>) -> Arc<Self> {
        Arc::new(Self {
            state: RwLock::default(),
            recent,
            queue_capacity: queue_capacity.max(1),
            next_id: AtomicU64::new(1),
            next_stamp: AtomicU64::new(1),
            metrics,
        })
    }

    /// A new subscriber with no patterns yet.
    pub fn subscriber(self: &Arc<Self>) -> Subscription {
        let (sender, queue) = mpsc::channel(self.queue_capacity);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let shared = Arc::new(Shared::default());
        let entry = Entry {
            id,
            queue: sender,
            shared: Arc::clone(&shared),
        };
        let subscriber = Subscriber {
            entry,
            patterns: Vec::new(),
        };
        self.state.write().subscribers.insert(id, subscriber);
        self.metrics.subscribers.inc();
        Subscription {
            id,
            hub: Arc::downgrade(self),
            queue,
            shared,
        }
    }

    /// Sends `published` to every local subscriber whose patterns match its
    /// channel, once per subscriber, without ever waiting. Subscribers that
    /// get it the same way share one [`Delivery`], so its wire forms are
    /// encoded once.
    pub fn deliver(&self, published: &Arc<Published>) {
        // Into the window first: a long-poll subscriber that registers after
        // the fan-out below has started then finds it there.
        let exact = Arc::new(Delivery::new(Arc::clone(published), None));
        self.recent.push(&exact);
        let channel = &published.message.channel;
        let stamp = self.next_stamp.fetch_add(1, Ordering::Relaxed);
        let mut fan_out = FanOut::default();
        {
            let state = self.state.read();
            if let Some(entries) = state.exact.get(channel) {
                fan_out.offer(entries, &exact, stamp, &self.metrics);
            }
            let prefixes = if channel.is_presence() {
                &state.presence_prefix
            } else {
                &state.prefix
            };
            for wildcard in channel
                .wildcard_prefixes()
                .filter_map(|prefix| prefixes.get(prefix))
            {
                let label = Some(Arc::clone(&wildcard.label));
                let delivery = Arc::new(Delivery::new(Arc::clone(published), label));
                fan_out.offer(&wildcard.entries, &delivery, stamp, &self.metrics);
            }
        }
        self.metrics.deliveries.inc_by(fan_out.delivered);
        if !fan_out.cut_off.is_empty() {
            let mut state = self.state.write();
            for id in fan_out.cut_off {
                state.remove_subscriber(id);
            }
        }
    }

    /// Drops what a deletion removed from history from the window of
    /// recent deliveries (see [`Recent::forget`]).
    pub fn forget(&self, channel: &Channel, range: Deletion) {
        self.recent.forget(channel, range);
    }

    /// Messages delivered after `cursor` on channels matching `patterns`
    /// (see [`Recent::after`]).
    pub fn recent(
        &self,
        patterns: &[Pattern],
        cursor: Timetoken,
        limit: usize,
    ) -> (Vec<Arc<Delivery>>, bool) {
        self.recent.after(patterns, cursor, limit)
    }

    /// How many subscribers are connected to this node.
    pub fn subscriber_count(&self) -> usize {
        self.state.read().subscribers.len()
    }
}

impl FanOut {
    /// Queues `delivery` for each of `entries` that has not had message
    /// `stamp` yet; notes who is full or gone.
    fn offer(
        &mut self,
        entries: &[Entry],
        delivery: &Arc<Delivery>,
        stamp: u64,
        metrics: &Metrics,
    ) {
        for entry in entries {
            if entry.shared.last_stamp.swap(stamp, Ordering::Relaxed) == stamp {
                continue;
            }
            match entry.queue.try_send(Arc::clone(delivery)) {
                Ok(()) => self.delivered += 1,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    entry.shared.slow.store(true, Ordering::Relaxed);
                    metrics.slow_subscribers.inc();
                    self.cut_off.push(entry.id);
                }
                Err(mpsc::error::TrySendError::Closed(_)) => self.cut_off.push(entry.id),
            }
        }
    }
}

impl HubState {
    fn add(&mut self, id: u64, pattern: &Pattern) -> bool {
        let Some(subscriber) = self.subscribers.get_mut(&id) else {
            return false;
        };
        if subscriber.patterns.contains(pattern) {
            return true;
        }
        subscriber.patterns.push(pattern.clone());
        let entry = subscriber.entry.clone();
        match pattern {
            Pattern::Exact(channel) => self.exact.entry(channel.clone()).or_default().push(entry),
            Pattern::Prefix(prefix) | Pattern::PresencePrefix(prefix) => self
                .wildcards(pattern)
                .entry(prefix.clone())
                .or_insert_with(|| Wildcard {
                    label: pattern.to_string().into(),
                    entries: Vec::new(),
                })
                .entries
                .push(entry),
        }
        true
    }

    fn remove(&mut self, id: u64, pattern: &Pattern) {
        if let Some(subscriber) = self.subscribers.get_mut(&id) {
            subscriber.patterns.retain(|p| p != pattern);
        }
        self.unlink(id, pattern);
    }

    fn remove_subscriber(&mut self, id: u64) {
        let Some(subscriber) = self.subscribers.remove(&id) else {
            return;
        };
        for pattern in &subscriber.patterns {
            self.unlink(id, pattern);
        }
    }

    fn unlink(&mut self, id: u64, pattern: &Pattern) {
        match pattern {
            Pattern::Exact(channel) => {
                if let Some(entries) = self.exact.get_mut(channel) {
                    entries.retain(|e| e.id != id);
                    if entries.is_empty() {
                        self.exact.remove(channel);
                    }
                }
            }
            Pattern::Prefix(prefix) | Pattern::PresencePrefix(prefix) => {
                let wildcards = self.wildcards(pattern);
                if let Some(wildcard) = wildcards.get_mut(prefix) {
                    wildcard.entries.retain(|e| e.id != id);
                    if wildcard.entries.is_empty() {
                        wildcards.remove(prefix);
                    }
                }
            }
        }
    }

    /// The wildcard subscribers for channels of `pattern`'s kind.
    fn wildcards(&mut self, pattern: &Pattern) -> &mut HashMap<String, Wildcard> {
        match pattern {
            Pattern::PresencePrefix(_) => &mut self.presence_prefix,
            _ => &mut self.prefix,
        }
    }
}

impl Subscription {
    /// Starts delivering messages on `patterns` (patterns already held are
    /// kept as they are).
    ///
    /// Returns `false` when the subscriber was already cut off as slow.
    pub fn add(&self, patterns: &[Pattern]) -> bool {
        let Some(hub) = self.hub.upgrade() else {
            return false;
        };
        let mut state = hub.state.write();
        patterns.iter().all(|pattern| state.add(self.id, pattern))
    }

    /// Stops delivering messages on `patterns`.
    pub fn remove(&self, patterns: &[Pattern]) {
        let Some(hub) = self.hub.upgrade() else {
            return;
        };
        let mut state = hub.state.write();
        for pattern in patterns {
            state.remove(self.id, pattern);
        }
    }

    /// The patterns this subscriber currently holds.
    pub fn patterns(&self) -> Vec<Pattern> {
        let Some(hub) = self.hub.upgrade() else {
            return Vec::new();
        };
        let state = hub.state.read();
        state
            .subscribers
            .get(&self.id)
            .map(|s| s.patterns.clone())
            .unwrap_or_default()
    }

    /// The next message, or why the subscription ended. Waits while the
    /// queue is empty; what was queued before a cut-off is still delivered.
    pub async fn recv(&mut self) -> Result<Arc<Delivery>, Closed> {
        self.queue.recv().await.ok_or(Closed::Slow)
    }

    /// The next message if one is queued, without waiting.
    pub fn try_recv(&mut self) -> Option<Arc<Delivery>> {
        self.queue.try_recv().ok()
    }

    /// `first` and the messages already queued behind it, up to `max` in
    /// all, without waiting: what a connection writes in one go.
    pub fn with_queued(&mut self, first: Arc<Delivery>, max: usize) -> Vec<Arc<Delivery>> {
        let mut batch = vec![first];
        while batch.len() < max {
            match self.try_recv() {
                Some(next) => batch.push(next),
                None => break,
            }
        }
        batch
    }

    /// Whether the hub cut this subscriber off for not keeping up.
    pub fn is_slow(&self) -> bool {
        self.shared.slow.load(Ordering::Relaxed)
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        if let Some(hub) = self.hub.upgrade() {
            hub.state.write().remove_subscriber(self.id);
            hub.metrics.subscribers.dec();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bus::message::{Message, MessageKind};

    fn hub(queue: usize) -> Arc<Hub> {
        Hub::new(queue, Recent::new(100, 1 << 20), Arc::new(Metrics::new()))
    }

    fn published(channel: &str, n: u64) -> Arc<Published> {
        let channel = Channel::parse(channel).unwrap();
        let message = Message::new(channel, MessageKind::Publish, &n.to_string(), None, None);
        Arc::new(Published {
            timetoken: Timetoken(17_000_000_000_000_000 + n),
            message: message.unwrap(),
        })
    }

    fn patterns(list: &str) -> Vec<Pattern> {
        crate::bus::parse_pattern_list(list).unwrap()
    }

    #[test]
    fn one_copy_per_subscriber_whatever_matches() {
        let hub = hub(16);
        let mut both = hub.subscriber();
        assert!(both.add(&patterns("chat.a,chat.*")));
        let mut wildcard = hub.subscriber();
        assert!(wildcard.add(&patterns("chat.*")));
        let mut other = hub.subscriber();
        assert!(other.add(&patterns("news.*,chat")));

        hub.deliver(&published("chat.a", 1));
        hub.deliver(&published("chat.b", 2));

        let first = both.try_recv().unwrap();
        assert_eq!(
            first.subscription, None,
            "an exact pattern wins over a wildcard"
        );
        assert_eq!(
            both.try_recv().unwrap().subscription.as_deref(),
            Some("chat.*")
        );
        assert!(both.try_recv().is_none(), "each message once");
        let through = wildcard.try_recv().unwrap();
        assert_eq!(through.subscription.as_deref(), Some("chat.*"));
        assert_eq!(
            wildcard.try_recv().unwrap().published.timetoken,
            Timetoken(17_000_000_000_000_002)
        );
        assert!(other.try_recv().is_none());
    }

    #[test]
    fn subscribers_reached_the_same_way_share_one_delivery() {
        let hub = hub(16);
        let mut a = hub.subscriber();
        let mut b = hub.subscriber();
        a.add(&patterns("c"));
        b.add(&patterns("c"));
        hub.deliver(&published("c", 1));
        let (a, b) = (a.try_recv().unwrap(), b.try_recv().unwrap());
        assert!(Arc::ptr_eq(&a, &b));
        let mut encodings = 0;
        for delivery in [&a, &b] {
            delivery.encoded(crate::bus::WireForm::WebSocket, |_| {
                encodings += 1;
                bytes::Bytes::from_static(b"x")
            });
        }
        assert_eq!(encodings, 1, "encoded once for both");
    }

    #[test]
    fn presence_channels_only_through_presence_wildcards() {
        let hub = hub(16);
        let mut plain = hub.subscriber();
        plain.add(&patterns("room.*"));
        let mut presence = hub.subscriber();
        presence.add(&patterns("room.*-pnpres"));
        hub.deliver(&published("room.a-pnpres", 1));
        assert!(plain.try_recv().is_none());
        let event = presence.try_recv().unwrap();
        assert_eq!(event.subscription.as_deref(), Some("room.*-pnpres"));
    }

    #[tokio::test]
    async fn a_full_queue_cuts_off_that_subscriber_only() {
        let hub = hub(2);
        let mut slow = hub.subscriber();
        let mut fast = hub.subscriber();
        slow.add(&patterns("c"));
        fast.add(&patterns("c"));
        for n in 1..=3 {
            hub.deliver(&published("c", n));
            assert_eq!(fast.recv().await.unwrap().published.timetoken.0 % 10, n);
        }
        assert!(slow.is_slow());
        assert_eq!(
            hub.subscriber_count(),
            1,
            "the slow one is gone from the hub"
        );
        assert!(
            slow.recv().await.is_ok(),
            "what was queued is still delivered"
        );
        assert!(slow.recv().await.is_ok());
        assert_eq!(slow.recv().await.unwrap_err(), Closed::Slow);
        hub.deliver(&published("c", 4));
        assert!(fast.recv().await.is_ok(), "the others go on");
    }

    #[test]
    fn removing_patterns_and_dropping_unsubscribe() {
        let hub = hub(16);
        let mut sub = hub.subscriber();
        sub.add(&patterns("a,b.*"));
        sub.remove(&patterns("a"));
        assert_eq!(sub.patterns(), patterns("b.*"));
        hub.deliver(&published("a", 1));
        assert!(sub.try_recv().is_none());
        drop(sub);
        assert_eq!(hub.subscriber_count(), 0);
        let state = hub.state.read();
        assert!(
            state.exact.is_empty() && state.prefix.is_empty(),
            "no entries left behind"
        );
    }
}
