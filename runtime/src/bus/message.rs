//! Messages as they travel through the bus, and their JSON forms.

use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::channel::Channel;
use super::history::Deletion;
use super::timetoken::Timetoken;

/// Largest message accepted (payload plus meta), in bytes of JSON text.
pub const MAX_MESSAGE_BYTES: usize = 32 * 1024;
/// Largest signal payload accepted, in bytes of JSON text.
pub const MAX_SIGNAL_BYTES: usize = 64;

/// What a function's publisher id starts with (`fn:NAME`): reserved for
/// functions, so subscribers can trust that a `fn:` publisher is one.
pub const FUNCTION_ID_PREFIX: &str = "fn:";

/// A client claimed an id in the functions' namespace.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` starts with the reserved prefix `{FUNCTION_ID_PREFIX}`: ids starting with it belong to functions"
)]
pub struct ReservedId(pub String);

/// Checks an id a client chose for itself (publisher, uuid): anything but
/// the functions' prefix, in any letter case.
///
/// # Errors
/// [`ReservedId`] when it starts with [`FUNCTION_ID_PREFIX`].
pub fn check_client_id(id: &str) -> Result<(), ReservedId> {
    let prefix = id.get(..FUNCTION_ID_PREFIX.len()).unwrap_or_default();
    if prefix.eq_ignore_ascii_case(FUNCTION_ID_PREFIX) {
        return Err(ReservedId(id.to_owned()));
    }
    Ok(())
}

/// How a message entered the bus.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MessageKind {
    /// Stored (unless asked otherwise) and delivered.
    Publish,
    /// Seen by functions only: never stored, never delivered.
    Fire,
    /// Small, delivered, never stored.
    Signal,
    /// A message action added or removed (see [`crate::actions`]):
    /// delivered, never stored, never seen by functions.
    Action,
    /// A range of the channel's history deleted (see [`Message::deletion`]):
    /// applied to every node's history in order with the messages, never
    /// delivered, never seen by functions.
    Delete,
    /// An App Context object set or removed (see [`crate::objects`]):
    /// delivered, never stored, never seen by functions.
    Object,
    /// A shared file's message (see [`crate::files`]): stored (unless asked
    /// otherwise) and delivered like a publish, and seen by functions as one.
    File,
}

impl std::fmt::Display for MessageKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Publish => "message",
            Self::Fire => "fire",
            Self::Signal => "signal",
            Self::Action => "message action",
            Self::Delete => "deletion",
            Self::Object => "object event",
            Self::File => "file message",
        })
    }
}

impl MessageKind {
    /// Whether messages of this kind go into history (unless asked
    /// otherwise): publishes and file messages.
    pub fn is_stored(self) -> bool {
        matches!(self, Self::Publish | Self::File)
    }

    /// Largest payload accepted for this kind of message.
    pub fn max_bytes(self) -> usize {
        match self {
            Self::Signal => MAX_SIGNAL_BYTES,
            Self::Publish
            | Self::Fire
            | Self::Action
            | Self::Delete
            | Self::Object
            | Self::File => MAX_MESSAGE_BYTES,
        }
    }
}

/// Why a message was refused before anything ran.
#[derive(Debug, thiserror::Error)]
pub enum MessageError {
    /// The payload was not JSON.
    #[error("message is not valid JSON: {0}")]
    PayloadNotJson(serde_json::Error),
    /// The meta was not a JSON object.
    #[error("meta must be a JSON object")]
    MetaNotObject,
    /// The message was larger than its kind allows.
    #[error("{kind} of {size} bytes is larger than the limit of {limit} bytes")]
    TooLarge {
        /// What was published.
        kind: MessageKind,
        /// Its size in bytes (payload plus meta).
        size: usize,
        /// The limit for that kind.
        limit: usize,
    },
}

/// A message on its way through the bus, before it gets a timetoken.
#[derive(Debug, Clone)]
pub struct Message {
    /// Where it was published.
    pub channel: Channel,
    /// The message itself: any JSON value.
    pub payload: Box<RawValue>,
    /// The publisher's metadata: a JSON object.
    pub meta: Option<Box<RawValue>>,
    /// The publisher's id, if given.
    pub publisher: Option<String>,
    /// Publish, fire or signal.
    pub kind: MessageKind,
    /// Whether it goes into the channel's history.
    pub store: bool,
    /// How many function-made publishes led to it (0 for a client's).
    pub depth: u8,
    /// The publisher's own type for it (PubNub's `custom_message_type`).
    pub custom_type: Option<String>,
    /// How long history keeps it, in seconds from its timetoken (none:
    /// until trimmed or deleted).
    pub ttl_secs: Option<u64>,
}

