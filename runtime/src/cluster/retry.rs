//! Pauses between a cluster loop's tries after NATS failed it (a watcher, a
//! consumer, the log follower, start-up): exponential from
//! [`PAUSES`]`.0` up to [`PAUSES`]`.1`, each with up to as much again of
//! random jitter, so a long outage is not polled every few milliseconds and
//! nodes cut off together do not all come back in step. A loop starts
//! again from the shortest pause once it made progress.

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBackoff, ExponentialBuilder};

/// The first and the longest pause before jitter (with it, a pause is at
/// most twice the longest).
pub const PAUSES: (Duration, Duration) = (Duration::from_millis(100), Duration::from_secs(1));

/// The pauses of one retrying loop.
pub struct Retry {
    pauses: ExponentialBackoff,
}

impl Default for Retry {
    fn default() -> Self {
        Self {
            pauses: ExponentialBuilder::default()
                .with_min_delay(PAUSES.0)
                .with_max_delay(PAUSES.1)
                .with_jitter()
                .without_max_times()
                .build(),
        }
    }
}

impl Retry {
    /// The next pause, each longer than the last up to the ceiling.
    pub fn next_pause(&mut self) -> Duration {
        self.pauses.next().unwrap_or(PAUSES.1)
    }

    /// Waits the next pause.
    pub async fn pause(&mut self) {
        tokio::time::sleep(self.next_pause()).await;
    }

    /// Starts again from the shortest pause (the loop made progress).
    pub fn reset(&mut self) {
        *self = Self::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_grow_to_a_jittered_ceiling_and_start_over_after_a_reset() {
        let mut retry = Retry::default();
        let first = retry.next_pause();
        assert!(first >= PAUSES.0 && first <= PAUSES.0 * 2, "{first:?}");
        let later: Vec<_> = (0..20).map(|_| retry.next_pause()).collect();
        assert!(
            later.iter().all(|p| *p >= PAUSES.0 && *p <= PAUSES.1 * 2),
            "{later:?}"
        );
        assert!(later[10..].iter().all(|p| *p >= PAUSES.1), "{later:?}");
        // Jittered: twenty pauses at the ceiling are not all the same.
        assert!(later[10..].iter().any(|p| *p != later[10]), "{later:?}");
        retry.reset();
        let again = retry.next_pause();
        assert!(again <= PAUSES.0 * 2, "{again:?}");
    }
}
