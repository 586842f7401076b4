//! After-publish and after-presence dispatch: each matching function gets a
//! copy of each published message, and each presence change on its
//! channels. Copies and events wait in one lane per function (see
//! [`super::lanes`]) and run, round robin across functions, in a pool of at
//! most `after_publish_concurrency` invocations. No function may hold more
//! than half of the queue (`after_publish_queue`) or of the pool, so one
//! function's flood of slow work never holds up another's. Work that finds
//! no room is dropped and counted; publishers and presence changes never
//! wait for it.
//!
//! In a cluster the copies come from the cluster's work queues instead
//! ([`super::records::SharedQueues`]): a node takes only as many as its
//! lane can start soon ([`AfterPublish::room`]) and acknowledges each once
//! it has run ([`AfterPublish::enqueue_taken`]). Presence events are
//! queued here in a cluster too, by the one node that produced each
//! ([`AfterPublish::enqueue_presence`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use parking_lot::{Mutex, MutexGuard};
use tokio::sync::{Notify, Semaphore, oneshot};

use super::lanes::{LaneLimits, Lanes};
use super::registry::Function;
use crate::bus::Published;
use crate::metrics::Metrics;
use crate::presence::PresenceEvent;
use crate::wasm::{InvokeError, Sandbox};

/// What a job hands its function.
enum Work {
    /// A copy of a published message, for its after-publish hook.
    Publish(Arc<Published>),
    /// A presence change, for its after-presence hook.
    Presence(Arc<PresenceEvent>),
}

struct Job {
    function: Arc<Function>,
    work: Work,
    /// Told when the copy has run (cluster mode: then it is acknowledged),
    /// or could not start because its function was at its concurrency
    /// limit (`false`: hand it back to run later).
    ran: Option<oneshot::Sender<bool>>,
}

/// What the dispatcher and the publishers share.
struct Queue {
    /// Keyed by function name (the prepared function's shared name, so
    /// queueing a copy allocates nothing).
    lanes: Mutex<Lanes<Arc<str>, Job>>,
    /// Wakes the dispatcher when a copy is queued or one ends.
    changed: Notify,
    /// Wakes everyone waiting for room when a copy ends.
    ended: Notify,
    /// Set when the node stops: copies taken from the cluster are handed
    /// back rather than queued.
    closed: AtomicBool,
}

impl Queue {
    fn lanes(&self) -> MutexGuard<'_, Lanes<Arc<str>, Job>> {
        self.lanes.lock()
    }
}

/// The queue of after-publish and after-presence work.
pub struct AfterPublish {
    queue: Arc<Queue>,
    dispatcher: tokio::task::JoinHandle<()>,
    metrics: Arc<Metrics>,
}

impl AfterPublish {
    /// Starts the dispatcher.
    pub fn start(sandbox: Arc<Sandbox>, metrics: Arc<Metrics>) -> Self {
        let config = sandbox.config();
        let concurrency = config.after_publish_concurrency.max(1);
        let limits = LaneLimits {
            capacity: config.after_publish_queue,
            per_lane: config.after_publish_queue / 2,
            running_per_lane: concurrency / 2,
        };
        let queue = Arc::new(Queue {
            lanes: Mutex::new(Lanes::new(limits)),
            changed: Notify::new(),
            ended: Notify::new(),
            closed: AtomicBool::new(false),
        });
        let dispatcher = tokio::spawn(dispatch(Arc::clone(&queue), sandbox, concurrency));
        Self {
            queue,
            dispatcher,
            metrics,
        }
    }

