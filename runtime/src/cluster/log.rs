//! The cluster log: the JetStream stream `EDGEFN_MESSAGES`, one subject per
//! channel (`edgefn.msg.<channel>`). It is the single order of every
//! channel for all nodes, and the cluster's message history.
//!
//! - Appending: the node that took a publish gives the message a timetoken
//!   larger than the last one on its channel and appends it on the
//!   condition that the channel's last entry is still the one it saw
//!   (`Nats-Expected-Last-Subject-Sequence`); if another node appended in
//!   between, it reads the new last entry and tries again. So timetokens
//!   increase strictly per channel across nodes, in log order. A message id
//!   makes a retried append after a lost acknowledgement count once.
//!   The publish is answered once this node has applied the entry too, so
//!   its publisher reads its own write in this node's history.
//! - Following: every node reads the whole log in order (an ordered
//!   consumer from the last position it applied, kept in its local store)
//!   and hands each entry to its sequencer, which writes the local history
//!   copy and delivers to local subscribers. Every subscriber on every
//!   node thus sees each channel in log order.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream::consumer::{DeliverPolicy, pull};
use async_nats::jetstream::context::PublishErrorKind;
use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::stream::{self, DirectGetErrorKind};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use tokio::sync::watch;

use super::{Cluster, Unavailable, stall, subject};
use crate::bus::sequencer::Applied;
use crate::bus::{Channel, Message, MessageKind, Published, Sequencer, Timetoken};

/// The stream's name.
pub const STREAM: &str = "EDGEFN_MESSAGES";
/// The prefix of its subjects: `edgefn.msg.<channel>`.
pub const SUBJECTS: &str = "edgefn.msg";
/// Appends tried before giving up on a channel under heavy contention.
const MAX_ATTEMPTS: usize = 64;
/// Longest a publish waits for this node to apply it before answering.
const APPLIED_WAIT: Duration = Duration::from_secs(2);
/// Log entries handed to the sequencer before waiting for them to be applied.
const APPLY_WINDOW: usize = 1024;
/// Channels whose last entry is remembered.
const CACHE_SIZE: usize = 100_000;

/// The stream's configuration: history bounded per channel.
pub fn stream_config(replicas: usize, per_channel: usize) -> stream::Config {
    stream::Config {
        name: STREAM.into(),
        subjects: vec![format!("{SUBJECTS}.>")],
        max_messages_per_subject: per_channel as i64,
        storage: stream::StorageType::File,
        num_replicas: replicas,
        allow_direct: true,
        duplicate_window: Duration::from_secs(120),
        ..Default::default()
    }
}

/// One log entry.
#[derive(Serialize, Deserialize)]
struct Entry<'a> {
    channel: &'a str,
    timetoken: Timetoken,
    #[serde(borrow)]
    message: &'a RawValue,
    #[serde(borrow)]
    meta: Option<&'a RawValue>,
    publisher: Option<&'a str>,
    kind: MessageKind,
    store: bool,
    custom_type: Option<&'a str>,
    /// How many function hops led to it (so after-publish copies run on
    /// another node keep the chain's limit).
    #[serde(default)]
    depth: u8,
}

impl<'a> Entry<'a> {
    fn of(published: &'a Published) -> Self {
        let message = &published.message;
        Self {
            channel: message.channel.as_str(),
            timetoken: published.timetoken,
            message: &message.payload,
            meta: message.meta.as_deref(),
            publisher: message.publisher.as_deref(),
            kind: message.kind,
            store: message.store,
            custom_type: message.custom_type.as_deref(),
            depth: message.depth,
        }
    }

    fn into_published(self) -> Result<Published, String> {
        let channel = Channel::parse(self.channel).map_err(|e| e.to_string())?;
        let payload =
            RawValue::from_string(self.message.get().to_owned()).map_err(|e| e.to_string())?;
        let meta = self
            .meta
            .map(|m| RawValue::from_string(m.get().to_owned()))
            .transpose()
            .map_err(|e| e.to_string())?;
        Ok(Published {
            timetoken: self.timetoken,
            message: Message {
                channel,
                payload,
                meta,
                publisher: self.publisher.map(str::to_owned),
                kind: self.kind,
                store: self.store,
                depth: self.depth,
                custom_type: self.custom_type.map(str::to_owned),
            },
        })
    }
}

/// Reads a log entry (a JetStream message's payload) as the message it
/// published.
///
/// # Errors
/// What is wrong with an unreadable entry.
pub fn read_entry(payload: &[u8]) -> Result<Published, String> {
    serde_json::from_slice::<Entry>(payload)
        .map_err(|e| e.to_string())
        .and_then(Entry::into_published)
}

/// A channel's last log entry: its stream sequence and timetoken.
type Last = (u64, Timetoken);

