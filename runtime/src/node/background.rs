//! The node's own background loops (sweeps, followers of the cluster's
//! shared state, presence events): tracked together, so that shutdown can
//! stop them at one point of its order and wait until they have.

use std::future::Future;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The loops a node runs beside its requests.
#[derive(Default)]
pub(super) struct Background {
    tasks: TaskTracker,
    stop: CancellationToken,
}

impl Background {
    /// Runs `task` until it ends or the loops are stopped.
    pub(super) fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        let stop = self.stop.clone();
        self.tasks.spawn(async move {
            stop.run_until_cancelled(task).await;
        });
    }

    /// Stops every loop at its next await point and waits for them all,
    /// for at most `grace`; returns how many were still running then.
    pub(super) async fn stop(&self, grace: Duration) -> usize {
        self.stop.cancel();
        self.tasks.close();
        let _ = tokio::time::timeout(grace, self.tasks.wait()).await;
        self.tasks.len()
    }
}
