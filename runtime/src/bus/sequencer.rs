//! The sequencer: the one place where messages get their timetokens, are
//! fanned out and are written to history, in that order. In a cluster the
//! order comes from the cluster log instead, and the sequencer applies that
//! order here.
//!
//! One task gives every channel a single order that history and all
//! subscribers agree on. A message is delivered as soon as it has its
//! timetoken (fan-out never waits for a disk), and its publisher is
//! answered once it is durable: writes go to the store one transaction at a
//! time, in order, each holding everything that arrived while the previous
//! one was written, so one fsync serves many messages. A node that crashes
//! may thus have delivered a message it never acknowledged (its publisher
//! retries it); an acknowledged message is always in history.
//!
//! # Timetokens in a cluster: a hybrid logical clock over the log
//!
//! A log entry carries the timetoken its appender proposed (the appender's
//! clock, or just past the last timetoken it applied). Applying entries in
//! log order, the sequencer gives each one
//! `max(proposed, previous entry's timetoken + 1)`: the chain. Every node
//! applies the same entries in the same order from the same starting link,
//! so a message gets the same timetoken on every node, and timetokens
//! strictly increase in log order across all channels, whatever the
//! appenders' clocks say. So a cursor (a long-poll `tt`, an SSE `since`)
//! taken on any node means "everything applied after this" on every node.
//! Every entry is a link: signals, messages kept out of history, fires
//! (never stored nor delivered) and history deletions (applied to the
//! store in order with the messages, never delivered) too. The chain's last link is stored with
//! the log position ([`LogPoint`]), so a restart continues it exactly.
//!
//! A node that starts from an empty store begins the chain at the first
//! entry JetStream still holds; one whose store is older than entries
//! JetStream has since dropped (the log's age and size limits) skips them. Entries
//! whose timetoken was raised by a dropped entry's may then get a smaller
//! one there than on the other nodes, until the chain next takes an
//! appender's proposal as it is (any pause in publishing longer than the
//! clock skew between the appenders): a small, bounded divergence in that
//! node's copy of old history, never in the order.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures::future::BoxFuture;
use parking_lot::Mutex;
use tokio::sync::{mpsc, oneshot, watch};

use super::history::{self, HistoryError, HistoryStore, LogPoint};
use super::hub::Hub;
use super::message::{Message, MessageKind, Published};
use super::timetoken::Timetoken;
use crate::bounds::LimitReached;

/// Most messages committed in one transaction.
const MAX_BATCH: usize = 512;
/// Log entries whose timetokens are remembered, newest, for
/// [`Progress::timetoken_at`].
const REMEMBERED: usize = 65_536;
/// How far past a new message's timetoken the ceiling recorded with it
/// goes (1 s, in 100 ns units): messages kept out of history (signals,
/// `store=0`) get timetokens below a recorded ceiling, so a restart with
/// the clock stepped back never repeats theirs, at the cost of one store
/// write a second at most when nothing else is stored, and of timetokens
/// up to this far ahead of the clock just after a restart.
const RESERVE: u64 = 10_000_000;

/// What to sequence.
enum Job {
    /// A new message: it gets the next timetoken here.
    New {
        message: Message,
        done: oneshot::Sender<Result<Arc<Published>, SequencerError>>,
    },
    /// A message the cluster log ordered, with the timetoken its appender
    /// proposed; `position` is its place in the log.
    Ordered {
        published: Published,
        position: u64,
        done: oneshot::Sender<Result<Option<Arc<Published>>, SequencerError>>,
    },
    /// The cluster log is being fed again from an earlier position: what
    /// comes after this may follow entries that failed to be stored.
    Resume,
}

/// Where the outcome of a sequenced message goes.
enum Reply {
    New(oneshot::Sender<Result<Arc<Published>, SequencerError>>),
    Ordered(oneshot::Sender<Result<Option<Arc<Published>>, SequencerError>>),
}