impl Message {
    /// Builds a message from JSON text, checking that the payload is JSON,
    /// that meta is an object and that the size is within the kind's limit.
    ///
    /// # Errors
    /// [`MessageError`] names the first problem found.
    pub fn new(
        channel: Channel,
        kind: MessageKind,
        payload: &str,
        meta: Option<&str>,
        publisher: Option<String>,
    ) -> Result<Self, MessageError> {
        let payload = RawValue::from_string(payload.trim().to_owned());
        let payload = payload.map_err(MessageError::PayloadNotJson)?;
        let meta = meta.map(parse_meta).transpose()?;
        check_size(kind, size(&payload, meta.as_deref()))?;
        Ok(Self {
            channel,
            payload,
            meta,
            publisher,
            store: kind.is_stored(),
            kind,
            depth: 0,
            custom_type: None,
            ttl_secs: None,
        })
    }

    /// The deletion of `range` from `channel`'s history, to commit through
    /// the bus like a message.
    pub fn deletion(channel: Channel, range: Deletion) -> Self {
        let payload = format!("[{},{}]", range.from.0, range.to.0);
        Self {
            channel,
            payload: RawValue::from_string(payload).expect("a deletion is JSON"),
            meta: None,
            publisher: None,
            kind: MessageKind::Delete,
            store: true,
            depth: 0,
            custom_type: None,
            ttl_secs: None,
        }
    }

    /// The range this message deletes, when it is a deletion.
    pub fn deleted_range(&self) -> Option<Deletion> {
        let (from, to) = serde_json::from_str(self.payload.get()).ok()?;
        (self.kind == MessageKind::Delete).then_some(Deletion {
            from: Timetoken(from),
            to: Timetoken(to),
        })
    }

    /// Replaces payload and meta (as a before-publish hook may), re-checking
    /// them as [`Message::new`] does.
    ///
    /// # Errors
    /// [`MessageError`] names the first problem found; the message is then
    /// left as it was.
    pub fn replace(&mut self, payload: String, meta: Option<String>) -> Result<(), MessageError> {
        let payload = RawValue::from_string(payload).map_err(MessageError::PayloadNotJson)?;
        let meta = meta.as_deref().map(parse_meta).transpose()?;
        check_size(self.kind, size(&payload, meta.as_deref()))?;
        self.payload = payload;
        self.meta = meta;
        Ok(())
    }

    /// Keeps it in history for `hours` of `hour_secs` seconds (PubNub's
    /// `ttl`): 0 keeps it until trimmed, and a message kept out of history
    /// ignores it.
    pub fn expire_after(&mut self, hours: u64, hour_secs: u64) {
        self.ttl_secs = (self.store && hours > 0).then(|| hours.saturating_mul(hour_secs));
    }

    /// Bytes counted against the size limit: payload plus meta.
    pub fn size(&self) -> usize {
        size(&self.payload, self.meta.as_deref())
    }
}

fn size(payload: &RawValue, meta: Option<&RawValue>) -> usize {
    payload.get().len() + meta.map_or(0, |m| m.get().len())
}

fn check_size(kind: MessageKind, size: usize) -> Result<(), MessageError> {
    let limit = kind.max_bytes();
    if size > limit {
        return Err(MessageError::TooLarge { kind, size, limit });
    }
    Ok(())
}

fn parse_meta(text: &str) -> Result<Box<RawValue>, MessageError> {
    let text = text.trim();
    if !text.starts_with('{') {
        return Err(MessageError::MetaNotObject);
    }
    RawValue::from_string(text.to_owned()).map_err(|_| MessageError::MetaNotObject)
}

/// A message that has been published: it has its timetoken.
#[derive(Debug)]
pub struct Published {
    /// Its position in the channel's order.
    pub timetoken: Timetoken,
    /// The message.
    pub message: Message,
}

/// One message on its way to the subscribers that get it the same way
/// (named exactly, or through the same wildcard). Every such subscriber's
/// queue holds the same `Arc<Delivery>`, so each wire form of it is encoded
/// once, by whichever connection needs it first ([`Delivery::encoded`]).
#[derive(Debug)]
pub struct Delivery {
    /// The message (shared by every subscriber that gets it).
    pub published: Arc<Published>,
    /// The wildcard subscription it matched, when it did not match exactly.
    pub subscription: Option<Arc<str>>,
    /// Its bytes in each wire form, once encoded.
    encoded: [OnceLock<Bytes>; WireForm::COUNT],
}

/// The forms a delivery is sent in; each protocol adapter encodes its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireForm {
    /// A WebSocket text frame.
    WebSocket,
    /// A Server-Sent Events event.
    ServerSentEvent,
    /// An envelope in a long-poll answer (PubNub's subscribe).
    LongPoll,
}

