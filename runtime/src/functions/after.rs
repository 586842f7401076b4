//! After-publish dispatch: each matching function gets a copy of each
//! published message. Copies wait in one lane per function (see
//! [`super::lanes`]) and run, round robin across functions, in a pool of at
//! most `after_publish_concurrency` invocations. No function may hold more
//! than half of the queue (`after_publish_queue`) or of the pool, so one
//! function's flood of slow work never holds up another's. A copy that finds
//! no room is dropped and counted; publishers never wait for after-publish
//! work.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::{Notify, Semaphore};

use super::lanes::{LaneLimits, Lanes};
use super::registry::Function;
use crate::bus::Published;
use crate::metrics::Metrics;
use crate::wasm::Sandbox;

struct Job {
    function: Arc<Function>,
    published: Arc<Published>,
}

/// What the dispatcher and the publishers share.
struct Queue {
    /// Keyed by function name (the prepared function's shared name, so
    /// queueing a copy allocates nothing).
    lanes: Mutex<Lanes<Arc<str>, Job>>,
    /// Wakes the dispatcher when a copy is queued or one ends.
    changed: Notify,
}

impl Queue {
    fn lanes(&self) -> MutexGuard<'_, Lanes<Arc<str>, Job>> {
        self.lanes
            .lock()
            .expect("after-publish lanes lock poisoned")
    }
}

/// The queue of after-publish work.
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
        });
        let dispatcher = tokio::spawn(dispatch(Arc::clone(&queue), sandbox, concurrency));
        Self {
            queue,
            dispatcher,
            metrics,
        }
    }

    /// Waits until every queued copy has run, for at most `grace`. Returns
    /// how many copies were still queued or running when it gave up.
    pub async fn drain(&self, grace: Duration) -> usize {
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
            published: Arc::clone(published),
        };
        let queued = self
            .queue
            .lanes()
            .push(Arc::clone(&function.prepared.name), job);
        match queued {
            Ok(()) => self.queue.changed.notify_one(),
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
            let _ = sandbox
                .after_publish(&job.function.prepared, &job.published, timeout)
                .await;
            drop(permit);
            queue.lanes().done(&name);
            queue.changed.notify_one();
        });
    }
}
