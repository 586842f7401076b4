//! Stored messages (history), read as PubNub's fetchMessages reads them,
//! counted ([`message_counts`]) and deleted ([`delete_messages`]).
//!
//! [`fetch`] returns, for each channel, the newest messages whose timetoken
//! is before [`Query::start`] (exclusive) and at or after [`Query::end`]
//! (inclusive), oldest first: at most [`Query::count`], which defaults to
//! (and may not exceed) 100 for one channel and 25 per channel for
//! several. Each call counts against the invocation's bus budget (10
//! calls by default, shared with publishing and [`presence`](crate::presence)),
//! like a PubNub API call.
//!
//! ```no_run
//! use edgefn_sdk::history::{self, Query};
//!
//! let query = Query { count: Some(10), include_meta: true, ..Query::default() };
//! for channel in history::fetch(&["chat.lobby"], &query)? {
//!     for message in &channel.messages {
//!         println!("{} {} {}", channel.channel, message.timetoken, message.payload);
//!     }
//! }
//! // The page before the oldest one seen:
//! let older = Query { start: Some("17000000000000000".into()), ..Query::default() };
//! let page = history::fetch(&["chat.lobby"], &older)?;
//! # Ok::<(), edgefn_sdk::Error>(())
//! ```

use serde_json::{Map, Value};

use crate::__private::bindings::edgefn::functions::history as wit;
use crate::Error;

/// Which messages [`fetch`] returns. `Query::default()` asks for the
/// newest messages, without meta.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    /// Only messages older than this timetoken (exclusive).
    pub start: Option<String>,
    /// Only messages at or newer than this timetoken (inclusive).
    pub end: Option<String>,
    /// How many per channel: default and at most 100 for one channel, 25
    /// for several.
    pub count: Option<u32>,
    /// Whether to return each message's meta.
    pub include_meta: bool,
}

/// The messages of one channel.
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelHistory {
    /// The channel.
    pub channel: String,
    /// Its messages, oldest first.
    pub messages: Vec<StoredMessage>,
}

/// One stored message.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredMessage {
    /// Its timetoken (17 decimal digits).
    pub timetoken: String,
    /// The message itself.
    pub payload: Value,
    /// Its meta, when asked for and it has one.
    pub meta: Option<Map<String, Value>>,
    /// The publisher's id, when the publisher gave one.
    pub publisher: Option<String>,
}

/// The messages of each of `channels` (1 to 100, in the order given) that
/// `query` selects, oldest first.
pub fn fetch(channels: &[&str], query: &Query) -> Result<Vec<ChannelHistory>, Error> {
    let names: Vec<String> = channels.iter().map(|c| (*c).to_owned()).collect();
    let found = wit::fetch(
        &names,
        query.start.as_deref(),
        query.end.as_deref(),
        query.count,
        query.include_meta,
    )
    .map_err(Error::from_wit)?;
    found
        .into_iter()
        .map(|c| {
            let messages = c
                .messages
                .into_iter()
                .map(|m| {
                    Ok(StoredMessage {
                        payload: json(&m.payload, "a stored message")?,
                        meta: match m.meta.as_deref().map(|t| json(t, "a stored meta")) {
                            Some(Ok(Value::Object(meta))) => Some(meta),
                            Some(Ok(_)) | None => None,
                            Some(Err(e)) => return Err(e),
                        },
                        timetoken: m.timetoken,
                        publisher: m.publisher,
                    })
                })
                .collect::<Result<_, Error>>()?;
            Ok(ChannelHistory {
                channel: c.channel,
                messages,
            })
        })
        .collect()
}

/// How many stored messages each of `channels` (1 to 100, in the order
/// given) has newer than its timetoken: `timetokens` holds one for all, or
/// one per channel (PubNub's messageCounts).
pub fn message_counts(channels: &[&str], timetokens: &[&str]) -> Result<Vec<u64>, Error> {
    let names: Vec<String> = channels.iter().map(|c| (*c).to_owned()).collect();
    let after: Vec<String> = timetokens.iter().map(|t| (*t).to_owned()).collect();
    wit::message_counts(&names, &after).map_err(Error::from_wit)
}

/// Deletes `channel`'s stored messages after `start` (exclusive) up to
/// `end` (inclusive), in either order; neither: all of them (PubNub's
/// deleteMessages). In a cluster, on every node.
pub fn delete_messages(channel: &str, start: Option<&str>, end: Option<&str>) -> Result<(), Error> {
    wit::delete_messages(channel, start, end).map_err(Error::from_wit)
}

fn json(text: &str, what: &str) -> Result<Value, Error> {
    serde_json::from_str(text).map_err(|e| Error::Json(format!("{what} is not valid JSON ({e})")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_query_asks_for_the_newest() {
        let q = Query::default();
        assert_eq!(
            (q.start, q.end, q.count, q.include_meta),
            (None, None, None, false)
        );
    }

    #[test]
    fn bad_json_is_an_error() {
        assert_eq!(json("[1]", "x").unwrap(), serde_json::json!([1]));
        assert!(matches!(json("{", "x"), Err(Error::Json(_))));
    }
}
