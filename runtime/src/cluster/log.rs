//! The cluster log, the bus's NATS JetStream [`Broker`]: the stream
//! `EDGEFN_MESSAGES`, one subject per channel (`edgefn.msg.<channel>`;
//! fires on `edgefn.fire.<channel>`). It is the single order of every
//! channel for all nodes, and the cluster's message history.
//!
//! - Appending ([`ClusterLog::submit`]): the node that took a publish
//!   proposes a timetoken (its clock, or just past the last timetoken it
//!   applied or proposed) and sends the entry; its place in the log is
//!   where JetStream puts it. Nothing is locked per channel: one node's
//!   appends are pipelined, in the order they were sent (one connection),
//!   and a message id makes an append JetStream saw twice count once.
//!   The publish is answered once this node has applied the entry, with
//!   the timetoken it got there, so its publisher reads its own write in
//!   this node's history.
//! - Following ([`Broker::attach`]): every node reads the whole log in order (an ordered
//!   consumer from the last position it applied, kept in its local store)
//!   and hands each entry to its sequencer, which gives it its timetoken
//!   (the chain: `max(proposed, previous + 1)`, the same on every node; see
//!   [`crate::bus::sequencer`]), writes the local history copy and
//!   delivers to local subscribers. Every subscriber on every node thus
//!   sees every channel in log order, with timetokens increasing in it.
//! - Fires go through the log on subjects of their own, so that the
//!   after-publish work queues see them ([`super::after_publish`]); they
//!   take a link of the chain but are neither stored nor delivered.
//! - The log keeps entries for `[nats] log_max_age_secs` and at most
//!   `log_max_bytes` ([`stream_config`]). A follower that finds entries
//!   dropped before it read them (it was away longer) says how many.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_nats::jetstream::consumer::{DeliverPolicy, pull};
use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::stream;
use futures::StreamExt;
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use tokio::sync::watch;

use super::retry::Retry;
use super::{Cluster, Unavailable, stall, subject};
use crate::bus::sequencer::{LogApplied, Progress};
use crate::bus::{
    Broker, Channel, Commit, Message, MessageKind, Published, Sequencer, SequencerError, Timetoken,
};
use crate::config::NatsConfig;

/// The stream's name.
pub const STREAM: &str = "EDGEFN_MESSAGES";
/// The prefix of its message subjects: `edgefn.msg.<channel>`.
pub const SUBJECTS: &str = "edgefn.msg";
/// The prefix of its fire subjects: `edgefn.fire.<channel>`.
pub const FIRES: &str = "edgefn.fire";
/// Longest a publish waits for this node to apply it before answering.
const APPLIED_WAIT: Duration = Duration::from_secs(2);
/// How long a publish waits for this node to apply it before it also asks
/// the other nodes which timetoken the entry got.
const ASK_PEERS_AFTER: Duration = Duration::from_millis(500);
/// Where nodes ask each other which timetoken a log entry got (the payload
/// is its stream sequence; a node that applied it answers the timetoken).
const LOOKUP: &str = "edgefn.log.timetoken";
/// Log entries handed to the sequencer before waiting for them to be applied.
const APPLY_WINDOW: usize = 1024;

/// The stream's subjects: messages and fires.
fn stream_subjects() -> Vec<String> {
    vec![format!("{SUBJECTS}.>"), format!("{FIRES}.>")]
}

/// The stream's configuration. It is bounded by age and size, never per
/// channel: a per-channel limit would drop entries of a busy channel before
/// a node that lags by more than that many had applied them (each node's
/// history is bounded per channel in its own store).
pub fn stream_config(replicas: usize, config: &NatsConfig) -> stream::Config {
    stream::Config {
        name: STREAM.into(),
        subjects: stream_subjects(),
        max_age: Duration::from_secs(config.log_max_age_secs),
        max_bytes: i64::try_from(config.log_max_bytes).unwrap_or(i64::MAX),
        discard: stream::DiscardPolicy::Old,
        storage: stream::StorageType::File,
        num_replicas: replicas,
        allow_direct: true,
        duplicate_window: Duration::from_secs(120),
        ..Default::default()
    }
}

