//! The message-actions capability: PubNub message actions added, read and
//! removed from inside a function, with the rules of [`crate::actions`]
//! and, as through the PubNub API, an event to the channel's subscribers
//! for each addition and removal. The function acts as itself: its actions
//! are by `fn:NAME`, and Access Manager does not apply. Each call spends
//! the bus budget (PubNub counts these as API calls).
//!
//! The node provides the actions through [`ActionBook`], so the sandbox
//! does not depend on how the node is wired.

mod host;

use std::sync::Arc;

use futures::future::BoxFuture;

use super::Budget;
use crate::actions::{Action, ActionError, MAX_PAGE, Page, PageQuery};
use crate::bus::{Channel, Timetoken};

/// How the sandbox reads and changes the node's message actions: as the
/// PubNub API does, events included.
pub trait ActionBook: Send + Sync {
    /// Adds an action of `kind` and `value` by `uuid` to the message of
    /// `channel` at `message`, and publishes its event.
    fn add(
        &self,
        channel: Channel,
        message: Timetoken,
        kind: String,
        value: String,
        uuid: String,
    ) -> BoxFuture<'static, Result<Action, ActionError>>;

    /// The actions of `channel` that `query` selects.
    fn page(
        &self,
        channel: Channel,
        query: PageQuery,
    ) -> BoxFuture<'static, Result<Page, ActionError>>;

    /// Removes the action at `action` from the message of `channel` at
    /// `message`, and publishes its event; whether there was one.
    fn remove(
        &self,
        channel: Channel,
        message: Timetoken,
        action: Timetoken,
    ) -> BoxFuture<'static, Result<bool, ActionError>>;
}

/// The message-actions capability of one invocation.
pub struct ActionsCtx {
    pub(crate) book: Arc<dyn ActionBook>,
    /// A share of the invocation's bus budget.
    pub(crate) budget: Budget,
    /// The author of the actions it adds: `fn:NAME`.
    pub(crate) author: String,
}

/// The page a `get` asks for: the newest `limit` (default and at most
/// [`MAX_PAGE`]) actions with `end <= action timetoken < start`.
///
/// # Errors
/// A sentence naming an unparsable timetoken.
pub fn page_query(
    start: Option<&str>,
    end: Option<&str>,
    limit: Option<u32>,
) -> Result<PageQuery, String> {
    let bound = |what, text: Option<&str>| text.map(|t| super::timetoken(what, t)).transpose();
    Ok(PageQuery {
        start: bound("`start`", start)?,
        end: bound("`end`", end)?,
        limit: limit.map_or(MAX_PAGE, |l| (l as usize).clamp(1, MAX_PAGE)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_default_and_are_bounded_as_pubnub_s() {
        assert_eq!(page_query(None, None, None).unwrap().limit, 100);
        assert_eq!(page_query(None, None, Some(0)).unwrap().limit, 1);
        assert_eq!(page_query(None, None, Some(7)).unwrap().limit, 7);
        assert_eq!(page_query(None, None, Some(500)).unwrap().limit, 100);
    }

    #[test]
    fn timetokens_are_parsed() {
        let q = page_query(Some("17000000000000002"), Some("17000000000000001"), None).unwrap();
        assert_eq!(q.start, Some(Timetoken(17_000_000_000_000_002)));
        assert_eq!(q.end, Some(Timetoken(17_000_000_000_000_001)));
        let err = page_query(None, Some("later"), None).unwrap_err();
        assert!(err.contains("`end` must be a timetoken"), "{err}");
    }
}
