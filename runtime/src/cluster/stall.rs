//! Noticing a JetStream consumer that stopped delivering without an error.
//! A node's log follower and bucket watchers are ordered consumers, which
//! JetStream keeps on one server: when that server dies while the node
//! stays connected through another, the consumer is gone, and the client
//! only notices after missing several idle heartbeats (15 s or more). So
//! each follower also compares, every second, how far it got with where the
//! stream ends, and starts over when it is behind and made no progress
//! since the last look.

use std::future::Future;
use std::time::Duration;

/// How often progress is compared with the stream's end.
const CHECK_EVERY: Duration = Duration::from_secs(1);

/// Returns once `reached()` (the last stream sequence the follower has
/// handled) stays behind `end()` (the stream's last sequence, `None` when
/// it cannot be read now) from one check to the next.
pub async fn stalled<End>(reached: impl Fn() -> u64, end: impl Fn() -> End)
where
    End: Future<Output = Option<u64>>,
{
    let mut stuck_at = None;
    loop {
        tokio::time::sleep(CHECK_EVERY).await;
        let reached = reached();
        match end().await {
            Some(end) if reached < end => {
                if stuck_at == Some(reached) {
                    return;
                }
                stuck_at = Some(reached);
            }
            _ => stuck_at = None,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_follower_behind_without_progress_is_stalled() {
        let reached = AtomicU64::new(5);
        let stalled = stalled(|| reached.load(Ordering::Relaxed), || async { Some(9) });
        tokio::time::timeout(CHECK_EVERY * 3, stalled)
            .await
            .expect("stalled");
    }

    #[tokio::test(start_paused = true)]
    async fn a_follower_that_keeps_up_or_progresses_is_not() {
        let reached = AtomicU64::new(0);
        let progressing = stalled(
            || reached.fetch_add(1, Ordering::Relaxed),
            || async { Some(1_000) },
        );
        assert!(
            tokio::time::timeout(CHECK_EVERY * 10, progressing)
                .await
                .is_err()
        );
        let level = stalled(|| 7, || async { Some(7) });
        assert!(tokio::time::timeout(CHECK_EVERY * 10, level).await.is_err());
        let unknown = stalled(|| 7, || async { None });
        assert!(
            tokio::time::timeout(CHECK_EVERY * 10, unknown)
                .await
                .is_err()
        );
    }
}
