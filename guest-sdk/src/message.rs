//! The message a publish hook sees, with its payload and meta as JSON values.
//!
//! On the wire (the WIT `message` record) payload and meta are JSON text; this
//! module parses them into [`serde_json::Value`]s for the handler and turns
//! them back into text when a handler modifies a message.

use std::fmt;

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::__private::bindings::edgefn::functions::types as wit;

/// A message on its way through the bus.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// The channel the message was published to, e.g. `chat.lobby`.
    pub channel: String,
    /// The message itself (any JSON value).
    pub payload: Value,
    /// The publisher's metadata (a JSON object), if any.
    pub meta: Option<Value>,
    /// The publisher's id, when the publisher gave one.
    pub publisher: Option<String>,
    /// How the message was published.
    pub kind: MessageKind,
    /// The message's timetoken (17 decimal digits, 100 ns units since the Unix
    /// epoch). `None` in before-publish handlers: it is assigned afterwards.
    pub timetoken: Option<String>,
}

/// How a message entered the bus.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageKind {
    /// An ordinary publish: stored in history and delivered to subscribers.
    Publish,
    /// A fire: seen by functions only, never stored, never delivered.
    Fire,
    /// A signal: a small message that is delivered but never stored.
    Signal,
}

impl Message {
    /// A published message on `channel` with `payload` and nothing else, for
    /// example to call a handler from a unit test.
    ///
    /// ```
    /// use edgefn_sdk::{Message, MessageKind, serde_json::json};
    /// let msg = Message::new("chat.lobby", json!({"text": "hi"}));
    /// assert_eq!(msg.kind, MessageKind::Publish);
    /// ```
    pub fn new(channel: impl Into<String>, payload: Value) -> Self {
        Message {
            channel: channel.into(),
            payload,
            meta: None,
            publisher: None,
            kind: MessageKind::Publish,
            timetoken: None,
        }
    }

    /// Deserializes the payload into `T`.
    ///
    /// ```
    /// # use edgefn_sdk::{Message, serde_json::json};
    /// let msg = Message::new("scores", json!([3, 4]));
    /// let scores: Vec<u32> = msg.payload_as().unwrap();
    /// assert_eq!(scores, [3, 4]);
    /// ```
    pub fn payload_as<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        T::deserialize(&self.payload)
    }

    /// Parses the WIT record; the error says which part was not valid JSON.
    pub(crate) fn from_wit(msg: wit::Message) -> Result<Message, String> {
        let payload = serde_json::from_str(&msg.payload)
            .map_err(|e| format!("the message payload is not valid JSON ({e})"))?;
        let meta = match msg.meta {
            Some(text) => Some(
                serde_json::from_str(&text)
                    .map_err(|e| format!("the message meta is not valid JSON ({e})"))?,
            ),
            None => None,
        };
        Ok(Message {
            channel: msg.channel,
            payload,
            meta,
            publisher: msg.publisher,
            kind: match msg.kind {
                wit::MessageKind::Publish => MessageKind::Publish,
                wit::MessageKind::Fire => MessageKind::Fire,
                wit::MessageKind::Signal => MessageKind::Signal,
            },
            timetoken: msg.timetoken,
        })
    }

    /// The payload and meta as JSON text (a `null` meta counts as none).
    pub(crate) fn to_json_parts(&self) -> (String, Option<String>) {
        let meta = match &self.meta {
            None | Some(Value::Null) => None,
            Some(meta) => Some(meta.to_string()),
        };
        (self.payload.to_string(), meta)
    }
}

impl MessageKind {
    /// The kind's name: `"publish"`, `"fire"` or `"signal"`.
    pub fn as_str(self) -> &'static str {
        match self {
            MessageKind::Publish => "publish",
            MessageKind::Fire => "fire",
            MessageKind::Signal => "signal",
        }
    }
}

impl fmt::Display for MessageKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn wit_message(payload: &str, meta: Option<&str>) -> wit::Message {
        wit::Message {
            channel: "chat.lobby".into(),
            payload: payload.into(),
            meta: meta.map(Into::into),
            publisher: Some("alice".into()),
            kind: wit::MessageKind::Signal,
            timetoken: None,
        }
    }

    #[test]
    fn parses_payload_and_meta() {
        let msg = Message::from_wit(wit_message(r#"{"text":"hi"}"#, Some(r#"{"a":1}"#))).unwrap();
        assert_eq!(msg.payload, json!({"text": "hi"}));
        assert_eq!(msg.meta, Some(json!({"a": 1})));
        assert_eq!(msg.kind, MessageKind::Signal);
        assert_eq!(msg.publisher.as_deref(), Some("alice"));
    }

    #[test]
    fn bad_json_is_an_error_not_a_panic() {
        let err = Message::from_wit(wit_message("{nope", None)).unwrap_err();
        assert!(
            err.starts_with("the message payload is not valid JSON"),
            "{err}"
        );
        let err = Message::from_wit(wit_message("1", Some("["))).unwrap_err();
        assert!(
            err.starts_with("the message meta is not valid JSON"),
            "{err}"
        );
    }

    #[test]
    fn null_meta_is_removed() {
        let mut msg = Message::new("c", json!("x"));
        msg.meta = Some(Value::Null);
        assert_eq!(msg.to_json_parts(), ("\"x\"".to_string(), None));
    }
}
