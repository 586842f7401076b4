//! The sequencer: the one place where messages get their timetokens, are
//! written to history and are fanned out, in that order. In a cluster the
//! timetokens and the order come from the cluster log instead, and the
//! sequencer applies that order here (history, then fan-out).
//!
//! Running these three steps in one task, batch by batch, gives every channel
//! a single order that history and all subscribers agree on, makes a message
//! durable before anyone sees it, and amortises one fsync over every message
//! that arrived while the previous batch was being written.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use super::hub::Hub;
use super::message::{Message, MessageKind, Published};
use super::timetoken::Timetoken;
use crate::store::{self, Store, StoreError};

/// Most messages committed in one transaction.
const MAX_BATCH: usize = 512;

/// What to sequence.
enum Entry {
    /// A new message: it gets the next timetoken here.
    New(Message),
    /// A message the cluster log already ordered (with its timetoken);
    /// `position` is its place in the log.
    Ordered { published: Published, position: u64 },
}

struct Job {
    entry: Entry,
    done: oneshot::Sender<Result<Arc<Published>, SequencerError>>,
}

/// Why a message could not be committed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SequencerError {
    /// History could not be written; the message was not delivered.
    #[error("{0}")]
    Store(Arc<StoreError>),
    /// The node is shutting down.
    #[error("the node is shutting down")]
    Stopped,
    /// The cluster could not take the message (NATS unreachable).
    #[error("{0}")]
    Cluster(String),
}

/// The outcome of an entry queued with [`Sequencer::enqueue_apply`].
pub type Applied = oneshot::Receiver<Result<Arc<Published>, SequencerError>>;

/// Handle to the sequencer task.
#[derive(Clone)]
pub struct Sequencer {
    jobs: mpsc::Sender<Job>,
}

impl Sequencer {
    /// Starts the sequencer task. `last` is the last timetoken handed out
    /// before (from the store), `queue` bounds the messages waiting.
    pub fn start(
        store: Arc<Store>,
        hub: Arc<Hub>,
        last: Timetoken,
        history_per_channel: usize,
        queue: usize,
    ) -> Self {
        let (jobs, rx) = mpsc::channel(queue.max(1));
        tokio::spawn(run(rx, store, hub, last, history_per_channel));
        Self { jobs }
    }

    /// Gives `message` its timetoken, stores it (when asked to) and delivers
    /// it (unless it is a fire). Returns once it is durable and delivered.
    ///
    /// # Errors
    /// [`SequencerError`] when it could not be stored; it was not delivered.
    pub async fn commit(&self, message: Message) -> Result<Arc<Published>, SequencerError> {
        self.submit(Entry::New(message)).await
    }

    /// Queues a message the cluster log already ordered, to be stored (when
    /// asked to) and delivered, recording `position` as the last log entry
    /// applied here; returns at once with a receiver for the outcome, so
    /// many can be in flight. Entries must come in log order.
    ///
    /// # Errors
    /// [`SequencerError::Stopped`] when the node is shutting down.
    pub async fn enqueue_apply(
        &self,
        published: Published,
        position: u64,
    ) -> Result<Applied, SequencerError> {
        let (done, result) = oneshot::channel();
        let entry = Entry::Ordered {
            published,
            position,
        };
        self.jobs
            .send(Job { entry, done })
            .await
            .map_err(|_| SequencerError::Stopped)?;
        Ok(result)
    }

    async fn submit(&self, entry: Entry) -> Result<Arc<Published>, SequencerError> {
        let (done, result) = oneshot::channel();
        self.jobs
            .send(Job { entry, done })
            .await
            .map_err(|_| SequencerError::Stopped)?;
        result.await.map_err(|_| SequencerError::Stopped)?
    }
}

async fn run(
    mut rx: mpsc::Receiver<Job>,
    store: Arc<Store>,
    hub: Arc<Hub>,
    mut last: Timetoken,
    history_per_channel: usize,
) {
    // The last log entry applied here: one seen again (a follower resuming
    // from an older position) is acknowledged without a second delivery.
    let mut applied = store.log_position().unwrap_or(0);
    let mut jobs = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut jobs, MAX_BATCH).await > 0 {
        let mut batch = Vec::with_capacity(jobs.len());
        let mut replies = Vec::with_capacity(jobs.len());
        let mut position = None;
        let applied_before = applied;
        for job in jobs.drain(..) {
            let published = match job.entry {
                Entry::New(message) => {
                    last = Timetoken::next_after(last);
                    Published {
                        timetoken: last,
                        message,
                    }
                }
                Entry::Ordered {
                    published,
                    position: at,
                } if at <= applied => {
                    let _ = job.done.send(Ok(Arc::new(published)));
                    continue;
                }
                Entry::Ordered {
                    published,
                    position: at,
                } => {
                    applied = at;
                    last = last.max(published.timetoken);
                    position = Some(at);
                    published
                }
            };
            batch.push(Arc::new(published));
            replies.push(job.done);
        }
        let to_store: Vec<_> = batch.iter().filter(|p| p.message.store).cloned().collect();
        let stored = if to_store.is_empty() && position.is_none() {
            Ok(())
        } else {
            let store = Arc::clone(&store);
            store::blocking(move || store.append_history(&to_store, history_per_channel, position))
                .await
        };
        match stored {
            Ok(()) => {
                for (published, reply) in batch.into_iter().zip(replies) {
                    if published.message.kind != MessageKind::Fire {
                        hub.deliver(&published);
                    }
                    let _ = reply.send(Ok(published));
                }
            }
            Err(e) => {
                applied = applied_before;
                tracing::error!(error = %e, messages = batch.len(), "could not store messages");
                let e = SequencerError::Store(Arc::new(e));
                for reply in replies {
                    let _ = reply.send(Err(e.clone()));
                }
            }
        }
    }
}
