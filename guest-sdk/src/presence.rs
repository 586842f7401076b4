//! Presence: who is on which channel, with their state.
//!
//! - [`here_now`], [`where_now`], [`get_state`] read the node's presence
//!   table (in a cluster, the whole cluster's), as PubNub's presence API
//!   does; [`set_state`] sets a client's state as PubNub's set-state does
//!   (a `state-change` event follows). Each call counts against the
//!   invocation's bus budget (10 calls by default, shared with publishing
//!   and [`history`](crate::history)), like a PubNub API call.
//! - [`PresenceEvent`] is the change an after-presence handler sees, with the
//!   client's state as a JSON object (on the wire, the WIT `presence-event`
//!   record of the `after-presence` interface, the state is JSON text).
//!
//! ```no_run
//! use edgefn_sdk::presence;
//! use edgefn_sdk::serde_json::json;
//!
//! for room in presence::here_now(&["chat.lobby"], true, true)? {
//!     println!("{}: {} here", room.channel, room.occupancy);
//!     for member in &room.members {
//!         println!("  {} {:?}", member.uuid, member.state);
//!     }
//! }
//! let rooms = presence::where_now("alice")?;
//! presence::set_state("alice", &["chat.lobby"], &json!({"mood": "busy"}))?;
//! let states = presence::get_state("alice", &["chat.lobby"])?;
//! assert_eq!(states[0].0, "chat.lobby");
//! # Ok::<(), edgefn_sdk::Error>(())
//! ```

use std::fmt;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::__private::bindings::edgefn::functions::presence as wit;
use crate::Error;
use crate::error::to_json;

/// Who is on one channel ([`here_now`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Occupants {
    /// The channel.
    pub channel: String,
    /// How many clients are on it.
    pub occupancy: u32,
    /// The clients (empty unless asked for).
    pub members: Vec<Member>,
}

/// One client on a channel.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    /// Its id (PubNub's `uuid`).
    pub uuid: String,
    /// Its state on the channel, when asked for and it has one.
    pub state: Option<Map<String, Value>>,
}

/// Who is on each of `channels` (at most 100), in the order given; an empty
/// slice means every channel that has anyone on it. Members are listed only
/// with `include_uuids`, and their state only with `include_state`.
pub fn here_now(
    channels: &[&str],
    include_uuids: bool,
    include_state: bool,
) -> Result<Vec<Occupants>, Error> {
    let found =
        wit::here_now(&owned(channels), include_uuids, include_state).map_err(Error::from_wit)?;
    found
        .into_iter()
        .map(|c| {
            let members = c
                .members
                .into_iter()
                .map(|m| {
                    Ok(Member {
                        uuid: m.uuid,
                        state: m.state.as_deref().map(parse_state).transpose()?,
                    })
                })
                .collect::<Result<_, Error>>()?;
            Ok(Occupants {
                channel: c.channel,
                occupancy: c.occupancy,
                members,
            })
        })
        .collect()
}

/// The channels client `uuid` is present on.
pub fn where_now(uuid: &str) -> Result<Vec<String>, Error> {
    wit::where_now(uuid).map_err(Error::from_wit)
}

/// A channel and a client's state there, if it has one ([`get_state`]).
pub type ChannelState = (String, Option<Map<String, Value>>);

/// Client `uuid`'s state on each of `channels` (at most 100), in the order
/// given: `None` where it has none.
pub fn get_state(uuid: &str, channels: &[&str]) -> Result<Vec<ChannelState>, Error> {
    let states = wit::get_state(uuid, &owned(channels)).map_err(Error::from_wit)?;
    states
        .into_iter()
        .map(|(channel, state)| Ok((channel, state.as_deref().map(parse_state).transpose()?)))
        .collect()
}

/// Sets client `uuid`'s state on `channels` to `state` (a value that
/// serializes to a JSON object, at most 32 KiB), as PubNub's set-state
/// does: the client becomes present there if it was not, and a
/// `state-change` event is published on each channel's `-pnpres` channel
/// (and runs its after-presence functions).
pub fn set_state<T: Serialize + ?Sized>(
    uuid: &str,
    channels: &[&str],
    state: &T,
) -> Result<(), Error> {
    wit::set_state(uuid, &owned(channels), &to_json("the state", state)?).map_err(Error::from_wit)
}

fn owned(channels: &[&str]) -> Vec<String> {
    channels.iter().map(|c| (*c).to_owned()).collect()
}

/// A state as the host sends it: a JSON object's text.
fn parse_state(text: &str) -> Result<Map<String, Value>, Error> {
    match serde_json::from_str(text) {
        Ok(Value::Object(state)) => Ok(state),
        Ok(_) => Err(Error::Json(
            "the presence state is not a JSON object".into(),
        )),
        Err(e) => Err(Error::Json(format!(
            "the presence state is not valid JSON ({e})"
        ))),
    }
}