/// The subject `message` is appended on: its channel's, or for a fire its
/// channel's fire subject.
pub fn subject_of(message: &Message) -> String {
    let prefix = if message.kind == MessageKind::Fire {
        FIRES
    } else {
        SUBJECTS
    };
    subject::for_channel(prefix, &message.channel)
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
    /// How long history keeps it, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ttl_secs: Option<u64>,
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
            ttl_secs: message.ttl_secs,
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
                ttl_secs: self.ttl_secs,
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

/// The node's end of the cluster log.
pub struct ClusterLog {
    cluster: Arc<Cluster>,
    stream: stream::Stream,
    appends: AtomicU64,
    /// The last timetoken this node proposed.
    proposed: AtomicU64,
    /// The last entry applied on this node, as its follower noted it.
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
            appends: AtomicU64::new(0),
            proposed: AtomicU64::new(0),
            applied: watch::Sender::new(0),
        }))
    }

    /// Sends `message` to the log: returns once it is sent, so its place
    /// is after every entry this node sent before, with the rest of the
    /// append to await: JetStream's acknowledgement, then this node applying
    /// the entry (at most [`APPLIED_WAIT`]; after that the answer carries
    /// the proposed timetoken).
    ///
    /// # Errors
    /// [`Unavailable`] when NATS is unreachable (then nothing was sent), or,
    /// from the future, when JetStream did not acknowledge the entry (then
    /// it may or may not be in the log).
    async fn append(
        &self,
        message: Message,
    ) -> Result<impl Future<Output = Result<Published, Unavailable>> + Send + 'static, Unavailable>
    {
        self.cluster.ensure_connected()?;
        let subject = subject_of(&message);
        let id = format!(
            "{}-{}",
            self.cluster.node_id,
            self.appends.fetch_add(1, Ordering::Relaxed)
        );
        let mut published = Published {
            timetoken: self.propose(),
            message,
        };
        let body = serde_json::to_vec(&Entry::of(&published)).expect("a log entry serializes");
        let publish = PublishMessage::build().payload(body.into()).message_id(&id);
        let acknowledged = self
            .cluster
            .js
            .send_publish(subject, publish)
            .await
            .map_err(Unavailable::from)?;
        let progress = self.cluster.progress().cloned();
        let client = self.cluster.client.clone();
        Ok(async move {
            let ack = acknowledged.await.map_err(Unavailable::from)?;
            match applied_timetoken(progress, client, ack.sequence).await {
                Some(timetoken) => published.timetoken = timetoken,
                None => tracing::warn!(
                    sequence = ack.sequence,
                    "no node applied this cluster-log entry in time; answering a publish with the timetoken it proposed"
                ),
            }
            Ok(published)
        })
    }

    /// The timetoken to propose for the next entry: the clock, or just past
    /// the last timetoken this node applied or proposed, so that the chain
    /// rarely has to raise it.
    fn propose(&self) -> Timetoken {
        let head = self.cluster.progress().map_or(0, |p| p.head().0);
        let mut proposed = Timetoken(0);
        let _ = self
            .proposed
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |last| {
                proposed = Timetoken::next_after(Timetoken(last.max(head)));
                Some(proposed.0)
            });
        proposed
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

    /// Follows the log from after the last entry `sequencer` applied, for
    /// as long as the node runs, applying each entry in order through it;
    /// reconnects and resumes from the last applied entry after any failure.
    fn follow(self: Arc<Self>, sequencer: Sequencer) {
        let progress = sequencer.progress();
        self.applied.send_replace(progress.position());
        self.cluster.set_progress(Arc::clone(&progress));
        tokio::spawn(Arc::clone(&self).answer_lookups(progress));
        tokio::spawn(async move {
            let mut reconnects = self.cluster.reconnected();
            let mut retry = Retry::default();
            loop {
                let position = *self.applied.borrow();
                // Opening is bounded by the JetStream request timeout: the
                // stall watch starts once entries can arrive (so a slow
                // opening, as while JetStream elects leaders, is not
                // cut short again and again).
                let opened = tokio::select! {
                    opened = self.open_from(&sequencer, position) => opened,
                    _ = reconnects.changed() => {
                        tracing::info!(position, "reconnected to NATS; following the cluster log anew");
                        continue;
                    }
                };
                let ended = match opened {
                    Ok(entries) => tokio::select! {
                        ended = self.apply(&sequencer, entries, position) => ended,
                        _ = reconnects.changed() => {
                            tracing::info!(position, "reconnected to NATS; following the cluster log anew");
                            continue;
                        }
                        () = stall::stalled(|| *self.applied.borrow(), || self.end()) => {
                            tracing::warn!(position, "the cluster log stopped arriving; following it anew");
                            continue;
                        }
                    },
                    Err(e) => Err((position, e)),
                };
                // Entries applied twice (after resuming from an older
                // position) are skipped by the sequencer.
                if let Err((reached, e)) = ended {
                    tracing::warn!(error = %e, position, "following the cluster log failed; resuming");
                    if reached != position {
                        retry.reset();
                    }
                    // Back at once when the connection is made again.
                    tokio::select! {
                        () = retry.pause() => {}
                        _ = reconnects.changed() => {}
                    }
                }
            }
        });
    }

    /// Answers other nodes asking which timetoken a log entry got (see
    /// [`applied_timetoken`]) once this node has applied it, for as long as
    /// the node runs.
    async fn answer_lookups(self: Arc<Self>, progress: Arc<Progress>) {
        let client = self.cluster.client.clone();
        let mut retry = Retry::default();
        loop {
            let mut asked = match client.subscribe(LOOKUP).await {
                Ok(asked) => asked,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot answer timetoken lookups; retrying");
                    retry.pause().await;
                    continue;
                }
            };
            retry.reset();
            while let Some(question) = asked.next().await {
                let (Some(reply), Ok(sequence)) = (
                    question.reply,
                    std::str::from_utf8(&question.payload).map(str::parse::<u64>),
                ) else {
                    continue;
                };
                let Ok(sequence) = sequence else { continue };
                let (progress, client) = (Arc::clone(&progress), client.clone());
                tokio::spawn(async move {
                    if let Ok(timetoken) = progress.timetoken_at(sequence, APPLIED_WAIT).await {
                        let _ = client.publish(reply, timetoken.0.to_string().into()).await;
                    }
                });
            }
        }
    }

    /// Starts a consumer of the log after `position`.
    async fn open_from(
        &self,
        sequencer: &Sequencer,
        position: u64,
    ) -> Result<pull::Ordered, String> {
        // Entries a failed store refused may be fed again from here on.
        sequencer.resume().await.map_err(|e| e.to_string())?;
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
            .map_err(|e| e.to_string())?;
        consumer.messages().await.map_err(|e| e.to_string())
    }

    /// Applies `entries` (from after `position`) until the consumer ends;
    /// returns the last entry applied (with the error, if one ended it).
    async fn apply(
        &self,
        sequencer: &Sequencer,
        mut entries: pull::Ordered,
        position: u64,
    ) -> Result<u64, (u64, String)> {
        let mut pending: VecDeque<(u64, LogApplied)> = VecDeque::new();
        let mut applied = position;
        let mut seen = position;
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
            note_dropped(seen, sequence);
            seen = sequence;
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

impl Broker for ClusterLog {
    fn attach(self: Arc<Self>, sequencer: Sequencer) {
        self.follow(sequencer);
    }

    fn submit(&self, message: Message) -> BoxFuture<'_, Result<Commit, SequencerError>> {
        let unavailable = |e: Unavailable| SequencerError::Unavailable(e.to_string());
        Box::pin(async move {
            let appended = self.append(message).await.map_err(unavailable)?;
            let commit: Commit =
                Box::pin(async move { appended.await.map(Arc::new).map_err(unavailable) });
            Ok(commit)
        })
    }
}

