//! The history capability: stored messages, read as PubNub's fetch-messages
//! API reads them (from the node's store; in a cluster, from the same place
//! the HTTP API reads), counted and deleted as its message-counts and
//! delete-messages APIs do. Each call spends the bus budget (PubNub counts these
//! as API calls).
//!
//! The node provides the reading through [`HistoryReader`], so the sandbox
//! does not depend on how the node is wired.

mod host;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use super::Budget;
use crate::bus::HistoryQuery;
use crate::bus::{Channel, Deletion, Published, Timetoken};

/// Most channels one call may name.
pub const MAX_CHANNELS: usize = 100;
/// Most messages (and the default) for one channel, as PubNub's.
pub const MAX_SINGLE: u32 = 100;
/// Most messages (and the default) per channel for several, as PubNub's.
pub const MAX_MULTIPLE: u32 = 25;

/// How the sandbox reads the node's history.
pub trait HistoryReader: Send + Sync {
    /// The messages of `channel` that `query` selects, oldest first; the
    /// error says why they cannot be read now.
    fn history(
        &self,
        channel: Channel,
        query: HistoryQuery,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<Published>, String>> + Send>>;

    /// How many stored messages of `channel` are newer than `after`.
    fn count_after(
        &self,
        channel: Channel,
        after: Timetoken,
    ) -> Pin<Box<dyn Future<Output = Result<u64, String>> + Send>>;

    /// Deletes `range` of `channel`'s history (on every node).
    fn delete(
        &self,
        channel: Channel,
        range: Deletion,
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;
}

/// The history capability of one invocation.
pub struct HistoryCtx {
    pub(crate) reader: Arc<dyn HistoryReader>,
    /// A share of the invocation's bus budget.
    pub(crate) budget: Budget,
}

/// The query a `fetch` of `channels` channels asks for: `count` within
/// PubNub's bounds (default and maximum 100 for one channel, 25 for
/// several), `start` exclusive and `end` inclusive.
///
/// # Errors
/// A sentence naming an unparsable timetoken.
pub fn query(
    channels: usize,
    start: Option<&str>,
    end: Option<&str>,
    count: Option<u32>,
) -> Result<HistoryQuery, String> {
    let ceiling = if channels > 1 {
        MAX_MULTIPLE
    } else {
        MAX_SINGLE
    };
    let bound =
        |what: &str, text: Option<&str>| text.map(|t| super::timetoken(what, t)).transpose();
    Ok(HistoryQuery {
        limit: count.unwrap_or(ceiling).clamp(1, ceiling) as usize,
        start: bound("`start`", start)?,
        end: bound("`end`", end)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn count_defaults_and_bounds_follow_pubnub() {
        assert_eq!(query(1, None, None, None).unwrap().limit, 100);
        assert_eq!(query(2, None, None, None).unwrap().limit, 25);
        assert_eq!(query(1, None, None, Some(500)).unwrap().limit, 100);
        assert_eq!(query(3, None, None, Some(40)).unwrap().limit, 25);
        assert_eq!(query(1, None, None, Some(0)).unwrap().limit, 1);
        assert_eq!(query(1, None, None, Some(7)).unwrap().limit, 7);
    }

    #[test]
    fn timetokens_are_parsed() {
        let q = query(
            1,
            Some("17000000000000001"),
            Some("17000000000000000"),
            None,
        )
        .unwrap();
        assert_eq!(q.start, Some(Timetoken(17_000_000_000_000_001)));
        assert_eq!(q.end, Some(Timetoken(17_000_000_000_000_000)));
        let err = query(1, Some("soon"), None, None).unwrap_err();
        assert!(err.contains("`start` must be a timetoken"), "{err}");
        assert!(query(1, None, Some(""), None).is_err());
    }
}