impl Reply {
    fn send(self, outcome: Result<Arc<Published>, SequencerError>) {
        match self {
            Self::New(done) => {
                let _ = done.send(outcome);
            }
            Self::Ordered(done) => {
                let _ = done.send(outcome.map(Some));
            }
        }
    }
}

/// Why a message could not be committed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SequencerError {
    /// History could not be written; the message was not acknowledged (its
    /// subscribers may have had it: delivery does not wait for the store).
    #[error("{0}")]
    History(HistoryError),
    /// The node is shutting down.
    #[error("the node is shutting down")]
    Stopped,
    /// The message was refused: the node keeps as much as a limit allows.
    #[error(transparent)]
    Limit(LimitReached),
    /// The broker could not take the message now (as a shared log whose
    /// servers cannot be reached).
    #[error("{0}")]
    Unavailable(String),
}

/// The outcome of a message queued with [`Sequencer::enqueue`].
pub type Applied = oneshot::Receiver<Result<Arc<Published>, SequencerError>>;

/// The outcome of a log entry queued with [`Sequencer::enqueue_apply`]: the
/// message as applied, with the timetoken it got, or `None` when it had
/// been applied here before.
pub type LogApplied = oneshot::Receiver<Result<Option<Arc<Published>>, SequencerError>>;

/// What the sequencer has handed out: the last timetoken, and in a cluster
/// the log entries applied lately with the timetokens they got.
pub struct Progress {
    /// The timetoken of the last message stored and delivered.
    head: AtomicU64,
    /// The last [`REMEMBERED`] log entries applied: (position, timetoken),
    /// oldest first.
    recent: Mutex<VecDeque<(u64, Timetoken)>>,
    /// The last log position applied.
    position: watch::Sender<u64>,
}

/// Why [`Progress::timetoken_at`] has no timetoken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotApplied {
    /// The entry was not applied here within the time allowed.
    Late,
    /// It was applied, but too long ago to be remembered (or was skipped
    /// as unreadable).
    Forgotten,
}

impl Progress {
    fn new(head: Timetoken, position: u64) -> Self {
        Self {
            head: AtomicU64::new(head.0),
            recent: Mutex::new(VecDeque::new()),
            position: watch::Sender::new(position),
        }
    }

    /// The timetoken of the last message this node stored and delivered
    /// (or, at start, the last one it handed out before): every message it
    /// delivers later has a larger one.
    pub fn head(&self) -> Timetoken {
        Timetoken(self.head.load(Ordering::Acquire))
    }

    /// The last log position applied here.
    pub fn position(&self) -> u64 {
        *self.position.borrow()
    }

    /// Waits (at most `limit`) until the log entry at `position` is applied
    /// here, and returns the timetoken it got.
    ///
    /// # Errors
    /// [`NotApplied`] says why there is none.
    pub async fn timetoken_at(
        &self,
        position: u64,
        limit: Duration,
    ) -> Result<Timetoken, NotApplied> {
        let mut applied = self.position.subscribe();
        let reached = applied.wait_for(|&applied| applied >= position);
        match tokio::time::timeout(limit, reached).await {
            Ok(Ok(_)) => {}
            Ok(Err(_)) | Err(_) => return Err(NotApplied::Late),
        }
        self.remembered(position).ok_or(NotApplied::Forgotten)
    }

    fn remembered(&self, position: u64) -> Option<Timetoken> {
        let recent = self.recent.lock();
        let i = recent.binary_search_by_key(&position, |&(p, _)| p).ok()?;
        Some(recent[i].1)
    }

    /// Notes a stored and delivered batch: `head`, the log entries it
    /// applied (`links`), and the last log position now applied.
    fn advance(&self, head: Timetoken, links: &[(u64, Timetoken)], position: u64) {
        self.head.store(head.0, Ordering::Release);
        if links.is_empty() {
            return;
        }
        {
            let mut recent = self.recent.lock();
            recent.extend(links.iter().copied());
            let excess = recent.len().saturating_sub(REMEMBERED);
            recent.drain(..excess);
        }
        self.position.send_replace(position);
    }
}

