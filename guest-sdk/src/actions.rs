//! Message actions (PubNub's): small `type`/`value` records (reactions,
//! read receipts, edit marks) attached to a published message, named by
//! the message's timetoken.
//!
//! [`add`] and [`remove`] change them as PubNub's message-actions API does:
//! the channel's subscribers get a message-action event for each. The
//! function acts as itself: the actions it adds are by `fn:NAME`. [`get`]
//! pages through a channel's actions, newest first. Each call counts
//! against the invocation's bus budget (10 calls by default, shared with
//! publishing, [`presence`](crate::presence), [`history`](crate::history)
//! and [`objects`](crate::objects)), like a PubNub API call.
//!
//! ```no_run
//! use edgefn_sdk::actions::{self, Query};
//!
//! let timetoken = edgefn_sdk::bus::publish("chat.lobby", "hello")?;
//! let added = actions::add("chat.lobby", &timetoken, "reaction", "smiley_face")?;
//! let page = actions::get("chat.lobby", &Query::default())?;
//! assert!(page.actions.iter().any(|a| a.action_timetoken == added.action_timetoken));
//! actions::remove("chat.lobby", &timetoken, &added.action_timetoken)?;
//! # Ok::<(), edgefn_sdk::Error>(())
//! ```

use crate::__private::bindings::edgefn::functions::message_actions as wit;
use crate::Error;

/// One action on one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Action {
    /// Its kind (PubNub's `type`), e.g. `reaction`, `receipt`.
    pub kind: String,
    /// Its value, e.g. `smiley_face`, `read`.
    pub value: String,
    /// Who added it (a client's uuid, or `fn:NAME`).
    pub uuid: String,
    /// Its own timetoken: its id in the channel.
    pub action_timetoken: String,
    /// The timetoken of the message it is attached to.
    pub message_timetoken: String,
}

/// Which actions [`get`] returns. `Query::default()` asks for the newest
/// 100.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    /// Only actions older than this action timetoken (exclusive).
    pub start: Option<String>,
    /// Only actions at or newer than this action timetoken (inclusive).
    pub end: Option<String>,
    /// How many at most: default and at most 100.
    pub limit: Option<u32>,
}

/// A page of a channel's actions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// The actions, oldest first.
    pub actions: Vec<Action>,
    /// Whether older actions in the range were left out: ask again with
    /// [`Query::start`] set to the first action's timetoken.
    pub more: bool,
}

/// Adds an action of `kind` (1 to 15 characters) and `value` to the message
/// published on `channel` at `message_timetoken`; the action, with its own
/// timetoken. Adding the same `kind` and `value` twice is an
/// [`Error::Invalid`] ("Action Already Added").
pub fn add(
    channel: &str,
    message_timetoken: &str,
    kind: &str,
    value: &str,
) -> Result<Action, Error> {
    wit::add(channel, message_timetoken, kind, value)
        .map(action)
        .map_err(Error::from_wit)
}

/// The newest actions of `channel` that `query` selects, oldest first.
pub fn get(channel: &str, query: &Query) -> Result<Page, Error> {
    let page = wit::get(
        channel,
        query.start.as_deref(),
        query.end.as_deref(),
        query.limit,
    )
    .map_err(Error::from_wit)?;
    Ok(Page {
        actions: page.actions.into_iter().map(action).collect(),
        more: page.more,
    })
}

/// Removes the action at `action_timetoken` from the message of `channel`
/// at `message_timetoken`; whether there was one.
pub fn remove(
    channel: &str,
    message_timetoken: &str,
    action_timetoken: &str,
) -> Result<bool, Error> {
    wit::remove(channel, message_timetoken, action_timetoken).map_err(Error::from_wit)
}

fn action(a: wit::MessageAction) -> Action {
    Action {
        kind: a.type_,
        value: a.value,
        uuid: a.uuid,
        action_timetoken: a.action_timetoken,
        message_timetoken: a.message_timetoken,
    }
}