/// One presence change on a channel: a client joined, left, timed out or
/// changed its state.
#[derive(Debug, Clone, PartialEq)]
pub struct PresenceEvent {
    /// What happened.
    pub action: PresenceAction,
    /// The channel, e.g. `chat.lobby` (without the `-pnpres` suffix of the
    /// channel the event is published on).
    pub channel: String,
    /// The client's id (PubNub's `uuid`).
    pub uuid: String,
    /// How many clients are on the channel after the change.
    pub occupancy: u32,
    /// When it happened, in seconds since the Unix epoch.
    pub timestamp: u64,
    /// The client's state on the channel, when the change carries one (a
    /// `state-change`, or a `join` whose heartbeat set a state).
    pub state: Option<Map<String, Value>>,
}

/// What happened to a client's presence on a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PresenceAction {
    /// The client started heartbeating on the channel.
    Join,
    /// The client left the channel explicitly.
    Leave,
    /// The client stopped heartbeating and was timed out.
    Timeout,
    /// The client changed its state on the channel.
    StateChange,
}

impl PresenceEvent {
    /// An event with no state, for example to call a handler from a unit test.
    ///
    /// ```
    /// use edgefn_sdk::{PresenceAction, PresenceEvent};
    /// let event = PresenceEvent::new(PresenceAction::Join, "chat.lobby", "alice", 1);
    /// assert_eq!(event.occupancy, 1);
    /// assert!(event.state.is_none());
    /// ```
    pub fn new(
        action: PresenceAction,
        channel: impl Into<String>,
        uuid: impl Into<String>,
        occupancy: u32,
    ) -> Self {
        PresenceEvent {
            action,
            channel: channel.into(),
            uuid: uuid.into(),
            occupancy,
            timestamp: 0,
            state: None,
        }
    }

    /// Builds the event from the WIT record's fields; the error says when the
    /// state is not a JSON object.
    pub(crate) fn from_raw(raw: RawPresenceEvent) -> Result<PresenceEvent, String> {
        let state = match raw.state {
            None => None,
            Some(text) => match serde_json::from_str(&text) {
                Ok(Value::Object(state)) => Some(state),
                Ok(_) => return Err("the presence state is not a JSON object".into()),
                Err(e) => return Err(format!("the presence state is not valid JSON ({e})")),
            },
        };
        Ok(PresenceEvent {
            action: raw.action,
            channel: raw.channel,
            uuid: raw.uuid,
            occupancy: raw.occupancy,
            timestamp: raw.timestamp,
            state,
        })
    }
}

impl PresenceAction {
    /// The action's name as PubNub writes it: `"join"`, `"leave"`,
    /// `"timeout"` or `"state-change"`.
    pub fn as_str(self) -> &'static str {
        match self {
            PresenceAction::Join => "join",
            PresenceAction::Leave => "leave",
            PresenceAction::Timeout => "timeout",
            PresenceAction::StateChange => "state-change",
        }
    }
}

impl fmt::Display for PresenceAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The WIT `presence-event` record with its action already mapped, as the
/// code the [`after_presence`](crate::after_presence) macro generates hands
/// it over (the record's Rust type is generated in the user's crate, so the
/// SDK cannot name it).
#[doc(hidden)]
#[derive(Debug, Clone, PartialEq)]
pub struct RawPresenceEvent {
    /// What happened.
    pub action: PresenceAction,
    /// The channel.
    pub channel: String,
    /// The client's id.
    pub uuid: String,
    /// The occupancy after the change.
    pub occupancy: u32,
    /// Seconds since the Unix epoch.
    pub timestamp: u64,
    /// The state, as JSON text.
    pub state: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn raw(state: Option<&str>) -> RawPresenceEvent {
        RawPresenceEvent {
            action: PresenceAction::StateChange,
            channel: "chat.lobby".into(),
            uuid: "alice".into(),
            occupancy: 2,
            timestamp: 1_700_000_000,
            state: state.map(Into::into),
        }
    }

    #[test]
    fn parses_the_state() {
        let event = PresenceEvent::from_raw(raw(Some(r#"{"mood":"busy"}"#))).unwrap();
        assert_eq!(event.state, json!({"mood": "busy"}).as_object().cloned());
        assert_eq!(event.action, PresenceAction::StateChange);
        assert_eq!((event.occupancy, event.timestamp), (2, 1_700_000_000));
        assert_eq!(PresenceEvent::from_raw(raw(None)).unwrap().state, None);
    }

    #[test]
    fn a_bad_state_is_an_error_not_a_panic() {
        let err = PresenceEvent::from_raw(raw(Some("[1]"))).unwrap_err();
        assert_eq!(err, "the presence state is not a JSON object");
        let err = PresenceEvent::from_raw(raw(Some("{"))).unwrap_err();
        assert!(
            err.starts_with("the presence state is not valid JSON"),
            "{err}"
        );
    }

    #[test]
    fn states_from_the_host_are_objects() {
        assert_eq!(parse_state(r#"{"a":1}"#).unwrap()["a"], 1);
        assert!(matches!(parse_state("1"), Err(Error::Json(_))));
    }

    #[test]
    fn action_names() {
        assert_eq!(PresenceAction::StateChange.to_string(), "state-change");
        assert_eq!(PresenceAction::Timeout.as_str(), "timeout");
    }
}