/// The timetoken the log entry at `sequence` got: once this node has
/// applied it (`progress`), or, when that takes longer than
/// [`ASK_PEERS_AFTER`] (this node's follower is behind or starting over,
/// as when the NATS server it used died), as the first other node that has
/// applied it answers; `None` after [`APPLIED_WAIT`]. The chain gives an
/// entry the same timetoken on every node, so any answer is the one.
async fn applied_timetoken(
    progress: Option<Arc<Progress>>,
    client: async_nats::Client,
    sequence: u64,
) -> Option<Timetoken> {
    let progress = progress?;
    let here = progress.timetoken_at(sequence, APPLIED_WAIT);
    tokio::pin!(here);
    match tokio::time::timeout(ASK_PEERS_AFTER, &mut here).await {
        Ok(found) => return found.ok(),
        Err(_) => tracing::debug!(
            sequence,
            "asking the other nodes which timetoken an entry got"
        ),
    }
    let elsewhere = async {
        let asked = client.request(LOOKUP, sequence.to_string().into());
        let answer = tokio::time::timeout(APPLIED_WAIT - ASK_PEERS_AFTER, asked)
            .await
            .ok()?
            .ok()?;
        std::str::from_utf8(&answer.payload)
            .ok()?
            .parse()
            .ok()
            .map(Timetoken)
    };
    tokio::select! {
        found = &mut here => found.ok(),
        Some(found) = elsewhere => Some(found),
    }
}

/// Says so when entries between `seen` and `sequence` are gone from the
/// log before this node read them: dropped for age or size while it was
/// away, or before it first joined (then it is expected).
fn note_dropped(seen: u64, sequence: u64) {
    let dropped = sequence.saturating_sub(seen + 1);
    if dropped == 0 {
        return;
    }
    if seen == 0 {
        tracing::info!(
            first = sequence,
            "the cluster log starts at entry {sequence}; this node's history begins there"
        );
    } else {
        tracing::warn!(
            after = seen,
            dropped,
            "cluster-log entries expired before this node applied them ([nats] log_max_age_secs / log_max_bytes); their messages are missing from its history"
        );
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
