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
use std::sync::{Arc, RwLock, Weak};

use tokio::sync::mpsc;

use super::channel::{Channel, Pattern};
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
    metrics: Arc<Metrics>,
}

#[derive(Default)]
struct HubState {
    /// Subscribers by exact channel.
    exact: HashMap<Channel, Vec<Entry>>,
    /// Subscribers by wildcard prefix (`chat.` for `chat.*`).
    prefix: HashMap<String, Vec<Entry>>,
    /// Subscribers to presence channels by wildcard prefix (`chat.` for
    /// `chat.*-pnpres`).
    presence_prefix: HashMap<String, Vec<Entry>>,
    /// Every subscriber: its queue and the patterns it holds.
    subscribers: HashMap<u64, Subscriber>,
}

struct Subscriber {
    entry: Entry,
    patterns: Vec<Pattern>,
}

#[derive(Clone)]
struct Entry {
    id: u64,
    queue: mpsc::Sender<Delivery>,
    shared: Arc<Shared>,
    /// The pattern's text for wildcard entries (what deliveries report).
    subscription: Option<Arc<str>>,
}

/// What the hub and a subscription's owner both see.
#[derive(Default)]
struct Shared {
    slow: AtomicBool,
}

/// One subscriber's end of its queue. Dropping it unsubscribes everything.
///
/// The hub holds the only senders of the queue, so when the hub cuts the
/// subscriber off, the queue ends once drained.
pub struct Subscription {
    id: u64,
    hub: Weak<Hub>,
    queue: mpsc::Receiver<Delivery>,
    shared: Arc<Shared>,
}

impl Hub {
    /// A hub whose subscribers each get a queue of `queue_capacity` messages.
    pub fn new(queue_capacity: usize, recent: Recent, metrics: Arc<Metrics>) -> Arc<Self> {
        Arc::new(Self {
            state: RwLock::default(),
            recent,
            queue_capacity: queue_capacity.max(1),
            next_id: AtomicU64::new(1),
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
            subscription: None,
        };
        let subscriber = Subscriber {
            entry,
            patterns: Vec::new(),
        };
        self.state
            .write()
            .expect("hub lock poisoned")
            .subscribers
            .insert(id, subscriber);
        self.metrics.subscribers.inc();
        Subscription {
            id,
            hub: Arc::downgrade(self),
            queue,
            shared,
        }
    }

    /// Sends `published` to every local subscriber whose patterns match its
    /// channel, once per subscriber, without ever waiting.
    pub fn deliver(&self, published: &Arc<Published>) {
        // Into the window first: a long-poll subscriber that registers after
        // the fan-out below has started then finds it there.
        self.recent.push(published);
        let channel = &published.message.channel;
        let mut cut_off = Vec::new();
        let mut sent_to = Vec::new();
        {
            let state = self.state.read().expect("hub lock poisoned");
            let exact = state.exact.get(channel).into_iter().flatten();
            let prefixes = if channel.is_presence() {
                &state.presence_prefix
            } else {
                &state.prefix
            };
            let wildcard = channel
                .wildcard_prefixes()
                .filter_map(|prefix| prefixes.get(prefix))
                .flatten();
            for entry in exact.chain(wildcard) {
                if sent_to.contains(&entry.id) {
                    continue;
                }
                sent_to.push(entry.id);
                let delivery = Delivery {
                    published: Arc::clone(published),
                    subscription: entry.subscription.clone(),
                };
                match entry.queue.try_send(delivery) {
                    Ok(()) => {
                        self.metrics.deliveries.inc();
                    }
                    Err(mpsc::error::TrySendError::Full(_)) => {
                        entry.shared.slow.store(true, Ordering::Relaxed);
                        self.metrics.slow_subscribers.inc();
                        cut_off.push(entry.id);
                    }
                    Err(mpsc::error::TrySendError::Closed(_)) => cut_off.push(entry.id),
                }
            }
        }
        if !cut_off.is_empty() {
            let mut state = self.state.write().expect("hub lock poisoned");
            for id in cut_off {
                state.remove_subscriber(id);
            }
        }
    }

    /// Messages delivered after `cursor` on channels matching `patterns`
    /// (see [`Recent::after`]).
    pub fn recent(
        &self,
        patterns: &[Pattern],
        cursor: Timetoken,
        limit: usize,
    ) -> (Vec<Delivery>, bool) {
        self.recent.after(patterns, cursor, limit)
    }

    /// How many subscribers are connected to this node.
    pub fn subscriber_count(&self) -> usize {
        self.state
            .read()
            .expect("hub lock poisoned")
            .subscribers
            .len()
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
        let mut entry = subscriber.entry.clone();
        match pattern {
            Pattern::Exact(channel) => self.exact.entry(channel.clone()).or_default().push(entry),
            Pattern::Prefix(prefix) | Pattern::PresencePrefix(prefix) => {
                entry.subscription = Some(pattern.to_string().into());
                let map = self.prefixes(pattern);
                map.entry(prefix.clone()).or_default().push(entry);
            }
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
            Pattern::Exact(channel) => remove_entry(&mut self.exact, channel, id),
            Pattern::Prefix(prefix) | Pattern::PresencePrefix(prefix) => {
                let prefix = prefix.clone();
                remove_entry(self.prefixes(pattern), &prefix, id);
            }
        }
    }

    /// The wildcard entries for channels of `pattern`'s kind.
    fn prefixes(&mut self, pattern: &Pattern) -> &mut HashMap<String, Vec<Entry>> {
        match pattern {
            Pattern::PresencePrefix(_) => &mut self.presence_prefix,
            _ => &mut self.prefix,
        }
    }
}

fn remove_entry<K: std::hash::Hash + Eq>(map: &mut HashMap<K, Vec<Entry>>, key: &K, id: u64) {
    if let Some(entries) = map.get_mut(key) {
        entries.retain(|e| e.id != id);
        if entries.is_empty() {
            map.remove(key);
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
        let mut state = hub.state.write().expect("hub lock poisoned");
        patterns.iter().all(|pattern| state.add(self.id, pattern))
    }

    /// Stops delivering messages on `patterns`.
    pub fn remove(&self, patterns: &[Pattern]) {
        let Some(hub) = self.hub.upgrade() else {
            return;
        };
        let mut state = hub.state.write().expect("hub lock poisoned");
        for pattern in patterns {
            state.remove(self.id, pattern);
        }
    }

    /// The patterns this subscriber currently holds.
    pub fn patterns(&self) -> Vec<Pattern> {
        let Some(hub) = self.hub.upgrade() else {
            return Vec::new();
        };
        let state = hub.state.read().expect("hub lock poisoned");
        state
            .subscribers
            .get(&self.id)
            .map(|s| s.patterns.clone())
            .unwrap_or_default()
    }

    /// The next message, or why the subscription ended. Waits while the
    /// queue is empty; what was queued before a cut-off is still delivered.
    pub async fn recv(&mut self) -> Result<Delivery, Closed> {
        self.queue.recv().await.ok_or(Closed::Slow)
    }

    /// The next message if one is queued, without waiting.
    pub fn try_recv(&mut self) -> Option<Delivery> {
        self.queue.try_recv().ok()
    }

    /// Whether the hub cut this subscriber off for not keeping up.
    pub fn is_slow(&self) -> bool {
        self.shared.slow.load(Ordering::Relaxed)
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        if let Some(hub) = self.hub.upgrade() {
            hub.state
                .write()
                .expect("hub lock poisoned")
                .remove_subscriber(self.id);
            hub.metrics.subscribers.dec();
        }
    }
}