/// The timetoken a log entry proposed at `proposed` gets after one that
/// got `previous`: the chain's next link.
pub fn chained(previous: Timetoken, proposed: Timetoken) -> Timetoken {
    Timetoken(proposed.0.max(previous.0 + 1))
}

/// Handle to the sequencer task.
#[derive(Clone)]
pub struct Sequencer {
    jobs: mpsc::Sender<Job>,
    progress: Arc<Progress>,
}

impl Sequencer {
    /// Starts the sequencer task. `last` is the last timetoken handed out
    /// before (from the store), `queue` bounds the messages waiting. In a
    /// cluster the chain continues from the log position and timetoken
    /// the store recorded last.
    pub fn start(
        history: Arc<dyn HistoryStore>,
        hub: Arc<Hub>,
        last: Timetoken,
        history_per_channel: usize,
        queue: usize,
    ) -> Self {
        let start = history.log_point().unwrap_or_else(|e| {
            tracing::error!(error = %e, "cannot read the last cluster-log entry applied; starting from the log's beginning");
            LogPoint::default()
        });
        let progress = Arc::new(Progress::new(last.max(start.timetoken), start.position));
        let (jobs, rx) = mpsc::channel(queue.max(1));
        let task = Task {
            history,
            hub,
            history_per_channel,
            progress: Arc::clone(&progress),
            last,
            reserved: last,
            recorded: last,
            applied: start.position,
            chain: start.timetoken,
            failed: false,
        };
        tokio::spawn(task.run(rx));
        Self { jobs, progress }
    }

    /// The timetoken of the last message this node stored and delivered:
    /// every message it delivers later has a larger one (see
    /// [`Progress::head`]).
    pub fn head(&self) -> Timetoken {
        self.progress.head()
    }

    /// What this sequencer has handed out, to follow from elsewhere.
    pub fn progress(&self) -> Arc<Progress> {
        Arc::clone(&self.progress)
    }

    /// Queues `message` to get the next timetoken, be stored (when asked
    /// to) and delivered; returns once its place in the order is fixed,
    /// with a receiver for the outcome, so one client's messages can be in
    /// flight together and still keep their order.
    ///
    /// # Errors
    /// [`SequencerError::Stopped`] when the node is shutting down.
    pub async fn enqueue(&self, message: Message) -> Result<Applied, SequencerError> {
        let (done, result) = oneshot::channel();
        self.send(Job::New { message, done }).await?;
        Ok(result)
    }

    /// Queues an entry of the cluster log, with the timetoken its appender
    /// proposed, to get its link of the chain, be stored (when asked to)
    /// and delivered (unless it is a fire), recording `position` as the
    /// last log entry applied here; returns at once with a receiver for
    /// the outcome, so many can be in flight. Entries must come in log
    /// order; after [`Sequencer::resume`], from any earlier position.
    ///
    /// # Errors
    /// [`SequencerError::Stopped`] when the node is shutting down.
    pub async fn enqueue_apply(
        &self,
        published: Published,
        position: u64,
    ) -> Result<LogApplied, SequencerError> {
        let (done, result) = oneshot::channel();
        self.send(Job::Ordered {
            published,
            position,
            done,
        })
        .await?;
        Ok(result)
    }

    /// Marks the start of a new feed of log entries (from the last position
    /// the feeder saw applied): entries queued after this are taken even if
    /// earlier ones failed to be stored. Until then, entries after a failed
    /// one are refused, so none is applied past a gap.
    ///
    /// # Errors
    /// [`SequencerError::Stopped`] when the node is shutting down.
    pub async fn resume(&self) -> Result<(), SequencerError> {
        self.send(Job::Resume).await
    }

    async fn send(&self, job: Job) -> Result<(), SequencerError> {
        self.jobs
            .send(job)
            .await
            .map_err(|_| SequencerError::Stopped)
    }
}