/// The node's end of the cluster log.
pub struct ClusterLog {
    cluster: Arc<Cluster>,
    stream: stream::Stream,
    last: Mutex<HashMap<Channel, Last>>,
    /// One lock per channel: this node's appends to it take turns.
    turns: Mutex<HashMap<Channel, Arc<tokio::sync::Mutex<()>>>>,
    appends: AtomicU64,
    /// The last entry applied on this node.
    applied: watch::Sender<u64>,
}

impl ClusterLog {
    /// Opens the log.
    ///
    /// # Errors
    /// When JetStream cannot be reached.
    pub async fn open(cluster: Arc<Cluster>) -> Result<Arc<Self>, Unavailable> {
        let stream = cluster
            .js
            .get_stream(STREAM)
            .await
            .map_err(Unavailable::from)?;
        Ok(Arc::new(Self {
            cluster,
            stream,
            last: Mutex::default(),
            turns: Mutex::default(),
            appends: AtomicU64::new(0),
            applied: watch::Sender::new(0),
        }))
    }

    /// Appends `message` after every entry already on its channel, with a
    /// larger timetoken; returns it as published once JetStream has it.
    ///
    /// # Errors
    /// [`Unavailable`] when NATS is unreachable or keeps refusing.
    pub async fn append(&self, message: Message) -> Result<Published, Unavailable> {
        self.cluster.ensure_connected()?;
        let subject = subject::for_channel(SUBJECTS, &message.channel);
        let id = format!(
            "{}-{}",
            self.cluster.node_id,
            self.appends.fetch_add(1, Ordering::Relaxed)
        );
        let turn = self.turn(&message.channel);
        let my_turn = turn.lock().await;
        let mut published = Published {
            timetoken: Timetoken(0),
            message,
        };
        for _ in 0..MAX_ATTEMPTS {
            let (sequence, timetoken) = self
                .last_entry(&published.message.channel, &subject)
                .await?;
            published.timetoken = Timetoken::next_after(timetoken);
            let body = serde_json::to_vec(&Entry::of(&published)).expect("a log entry serializes");
            let publish = PublishMessage::build()
                .payload(body.into())
                .message_id(&id)
                .expected_last_subject_sequence(sequence);
            let sent = self
                .cluster
                .js
                .send_publish(subject.clone(), publish)
                .await
                .map_err(Unavailable::from)?;
            match sent.await {
                Ok(ack) => {
                    self.remember(
                        &published.message.channel,
                        (ack.sequence, published.timetoken),
                    );
                    drop(my_turn);
                    self.applied_through(ack.sequence).await;
                    return Ok(published);
                }
                Err(e) if e.kind() == PublishErrorKind::WrongLastSequence => {
                    self.last
                        .lock()
                        .expect("log cache poisoned")
                        .remove(&published.message.channel);
                }
                Err(e) => return Err(Unavailable::from(e)),
            }
        }
        Err(Unavailable(
            "too many concurrent publishes on this channel; retry".into(),
        ))
    }

    /// Waits until this node has applied the log through `sequence` (at
    /// most [`APPLIED_WAIT`]): a publish is answered once it is in this
    /// node's history and delivered to its subscribers, so a client reads
    /// its own writes on the node it wrote to.
    async fn applied_through(&self, sequence: u64) {
        let mut applied = self.applied.subscribe();
        let caught_up = applied.wait_for(|&applied| applied >= sequence);
        if tokio::time::timeout(APPLIED_WAIT, caught_up).await.is_err() {
            tracing::warn!(
                sequence,
                "this node's copy of the cluster log is behind; answering a publish before applying it"
            );
        }
    }

    /// The lock `channel`'s appends on this node take turns with.
    fn turn(&self, channel: &Channel) -> Arc<tokio::sync::Mutex<()>> {
        let mut turns = self.turns.lock().expect("log turns poisoned");
        if turns.len() >= CACHE_SIZE {
            // Forget the idle ones (held locks have other owners).
            turns.retain(|_, lock| Arc::strong_count(lock) > 1);
        }
        Arc::clone(turns.entry(channel.clone()).or_default())
    }

    async fn last_entry(&self, channel: &Channel, subject: &str) -> Result<Last, Unavailable> {
        if let Some(last) = self.last.lock().expect("log cache poisoned").get(channel) {
            return Ok(*last);
        }
        match self.stream.direct_get_last_for_subject(subject).await {
            Ok(found) => {
                let entry: Entry =
                    serde_json::from_slice(&found.payload).map_err(Unavailable::from)?;
                Ok((found.sequence, entry.timetoken))
            }
            Err(e) if e.kind() == DirectGetErrorKind::NotFound => Ok((0, Timetoken(0))),
            Err(e) => Err(Unavailable::from(e)),
        }
    }