    /// Takes no more copies from the cluster, then waits until every queued
    /// copy has run, for at most `grace`. Returns how many copies were
    /// still queued or running when it gave up.
    pub async fn drain(&self, grace: Duration) -> usize {
        self.queue.closed.store(true, Ordering::Relaxed);
        let deadline = tokio::time::Instant::now() + grace;
        loop {
            let pending = self.queue.lanes().pending();
            if pending == 0 || tokio::time::Instant::now() >= deadline {
                return pending;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Queues a copy of `published` for `function`, or drops it (counted)
    /// when there is no room for it.
    pub fn enqueue(&self, function: &Arc<Function>, published: &Arc<Published>) {
        let job = Job {
            function: Arc::clone(function),
            work: Work::Publish(Arc::clone(published)),
            ran: None,
        };
        self.push(job);
    }

    /// Queues presence change `event` for `function`'s after-presence hook,
    /// or drops it (counted) when there is no room for it.
    pub fn enqueue_presence(&self, function: &Arc<Function>, event: &Arc<PresenceEvent>) {
        let job = Job {
            function: Arc::clone(function),
            work: Work::Presence(Arc::clone(event)),
            ran: None,
        };
        self.push(job);
    }

    /// Waits until `function`'s lane has room for copies that would start
    /// soon (fewer queued than it may run at once); returns how many. Never
    /// returns once the node stops.
    pub async fn room(&self, function: &Function) -> usize {
        loop {
            if self.queue.closed.load(Ordering::Relaxed) {
                std::future::pending::<()>().await;
            }
            let ended = self.queue.ended.notified();
            let room = self.queue.lanes().room_to_start(&function.prepared.name);
            if room > 0 {
                return room;
            }
            ended.await;
        }
    }

    /// Queues a copy taken from the cluster's work queue; the receiver is
    /// told `true` once it has run, `false` when its function was too busy
    /// to start it (it errs when the copy was dropped for want of room):
    /// unless it ran, it must go back to the queue.
    pub fn enqueue_taken(
        &self,
        function: &Arc<Function>,
        published: Arc<Published>,
    ) -> oneshot::Receiver<bool> {
        let (ran, told) = oneshot::channel();
        if self.queue.closed.load(Ordering::Relaxed) {
            return told;
        }
        let job = Job {
            function: Arc::clone(function),
            work: Work::Publish(published),
            ran: Some(ran),
        };
        self.push(job);
        told
    }

    fn push(&self, job: Job) {
        let function = Arc::clone(&job.function);
        let presence = matches!(job.work, Work::Presence(_));
        let queued = self
            .queue
            .lanes()
            .push(Arc::clone(&function.prepared.name), job);
        match queued {
            Ok(()) => self.queue.changed.notify_one(),
            Err(refused) if presence => {
                self.metrics.after_presence_dropped.inc();
                tracing::warn!(
                    function = function.name(),
                    ?refused,
                    "after-publish and after-presence queue full: presence event dropped"
                );
            }
            Err(refused) => {
                self.metrics.after_publish_dropped.inc();
                tracing::warn!(
                    function = function.name(),
                    ?refused,
                    "after-publish queue full: copy dropped"
                );
            }
        }
    }
}

impl Drop for AfterPublish {
    fn drop(&mut self) {
        self.dispatcher.abort();
    }
}

async fn dispatch(queue: Arc<Queue>, sandbox: Arc<Sandbox>, concurrency: usize) {
    let permits = Arc::new(Semaphore::new(concurrency));
    loop {
        let Ok(permit) = Arc::clone(&permits).acquire_owned().await else {
            return;
        };
        let (name, job) = loop {
            let changed = queue.changed.notified();
            if let Some(next) = queue.lanes().take_next() {
                break next;
            }
            changed.await;
        };
        let (queue, sandbox) = (Arc::clone(&queue), Arc::clone(&sandbox));
        tokio::spawn(async move {
            let timeout = job
                .function
                .deployment
                .spec
                .timeout(sandbox.config().default_timeout());
            // Failures are already logged to the function's log and counted.
            let prepared = &job.function.prepared;
            let result = match &job.work {
                Work::Publish(published) => {
                    sandbox.after_publish(prepared, published, timeout).await
                }
                Work::Presence(event) => sandbox.after_presence(prepared, event, timeout).await,
            };
            if let Some(ran) = job.ran {
                let _ = ran.send(!matches!(result, Err(InvokeError::Busy { .. })));
            }
            drop(permit);
            queue.lanes().done(&name);
            queue.changed.notify_one();
            queue.ended.notify_waiters();
        });
    }
}