/// The sequencer task's state.
struct Task {
    history: Arc<dyn HistoryStore>,
    hub: Arc<Hub>,
    history_per_channel: usize,
    progress: Arc<Progress>,
    /// The last timetoken given to a new message.
    last: Timetoken,
    /// The ceiling new messages' timetokens may reach before another is
    /// recorded: the last one recorded, or on its way to the store.
    reserved: Timetoken,
    /// The last ceiling the store recorded.
    recorded: Timetoken,
    /// The last log entry applied: one seen again (a follower resuming from
    /// an older position) is acknowledged without a second delivery.
    applied: u64,
    /// The timetoken that entry got: the chain's last link.
    chain: Timetoken,
    /// Whether log entries failed to be stored since the last
    /// [`Job::Resume`]: later ones wait for the feed to start again.
    failed: bool,
}

/// Messages given their timetokens (and delivered), on their way to the
/// store.
#[derive(Default)]
struct Sequenced {
    batch: Vec<Arc<Published>>,
    replies: Vec<Reply>,
    /// The log entries among them, with the timetokens they got.
    links: Vec<(u64, Timetoken)>,
    /// The chain before the first of them: where to go back to when they
    /// cannot be stored.
    before: Option<(u64, Timetoken)>,
    /// The timetoken ceiling to record with them (see [`RESERVE`]).
    reserve: Option<Timetoken>,
}