    fn remember(&self, channel: &Channel, last: Last) {
        let mut cache = self.last.lock().expect("log cache poisoned");
        if cache.len() >= CACHE_SIZE {
            cache.clear();
        }
        let known = cache.entry(channel.clone()).or_insert(last);
        if last.0 >= known.0 {
            *known = last;
        }
    }

    /// The last entry applied on this node, and how many entries of the log
    /// it has yet to apply (`None` when the log's end cannot be read).
    pub async fn position(&self) -> (u64, Option<u64>) {
        let applied = *self.applied.borrow();
        let last = self.end().await;
        (applied, last.map(|last| last.saturating_sub(applied)))
    }

    /// The log's last position (`None` when it cannot be read now).
    async fn end(&self) -> Option<u64> {
        let info = self.stream.get_info().await.ok()?;
        Some(info.state.last_sequence)
    }

    /// Follows the log from after `position` for as long as the node runs,
    /// applying each entry in order through `sequencer`; reconnects and
    /// resumes from the last applied entry after any failure.
    pub fn follow(self: Arc<Self>, sequencer: Sequencer, position: u64) {
        self.applied.send_replace(position);
        tokio::spawn(async move {
            let mut reconnects = self.cluster.reconnected();
            loop {
                let position = *self.applied.borrow();
                let ended = tokio::select! {
                    ended = self.apply_from(&sequencer, position) => ended,
                    _ = reconnects.changed() => {
                        tracing::info!(position, "reconnected to NATS; following the cluster log anew");
                        continue;
                    }
                    () = stall::stalled(|| *self.applied.borrow(), || self.end()) => {
                        tracing::warn!(position, "the cluster log stopped arriving; following it anew");
                        continue;
                    }
                };
                // Entries applied twice (after resuming from an older
                // position) are skipped by the sequencer.
                if let Err((_, e)) = ended {
                    tracing::warn!(error = %e, position, "following the cluster log failed; resuming");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        });
    }

    /// Applies entries after `position` until the consumer ends; returns the
    /// last entry applied (with the error, if one ended it).
    async fn apply_from(&self, sequencer: &Sequencer, position: u64) -> Result<u64, (u64, String)> {
        let config = pull::OrderedConfig {
            deliver_policy: DeliverPolicy::ByStartSequence {
                start_sequence: position + 1,
            },
            ..Default::default()
        };
        let consumer = self
            .stream
            .create_consumer(config)
            .await
            .map_err(|e| (position, e.to_string()))?;
        let mut entries = consumer
            .messages()
            .await
            .map_err(|e| (position, e.to_string()))?;
        let mut pending: VecDeque<(u64, Applied)> = VecDeque::new();
        let mut applied = position;
        loop {
            // Note each entry as the sequencer applies it, even while no
            // new one comes (the stall watch compares this with the log's
            // end); wait for it when too far ahead.
            let behind = pending.len();
            let step = match pending.front_mut() {
                Some((_, done)) if behind > APPLY_WINDOW => Step::Applied(done.await),
                Some((_, done)) => tokio::select! {
                    biased;
                    entry = entries.next() => Step::Entry(entry),
                    result = done => Step::Applied(result),
                },
                None => Step::Entry(entries.next().await),
            };
            let entry = match step {
                Step::Applied(result) => {
                    let (at, _) = pending.pop_front().expect("a pending entry");
                    result
                        .map_err(|_| (applied, stopping()))?
                        .map_err(|e| (applied, e.to_string()))?;
                    applied = at;
                    self.applied.send_replace(applied);
                    continue;
                }
                Step::Entry(None) => break,
                Step::Entry(Some(entry)) => entry.map_err(|e| (applied, e.to_string()))?,
            };
            let sequence = entry
                .info()
                .map_err(|e| (applied, e.to_string()))?
                .stream_sequence;
            let published = match read_entry(&entry.payload) {
                Ok(published) => published,
                Err(e) => {
                    tracing::error!(sequence, error = %e, "skipping an unreadable cluster-log entry");
                    if pending.is_empty() {
                        applied = sequence;
                        self.applied.send_replace(applied);
                    }
                    continue;
                }
            };
            self.remember(&published.message.channel, (sequence, published.timetoken));
            let done = sequencer
                .enqueue_apply(published, sequence)
                .await
                .map_err(|e| (applied, e.to_string()))?;
            pending.push_back((sequence, done));
        }
        for (at, done) in pending {
            done.await
                .map_err(|_| (applied, stopping()))?
                .map_err(|e| (applied, e.to_string()))?;
            applied = at;
            self.applied.send_replace(applied);
        }
        Ok(applied)
    }
}

/// What following the log did next: took an entry (`None`: the consumer
/// ended), or saw the oldest pending one applied.
enum Step<E, A> {
    Entry(Option<E>),
    Applied(A),
}

fn stopping() -> String {
    "the node is stopping".to_owned()
}
