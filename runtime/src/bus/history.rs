//! The contract the bus needs from durable storage: each channel's history,
//! bounded, in timetoken order, and where the node's order stood when it
//! last wrote (the last timetoken handed out, and in a cluster the last
//! shared-log entry applied). The embedded store implements it
//! ([`crate::store`]); the bus never sees how.

use std::sync::Arc;

use super::{Channel, Pattern, Published, Timetoken};

/// A shared-log entry applied here and the timetoken it got (see
/// [`super::sequencer`]); zeros when none was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LogPoint {
    /// Its position in the shared log.
    pub position: u64,
    /// Its timetoken.
    pub timetoken: Timetoken,
}

/// Which part of a channel's history to read: the newest `limit` messages
/// with `end <= timetoken < start`.
#[derive(Debug, Clone, Copy)]
pub struct HistoryQuery {
    /// How many messages at most.
    pub limit: usize,
    /// Only messages older than this (exclusive).
    pub start: Option<Timetoken>,
    /// Only messages at or after this (inclusive).
    pub end: Option<Timetoken>,
}

/// A range of one channel's history to delete: the messages with
/// `from <= timetoken <= to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deletion {
    /// The oldest timetoken deleted.
    pub from: Timetoken,
    /// The newest timetoken deleted.
    pub to: Timetoken,
}

impl Deletion {
    /// The messages a delete with `start` (exclusive) and `end`
    /// (inclusive) removes, as PubNub's delete-messages takes them, in
    /// either order; neither: the whole channel. `None` when none can be.
    pub fn between(start: Option<Timetoken>, end: Option<Timetoken>) -> Option<Self> {
        let (from, to) = match (start, end) {
            (Some(start), Some(end)) if start < end => (start.0.checked_add(1)?, end.0),
            (Some(start), Some(end)) => (end.0, start.0.checked_sub(1)?),
            (Some(start), None) => (0, start.0.checked_sub(1)?),
            (None, Some(end)) => (end.0, u64::MAX),
            (None, None) => (0, u64::MAX),
        };
        Some(Self {
            from: Timetoken(from),
            to: Timetoken(to),
        })
    }
}

/// Why history could not be read or written: the storage's own error, kept
/// whole for logs and answers.
#[derive(Debug, Clone, thiserror::Error)]
#[error(transparent)]
pub struct HistoryError(Arc<dyn std::error::Error + Send + Sync>);

impl HistoryError {
    /// Wraps a storage error.
    pub fn new(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self(Arc::new(e))
    }
}

/// Durable history. Calls block (they may wait for a disk): the bus makes
/// them off the async executor.
pub trait HistoryStore: Send + Sync + 'static {
    /// The last timetoken recorded (stored, or reserved by an append), so
    /// a restarted node keeps handing out larger ones even if the clock
    /// went back.
    ///
    /// # Errors
    /// When the storage cannot be read.
    fn last_timetoken(&self) -> Result<Timetoken, HistoryError>;

    /// How many channels have history, and whether `channel` is one of
    /// them.
    ///
    /// # Errors
    /// When the storage cannot be read.
    fn channels_with_history(&self, channel: &Channel) -> Result<(u64, bool), HistoryError>;

    /// The last shared-log entry recorded as applied, with its timetoken.
    ///
    /// # Errors
    /// When the storage cannot be read.
    fn log_point(&self) -> Result<LogPoint, HistoryError>;

    /// Appends `batch` (in timetoken order) durably and at once, trimming
    /// each channel to its newest `per_channel` messages, and records
    /// `applied` as the last shared-log entry applied, when given. A
    /// deletion in the batch ([`super::MessageKind::Delete`], see
    /// [`super::Message::deleted_range`]) removes its range of its channel
    /// at its place in the batch. Messages stored with a `ttl_secs` expire
    /// that long after their timetoken: no read returns them after, and
    /// appends prune them. `reserved`, when given, is recorded as the
    /// last timetoken (when larger than the batch's and the one recorded):
    /// the ceiling up to which timetokens may be handed out to messages
    /// kept out of history without another append.
    ///
    /// # Errors
    /// When it cannot be written; nothing is then.
    fn append(
        &self,
        batch: &[Arc<Published>],
        per_channel: usize,
        applied: Option<LogPoint>,
        reserved: Option<Timetoken>,
    ) -> Result<(), HistoryError>;

    /// Part of one channel's history (not expired), oldest first.
    ///
    /// # Errors
    /// When the storage cannot be read or a record is corrupt.
    fn history(
        &self,
        channel: &Channel,
        query: HistoryQuery,
    ) -> Result<Vec<Published>, HistoryError>;

    /// How many messages of `channel` newer than `after` are stored (and
    /// not expired).
    ///
    /// # Errors
    /// When the storage cannot be read.
    fn count_after(&self, channel: &Channel, after: Timetoken) -> Result<u64, HistoryError>;

    /// Stored messages after `after` on channels matching `patterns`: the
    /// oldest `limit` of them, oldest first, and whether more follow.
    /// Reads only what it may return.
    ///
    /// # Errors
    /// When the storage cannot be read or a record is corrupt.
    fn replay(
        &self,
        patterns: &[Pattern],
        after: Timetoken,
        limit: usize,
    ) -> Result<(Vec<Published>, bool), HistoryError>;

    /// The channels matching `patterns` whose history dropped messages
    /// newer than `after` (to keep to its per-channel limit), each with
    /// the newest timetoken it dropped: what a replay from `after` cannot
    /// return.
    ///
    /// # Errors
    /// When the storage cannot be read.
    fn dropped_after(
        &self,
        patterns: &[Pattern],
        after: Timetoken,
    ) -> Result<Vec<(Channel, Timetoken)>, HistoryError>;
}

/// Runs a blocking history call off the async executor.
pub(crate) async fn blocking<T, F>(f: F) -> Result<T, HistoryError>
where
    F: FnOnce() -> Result<T, HistoryError> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(HistoryError::new)?
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(start: Option<u64>, end: Option<u64>) -> Option<(u64, u64)> {
        Deletion::between(start.map(Timetoken), end.map(Timetoken)).map(|d| (d.from.0, d.to.0))
    }

    #[test]
    fn start_is_exclusive_and_end_inclusive_in_either_order() {
        assert_eq!(range(Some(9), Some(10)), Some((10, 10)));
        assert_eq!(range(Some(20), Some(10)), Some((10, 19)));
        assert_eq!(range(Some(10), None), Some((0, 9)));
        assert_eq!(range(None, Some(10)), Some((10, u64::MAX)));
        assert_eq!(range(None, None), Some((0, u64::MAX)));
        assert_eq!(range(Some(0), None), None);
    }
}
