//! Bounded waits. The bounds are failure limits, generous because tests run
//! in parallel on small machines; nothing here waits a fixed time for
//! something that can be awaited.

use std::future::Future;
use std::time::Duration;

/// The default failure bound of one wait.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// How often [`eventually`] looks again.
const POLL: Duration = Duration::from_millis(25);

/// Awaits `future`, failing the test with `what` after `limit`.
pub async fn within<T>(what: &str, limit: Duration, future: impl Future<Output = T>) -> T {
    match tokio::time::timeout(limit, future).await {
        Ok(value) => value,
        Err(_) => panic!("timed out after {limit:?} waiting for {what}"),
    }
}

/// Checks `check` until it returns `Some`, failing the test with `what`
/// after `limit`; for conditions that can only be observed by asking (a
/// function's log, a file).
pub async fn eventually<T, F, Fut>(what: &str, limit: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(POLL).await;
    }
}
