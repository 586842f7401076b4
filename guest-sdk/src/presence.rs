//! The presence change an after-presence handler sees, with the client's
//! state as a JSON object.
//!
//! On the wire (the WIT `presence-event` record of the `after-presence`
//! interface) the state is JSON text; this module parses it for the handler.

use std::fmt;

use serde_json::{Map, Value};

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
    fn action_names() {
        assert_eq!(PresenceAction::StateChange.to_string(), "state-change");
        assert_eq!(PresenceAction::Timeout.as_str(), "timeout");
    }
}
