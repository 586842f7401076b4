//! After-publish dispatch: each matching function gets a copy of each
//! published message through one bounded queue, run by a pool of at most
//! `after_publish_concurrency` invocations. A full queue drops the copy and
//! counts it; publishers never wait for after-publish work.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Semaphore, mpsc};

use super::registry::Function;
use crate::bus::Published;
use crate::metrics::Metrics;
use crate::wasm::Sandbox;

struct Job {
    function: Arc<Function>,
    published: Arc<Published>,
}

/// The queue of after-publish work.
pub struct AfterPublish {
    jobs: mpsc::Sender<Job>,
    permits: Arc<Semaphore>,
    concurrency: usize,
    metrics: Arc<Metrics>,
}

impl AfterPublish {
    /// Starts the dispatcher.
    pub fn start(sandbox: Arc<Sandbox>, metrics: Arc<Metrics>) -> Self {
        let config = sandbox.config();
        let (jobs, rx) = mpsc::channel(config.after_publish_queue.max(1));
        let concurrency = config.after_publish_concurrency.max(1);
        let permits = Arc::new(Semaphore::new(concurrency));
        tokio::spawn(dispatch(rx, sandbox, Arc::clone(&permits)));
        Self {
            jobs,
            permits,
            concurrency,
            metrics,
        }
    }

    /// Waits until every queued copy has run, for at most `grace`. Returns
    /// how many copies were still queued or running when it gave up.
    pub async fn drain(&self, grace: Duration) -> usize {
        let deadline = tokio::time::Instant::now() + grace;
        loop {
            let queued = self.jobs.max_capacity() - self.jobs.capacity();
            let running = self.concurrency - self.permits.available_permits();
            if queued + running == 0 || tokio::time::Instant::now() >= deadline {
                return queued + running;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Queues a copy of `published` for `function`, or drops it (counted)
    /// when the queue is full.
    pub fn enqueue(&self, function: &Arc<Function>, published: &Arc<Published>) {
        let job = Job {
            function: Arc::clone(function),
            published: Arc::clone(published),
        };
        if self.jobs.try_send(job).is_err() {
            self.metrics.after_publish_dropped.inc();
            tracing::warn!(
                function = function.name(),
                "after-publish queue full: copy dropped"
            );
        }
    }
}

async fn dispatch(mut jobs: mpsc::Receiver<Job>, sandbox: Arc<Sandbox>, permits: Arc<Semaphore>) {
    while let Some(job) = jobs.recv().await {
        let Ok(permit) = Arc::clone(&permits).acquire_owned().await else {
            return;
        };
        let sandbox = Arc::clone(&sandbox);
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
        });
    }
}