/// A store write in progress.
type Storing = (Sequenced, BoxFuture<'static, Result<(), HistoryError>>);

impl Task {
    /// Takes jobs as they come: each message gets its timetoken and is
    /// delivered at once, then written to the store with everything that
    /// came while the previous write was in progress, one transaction (one
    /// fsync) at a time, in order. Publishers are answered once their
    /// message is durable.
    async fn run(mut self, mut rx: mpsc::Receiver<Job>) {
        let mut jobs = Vec::with_capacity(MAX_BATCH);
        let mut waiting = Sequenced::default();
        let mut storing: Option<Storing> = None;
        loop {
            let room = MAX_BATCH.saturating_sub(waiting.batch.len());
            tokio::select! {
                biased;
                stored = async { storing.as_mut().expect("a write").1.as_mut().await }, if storing.is_some() => {
                    let (written, _) = storing.take().expect("a write");
                    self.finish(written, stored, &mut waiting);
                }
                taken = rx.recv_many(&mut jobs, room.max(1)), if room > 0 => {
                    if taken == 0 {
                        break;
                    }
                    self.sequence(&mut jobs, &mut waiting);
                }
            }
            if storing.is_none() && !waiting.batch.is_empty() {
                storing = Some(self.start_storing(std::mem::take(&mut waiting)));
            }
        }
        // The jobs' senders are gone: write what is left, in order.
        if let Some((written, write)) = storing {
            let stored = write.await;
            self.finish(written, stored, &mut waiting);
        }
        if !waiting.batch.is_empty() {
            let (written, write) = self.start_storing(waiting);
            let stored = write.await;
            self.finish(written, stored, &mut Sequenced::default());
        }
    }

    /// Gives each of `jobs` its timetoken, in order, delivers it (not
    /// fires; a deletion instead drops its range from the recent window)
    /// and adds it to `waiting`.
    fn sequence(&mut self, jobs: &mut Vec<Job>, waiting: &mut Sequenced) {
        for job in jobs.drain(..) {
            let before = (self.applied, self.chain);
            let (published, reply) = match job {
                Job::Resume => {
                    self.failed = false;
                    continue;
                }
                Job::New { message, done } => {
                    self.last = Timetoken::next_after(self.last);
                    if self.last > self.reserved {
                        self.reserved = Timetoken(self.last.0.saturating_add(RESERVE));
                        waiting.reserve = Some(self.reserved);
                    }
                    let published = Published {
                        timetoken: self.last,
                        message,
                    };
                    (published, Reply::New(done))
                }
                Job::Ordered { position, done, .. } if position <= self.applied => {
                    let _ = done.send(Ok(None));
                    continue;
                }
                Job::Ordered { done, .. } if self.failed => {
                    let refused = "an earlier cluster-log entry could not be stored here; \
                                   applying the log again from it";
                    let _ = done.send(Err(SequencerError::Unavailable(refused.into())));
                    continue;
                }
                Job::Ordered {
                    mut published,
                    position,
                    done,
                } => {
                    self.chain = chained(self.chain, published.timetoken);
                    self.applied = position;
                    published.timetoken = self.chain;
                    waiting.links.push((position, self.chain));
                    (published, Reply::Ordered(done))
                }
            };
            let published = Arc::new(published);
            if let Some(range) = published.message.deleted_range() {
                self.hub.forget(&published.message.channel, range);
            } else if !matches!(
                published.message.kind,
                MessageKind::Fire | MessageKind::Delete
            ) {
                self.hub.deliver(&published);
            }
            waiting.before.get_or_insert(before);
            waiting.batch.push(published);
            waiting.replies.push(reply);
        }
    }

    /// Starts writing the messages of `sequenced` that go into history
    /// (publishes asked to be stored: never signals nor fires) and the
    /// deletions among them, the last log entry of its links with its
    /// timetoken, and its timetoken ceiling, in one transaction.
    fn start_storing(&self, sequenced: Sequenced) -> Storing {
        let to_store: Vec<_> = sequenced
            .batch
            .iter()
            .filter(|p| {
                let kind = p.message.kind;
                (p.message.store && kind.is_stored()) || kind == MessageKind::Delete
            })
            .cloned()
            .collect();
        let point = sequenced
            .links
            .last()
            .map(|&(position, timetoken)| LogPoint {
                position,
                timetoken,
            });
        let store = Arc::clone(&self.history);
        let per_channel = self.history_per_channel;
        let reserve = sequenced.reserve;
        let write = async move {
            if to_store.is_empty() && point.is_none() && reserve.is_none() {
                return Ok(());
            }
            history::blocking(move || store.append(&to_store, per_channel, point, reserve)).await
        };
        (sequenced, Box::pin(write))
    }

    /// Answers the publishers of `written` once the write ended. When it
    /// failed, the chain goes back to before it, and what was sequenced
    /// after it (`waiting`) fails too, to be applied again.
    fn finish(
        &mut self,
        written: Sequenced,
        stored: Result<(), HistoryError>,
        waiting: &mut Sequenced,
    ) {
        match stored {
            Ok(()) => {
                self.recorded = self.recorded.max(written.reserve.unwrap_or_default());
                if let Some(head) = written.batch.last().map(|p| p.timetoken) {
                    self.progress
                        .advance(head, &written.links, self.applied_through(&written));
                }
                for (published, reply) in written.batch.into_iter().zip(written.replies) {
                    reply.send(Ok(published));
                }
            }
            Err(e) => {
                let later = std::mem::take(waiting);
                if let Some(before) = written.before {
                    (self.applied, self.chain) = before;
                }
                self.reserved = self.recorded;
                self.failed |= !written.links.is_empty() || !later.links.is_empty();
                tracing::error!(error = %e, messages = written.batch.len() + later.batch.len(), "could not store messages");
                let e = SequencerError::History(e);
                for reply in written.replies.into_iter().chain(later.replies) {
                    reply.send(Err(e.clone()));
                }
            }
        }
    }

    /// The last log position applied once `written` is stored.
    fn applied_through(&self, written: &Sequenced) -> u64 {
        written
            .links
            .last()
            .map_or(self.progress.position(), |&(position, _)| position)
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::bus::recent::Recent;
    use crate::bus::{Channel, HistoryQuery, Pattern};
    use crate::metrics::Metrics;
    use crate::store::Store;

    /// A store in a fresh temp dir, removed on drop.
    struct TempStore {
        store: Arc<Store>,
        dir: PathBuf,
    }

    impl TempStore {
        fn new(name: &str) -> Self {
            let dir = std::env::temp_dir()
                .join(format!("edgefn-sequencer-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            let store = Arc::new(Store::open(&dir).unwrap());
            Self { store, dir }
        }
    }

    impl Drop for TempStore {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    fn hub() -> Arc<Hub> {
        Hub::new(1024, Recent::new(1024, 1 << 20), Arc::new(Metrics::new()))
    }

    fn start(store: &TempStore, hub: &Arc<Hub>) -> Sequencer {
        let last = store.store.last_timetoken().unwrap();
        Sequencer::start(store.store.clone(), Arc::clone(hub), last, 100, 64)
    }

    /// A log entry on `channel` proposing `proposed`.
    fn entry(channel: &str, kind: MessageKind, n: u64, proposed: u64) -> Published {
        let channel = Channel::parse(channel).unwrap();
        let message = Message::new(channel, kind, &n.to_string(), None, None).unwrap();
        Published {
            timetoken: Timetoken(proposed),
            message,
        }
    }

    async fn apply(sequencer: &Sequencer, published: Published, position: u64) -> Option<u64> {
        let outcome = sequencer.enqueue_apply(published, position).await.unwrap();
        outcome.await.unwrap().unwrap().map(|p| p.timetoken.0)
    }

    fn history(store: &Store, channel: &str) -> Vec<(u64, String)> {
        let query = HistoryQuery {
            limit: 100,
            start: None,
            end: None,
        };
        store
            .history(&Channel::parse(channel).unwrap(), query)
            .unwrap()
            .into_iter()
            .map(|p| (p.timetoken.0, p.message.payload.get().to_owned()))
            .collect()
    }

    #[tokio::test]
    async fn log_entries_get_strictly_increasing_timetokens_in_log_order() {
        let dir = TempStore::new("chain");
        let hub = hub();
        let mut subscriber = hub.subscriber();
        subscriber.add(&[Pattern::parse("a").unwrap(), Pattern::parse("b").unwrap()]);
        let sequencer = start(&dir, &hub);
        // Two appenders whose clocks differ: b's proposals are behind a's.
        let proposals = [
            ("a", MessageKind::Publish, 1_000),
            ("b", MessageKind::Publish, 400),
            ("a", MessageKind::Publish, 1_005),
            ("b", MessageKind::Signal, 1_005),
            ("b", MessageKind::Fire, 410),
            ("b", MessageKind::Publish, 420),
            ("a", MessageKind::Publish, 2_000),
        ];
        let mut got = Vec::new();
        for (i, &(channel, kind, proposed)) in proposals.iter().enumerate() {
            let position = i as u64 + 1;
            got.push(
                apply(
                    &sequencer,
                    entry(channel, kind, position, proposed),
                    position,
                )
                .await,
            );
        }
        let expected = [1_000, 1_001, 1_005, 1_006, 1_007, 1_008, 2_000];
        assert_eq!(got, expected.map(Some));
        assert_eq!(sequencer.head(), Timetoken(2_000));

        // Delivered in that order, fires left out; history holds the
        // stored ones with those timetokens.
        let mut delivered = Vec::new();
        while let Some(delivery) = subscriber.try_recv() {
            delivered.push(delivery.published.timetoken.0);
        }
        assert_eq!(delivered, [1_000, 1_001, 1_005, 1_006, 1_008, 2_000]);
        assert_eq!(
            history(&dir.store, "a"),
            [
                (1_000, "1".into()),
                (1_005, "3".into()),
                (2_000, "7".into())
            ]
        );
        assert_eq!(
            history(&dir.store, "b"),
            [(1_001, "2".into()), (1_008, "6".into())]
        );
        let point = dir.store.log_point().unwrap();
        assert_eq!((point.position, point.timetoken), (7, Timetoken(2_000)));

        // Each entry's timetoken can be looked up by its position.
        let progress = sequencer.progress();
        let at = |position| progress.timetoken_at(position, Duration::from_millis(10));
        assert_eq!(at(2).await, Ok(Timetoken(1_001)));
        assert_eq!(at(5).await, Ok(Timetoken(1_007)));
        assert_eq!(at(8).await, Err(NotApplied::Late));

        // An entry seen again is not applied twice.
        assert_eq!(
            apply(&sequencer, entry("a", MessageKind::Publish, 3, 1), 3).await,
            None
        );
        assert!(subscriber.try_recv().is_none());
    }

    #[tokio::test]
    async fn a_restart_continues_the_chain_where_the_store_left_it() {
        let dir = TempStore::new("restart");
        let hub = hub();
        {
            let sequencer = start(&dir, &hub);
            // Only links that are never stored: the position still is.
            assert_eq!(
                apply(&sequencer, entry("a", MessageKind::Signal, 1, 500), 1).await,
                Some(500)
            );
            assert_eq!(
                apply(&sequencer, entry("a", MessageKind::Fire, 2, 9), 2).await,
                Some(501)
            );
        }
        let sequencer = start(&dir, &hub);
        assert_eq!(sequencer.head(), Timetoken(501));
        assert_eq!(
            apply(&sequencer, entry("a", MessageKind::Publish, 2, 9), 2).await,
            None,
            "applied before the restart"
        );
        assert_eq!(
            apply(&sequencer, entry("a", MessageKind::Publish, 3, 7), 3).await,
            Some(502)
        );
        sequencer.resume().await.unwrap();
        assert_eq!(
            apply(&sequencer, entry("b", MessageKind::Publish, 4, 900), 4).await,
            Some(900)
        );
        assert_eq!(history(&dir.store, "a"), [(502, "3".into())]);
    }

    #[tokio::test]
    async fn new_messages_get_increasing_timetokens_and_move_the_head() {
        let dir = TempStore::new("new");
        let hub = hub();
        let sequencer = start(&dir, &hub);
        let channel = Channel::parse("c").unwrap();
        let mut last = Timetoken(0);
        for n in 0..5 {
            let message = Message::new(
                channel.clone(),
                MessageKind::Publish,
                &n.to_string(),
                None,
                None,
            )
            .unwrap();
            let applied = sequencer.enqueue(message).await.unwrap();
            let published = applied.await.unwrap().unwrap();
            assert!(published.timetoken > last);
            last = published.timetoken;
            assert_eq!(sequencer.head(), last);
        }
    }

    #[tokio::test]
    async fn timetokens_kept_out_of_history_are_below_the_recorded_last_one() {
        let dir = TempStore::new("ceiling");
        let hub = hub();
        let sequencer = start(&dir, &hub);
        let channel = Channel::parse("c").unwrap();
        let mut last = Timetoken(0);
        for (n, kind) in [MessageKind::Signal, MessageKind::Fire, MessageKind::Signal]
            .into_iter()
            .enumerate()
        {
            let message = Message::new(channel.clone(), kind, &n.to_string(), None, None).unwrap();
            let applied = sequencer.enqueue(message).await.unwrap();
            last = applied.await.unwrap().unwrap().timetoken;
        }
        // What a restarted node starts after, whatever its clock says.
        let recorded = dir.store.last_timetoken().unwrap();
        assert!(recorded >= last, "recorded {recorded} < handed out {last}");
    }

    #[test]
    fn the_chain_takes_a_proposal_only_past_the_previous_link() {
        assert_eq!(chained(Timetoken(10), Timetoken(20)), Timetoken(20));
        assert_eq!(chained(Timetoken(10), Timetoken(10)), Timetoken(11));
        assert_eq!(chained(Timetoken(10), Timetoken(3)), Timetoken(11));
        assert_eq!(chained(Timetoken(0), Timetoken(0)), Timetoken(1));
    }
}
