//! The presence capability: who is on which channel and their state, read
//! from the node's presence table (in a cluster, the whole cluster's), and
//! setting a client's state the way PubNub's set-state does. Each call
//! spends the bus budget (PubNub counts these as API calls).
//!
//! The node provides the table through [`PresenceTable`], so the sandbox
//! does not depend on how the node is wired.

mod host;

use std::sync::Arc;

use serde_json::{Map, Value};

use super::Budget;
use crate::bus::Channel;
use crate::presence::Members;

/// Most channels one call may name.
pub const MAX_CHANNELS: usize = 100;
/// Largest state, as JSON text (like a message).
pub const MAX_STATE_BYTES: usize = 32 * 1024;

/// A client's state on each channel where it has one.
pub type States = Vec<(Channel, Map<String, Value>)>;

/// How the sandbox reads and changes the node's presence table. Each
/// method fails (with a sentence) only when the node cannot answer now.
pub trait PresenceTable: Send + Sync {
    /// Who is on each of `channels` (every channel with anyone when
    /// `None`), with their state.
    fn here_now(&self, channels: Option<&[Channel]>) -> Result<Vec<(Channel, Members)>, String>;
    /// The channels `uuid` is present on.
    fn where_now(&self, uuid: &str) -> Result<Vec<Channel>, String>;
    /// `uuid`'s state on each of `channels` where it has one.
    fn state(&self, uuid: &str, channels: &[Channel]) -> Result<States, String>;
    /// Sets `uuid`'s state on `channels` as the PubNub API's set-state
    /// does (present for the node's presence timeout, a `state-change`
    /// event, written out in a cluster).
    fn set_state(
        &self,
        uuid: &str,
        channels: &[Channel],
        state: &Map<String, Value>,
    ) -> Result<(), String>;
}

/// The presence capability of one invocation.
pub struct PresenceCtx {
    pub(crate) table: Arc<dyn PresenceTable>,
    /// A share of the invocation's bus budget.
    pub(crate) budget: Budget,
}

/// Parses the channel names a call gave: at most [`MAX_CHANNELS`], none a
/// `-pnpres` channel when `allow_presence` is false.
///
/// # Errors
/// A sentence naming the first unacceptable one.
pub fn channels(names: &[String], allow_presence: bool) -> Result<Vec<Channel>, String> {
    if names.len() > MAX_CHANNELS {
        return Err(format!(
            "{} channels named: at most {MAX_CHANNELS} per call",
            names.len()
        ));
    }
    names
        .iter()
        .map(|name| {
            let channel = Channel::parse(name).map_err(|e| e.to_string())?;
            if channel.is_presence() && !allow_presence {
                return Err(format!(
                    "`{name}` is a presence events channel: name the channel itself"
                ));
            }
            Ok(channel)
        })
        .collect()
}

/// Checks a client id.
///
/// # Errors
/// When it is empty or longer than 1,000 bytes.
pub fn uuid(uuid: &str) -> Result<&str, String> {
    match uuid.len() {
        0 => Err("the uuid is empty".into()),
        1..=1000 => Ok(uuid),
        n => Err(format!("the uuid is {n} bytes long: at most 1000")),
    }
}

/// Why a state was not acceptable.
#[derive(Debug, PartialEq, Eq)]
pub enum BadState {
    /// It is not a JSON object.
    Invalid(String),
    /// It is over [`MAX_STATE_BYTES`].
    TooLarge(String),
}

/// Parses a state: a JSON object's text of at most [`MAX_STATE_BYTES`].
///
/// # Errors
/// [`BadState`] says what is wrong.
pub fn state(text: &str) -> Result<Map<String, Value>, BadState> {
    if text.len() > MAX_STATE_BYTES {
        return Err(BadState::TooLarge(format!(
            "the state is {} bytes: at most {MAX_STATE_BYTES}",
            text.len()
        )));
    }
    match serde_json::from_str(text) {
        Ok(Value::Object(state)) => Ok(state),
        Ok(_) => Err(BadState::Invalid("the state must be a JSON object".into())),
        Err(e) => Err(BadState::Invalid(format!("the state is not JSON: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn channels_are_parsed_and_limited() {
        let parsed = channels(&names(&["a", "b.c"]), false).unwrap();
        assert_eq!(parsed.len(), 2);
        assert!(channels(&names(&["a b"]), true).is_err());
        let err = channels(&names(&["room-pnpres"]), false).unwrap_err();
        assert!(err.contains("presence events channel"), "{err}");
        assert!(channels(&names(&["room-pnpres"]), true).is_ok());
        let many: Vec<String> = (0..=MAX_CHANNELS).map(|i| format!("c{i}")).collect();
        assert!(channels(&many, false).unwrap_err().contains("at most 100"));
    }

    #[test]
    fn states_are_json_objects_within_the_limit() {
        assert_eq!(state(r#"{"mood":"ok"}"#).unwrap()["mood"], "ok");
        assert!(matches!(state("[1]"), Err(BadState::Invalid(_))));
        assert!(matches!(state("{"), Err(BadState::Invalid(_))));
        let big = format!(r#"{{"a":"{}"}}"#, "x".repeat(MAX_STATE_BYTES));
        assert!(matches!(state(&big), Err(BadState::TooLarge(_))));
    }

    #[test]
    fn uuids_are_checked() {
        assert_eq!(uuid("alice"), Ok("alice"));
        assert!(uuid("").is_err());
        assert!(uuid(&"u".repeat(1001)).is_err());
    }
}