impl WireForm {
    const COUNT: usize = 3;
}
/// The JSON form of a message as subscribers and history readers see it.
#[derive(Debug, Serialize, Deserialize)]
pub struct MessageView<'a> {
    /// The channel it was published to.
    pub channel: &'a str,
    /// Its timetoken.
    pub timetoken: Timetoken,
    /// The message itself.
    #[serde(borrow)]
    pub message: &'a RawValue,
    /// The publisher's meta, or null.
    #[serde(borrow)]
    pub meta: Option<&'a RawValue>,
    /// The publisher's id, or null.
    pub publisher: Option<&'a str>,
    /// `publish`, `signal`, `action`, `object` or `file`.
    pub kind: MessageKind,
    /// The publisher's own type for it, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom_type: Option<&'a str>,
    /// The wildcard subscription it came through, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subscription: Option<&'a str>,
}

impl Published {
    /// The JSON view of this message as delivered through `subscription`.
    pub fn view<'a>(&'a self, subscription: Option<&'a str>) -> MessageView<'a> {
        let message = &self.message;
        MessageView {
            channel: message.channel.as_str(),
            timetoken: self.timetoken,
            message: &message.payload,
            meta: message.meta.as_deref(),
            publisher: message.publisher.as_deref(),
            kind: message.kind,
            custom_type: message.custom_type.as_deref(),
            subscription,
        }
    }
}

impl Delivery {
    /// A delivery of `published` through `subscription` (none: named exactly).
    pub fn new(published: Arc<Published>, subscription: Option<Arc<str>>) -> Self {
        Self {
            published,
            subscription,
            encoded: Default::default(),
        }
    }

    /// Its view as subscribers see it.
    pub fn view(&self) -> MessageView<'_> {
        self.published.view(self.subscription.as_deref())
    }

    /// This delivery as JSON text.
    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.view()).expect("a message view always serializes")
    }

    /// Its bytes in `form`: made by `encode` the first time they are asked
    /// for, then shared by every subscriber that gets this delivery.
    pub fn encoded(&self, form: WireForm, encode: impl FnOnce(&Self) -> Bytes) -> Bytes {
        self.encoded[form as usize]
            .get_or_init(|| encode(self))
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chan() -> Channel {
        Channel::parse("c").unwrap()
    }

    #[test]
    fn function_ids_are_reserved() {
        for id in ["fn:moderate", "FN:x", "Fn:", "fn:"] {
            assert_eq!(check_client_id(id), Err(ReservedId(id.to_owned())), "{id}");
        }
        for id in ["alice", "fn", "f", "", "fnx:y", "my-fn:x", "é"] {
            assert_eq!(check_client_id(id), Ok(()), "{id}");
        }
    }

    #[test]
    fn validates() {
        let m = Message::new(chan(), MessageKind::Publish, r#" {"a":1} "#, None, None).unwrap();
        assert_eq!(m.payload.get(), r#"{"a":1}"#);
        assert!(m.store);
        assert!(matches!(
            Message::new(chan(), MessageKind::Publish, "{nope", None, None),
            Err(MessageError::PayloadNotJson(_))
        ));
        assert!(matches!(
            Message::new(chan(), MessageKind::Publish, "1", Some("[1]"), None),
            Err(MessageError::MetaNotObject)
        ));
        let big = format!("\"{}\"", "x".repeat(MAX_MESSAGE_BYTES));
        assert!(matches!(
            Message::new(chan(), MessageKind::Publish, &big, None, None),
            Err(MessageError::TooLarge { .. })
        ));
        let signal = format!("\"{}\"", "x".repeat(62));
        assert!(Message::new(chan(), MessageKind::Signal, &signal, None, None).is_ok());
        let signal = format!("\"{}\"", "x".repeat(63));
        assert!(Message::new(chan(), MessageKind::Signal, &signal, None, None).is_err());
    }

    #[test]
    fn view_json() {
        let message = Message::new(
            chan(),
            MessageKind::Publish,
            "[1]",
            Some(r#"{"m":2}"#),
            Some("u1".into()),
        )
        .unwrap();
        let published = Arc::new(Published {
            timetoken: Timetoken(17_000_000_000_000_001),
            message,
        });
        let delivery = Delivery::new(published, Some("c.*".into()));
        let json: serde_json::Value = serde_json::from_str(&delivery.to_json()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"channel":"c","timetoken":"17000000000000001","message":[1],
                "meta":{"m":2},"publisher":"u1","kind":"publish","subscription":"c.*"})
        );
    }
}
