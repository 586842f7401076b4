//! Publishing to the bus from inside a function.
//!
//! Messages are any value that serializes to JSON (at most 32 KiB; a signal
//! at most 64 bytes); meta, when given, must serialize to a JSON object.
//! They go through the target channel's before-publish hooks like any other
//! publish, so they may be [rejected](Error::Rejected). Each call counts
//! against the invocation's bus budget (10 calls by default).
//!
//! Every message a function publishes carries a chain depth: one more than
//! the message that triggered the function. A publish that would be the 4th
//! hop is refused with [`Error::Rejected`], so a function that publishes to a
//! channel it is bound to cannot loop forever.
//!
//! ```no_run
//! use edgefn_sdk::bus;
//! use edgefn_sdk::serde_json::json;
//!
//! let timetoken = bus::publish("chat.lobby", &json!({"text": "hello"}))?;
//! bus::signal("chat.lobby", "typing")?;
//! # Ok::<(), edgefn_sdk::Error>(())
//! ```

use serde::Serialize;

use crate::__private::bindings::edgefn::functions::bus as wit;
use crate::__private::bindings::edgefn::functions::types::Error as WitError;
use crate::Error;
use crate::error::to_json;

/// Publishes `message` to `channel`: it is stored in history and delivered
/// to subscribers. Returns its timetoken (17 decimal digits).
pub fn publish<T: Serialize + ?Sized>(channel: &str, message: &T) -> Result<String, Error> {
    send(wit::publish, channel, message, None)
}

/// Publishes `message` with `meta` (a value that serializes to a JSON
/// object, e.g. `json!({"priority": "high"})`; `null` means no meta).
pub fn publish_with_meta<T, M>(channel: &str, message: &T, meta: &M) -> Result<String, Error>
where
    T: Serialize + ?Sized,
    M: Serialize + ?Sized,
{
    send(wit::publish, channel, message, meta_json(meta)?)
}

/// Fires `message` on `channel`: the channel's functions see it, but it is
/// neither stored nor delivered to subscribers. Returns its timetoken.
pub fn fire<T: Serialize + ?Sized>(channel: &str, message: &T) -> Result<String, Error> {
    send(wit::fire, channel, message, None)
}

/// Fires `message` with `meta` (see [`publish_with_meta`]).
pub fn fire_with_meta<T, M>(channel: &str, message: &T, meta: &M) -> Result<String, Error>
where
    T: Serialize + ?Sized,
    M: Serialize + ?Sized,
{
    send(wit::fire, channel, message, meta_json(meta)?)
}

/// Sends `message` as a signal: delivered to subscribers, never stored. Its
/// JSON text must be at most 64 bytes ([`Error::TooLarge`] otherwise).
/// Returns its timetoken.
pub fn signal<T: Serialize + ?Sized>(channel: &str, message: &T) -> Result<String, Error> {
    wit::signal(channel, &to_json("the signal", message)?).map_err(Error::from_wit)
}

/// Publishes the message that shares the stored file `file_id` named
/// `file_name` (see [`files`](crate::files)) on `channel`, as PubNub's
/// publishFile does: `{"message": MESSAGE, "file": {"id", "name"}}`, with
/// `meta` (see [`publish_with_meta`]). Subscribers get it as a file event,
/// history keeps it, and the channel's before/after Publish File functions
/// see it. Returns its timetoken.
pub fn publish_file<T, M>(
    channel: &str,
    file: (&str, &str),
    message: &T,
    meta: &M,
) -> Result<String, Error>
where
    T: Serialize + ?Sized,
    M: Serialize + ?Sized,
{
    let stored = Keeping {
        store: true,
        ttl_hours: 0,
    };
    publish_file_kept(channel, file, message, meta, stored)
}

/// [`publish_file`], kept in history as `keeping` says.
pub fn publish_file_kept<T, M>(
    channel: &str,
    (file_id, file_name): (&str, &str),
    message: &T,
    meta: &M,
    keeping: Keeping,
) -> Result<String, Error>
where
    T: Serialize + ?Sized,
    M: Serialize + ?Sized,
{
    let message = to_json("the message", message)?;
    let message = (message != "null").then_some(message);
    let meta = meta_json(meta)?;
    wit::publish_file_kept(
        channel,
        file_id,
        file_name,
        message.as_deref(),
        meta.as_deref(),
        keeping,
    )
    .map_err(Error::from_wit)
}

/// How history keeps a published message (PubNub's `storeInHistory` and
/// `ttl`): `store` false keeps it out of history (it is still delivered);
/// `ttl_hours` keeps it that many hours, 0 until the channel's history
/// trims it.
pub use crate::__private::bindings::edgefn::functions::bus::Keeping;

/// Publishes `message` with `meta` (see [`publish_with_meta`]), kept in
/// history as `keeping` says, e.g. `Keeping { store: true, ttl_hours: 24 }`.
pub fn publish_kept<T, M>(
    channel: &str,
    message: &T,
    meta: &M,
    keeping: Keeping,
) -> Result<String, Error>
where
    T: Serialize + ?Sized,
    M: Serialize + ?Sized,
{
    let message = to_json("the message", message)?;
    wit::publish_kept(channel, &message, meta_json(meta)?.as_deref(), keeping)
        .map_err(Error::from_wit)
}

/// `wit::publish` or `wit::fire`.
type Send = fn(&str, &str, Option<&str>) -> Result<String, WitError>;

/// Serializes `message` and hands it to `op`.
fn send<T: Serialize + ?Sized>(
    op: Send,
    channel: &str,
    message: &T,
    meta: Option<String>,
) -> Result<String, Error> {
    op(channel, &to_json("the message", message)?, meta.as_deref()).map_err(Error::from_wit)
}

/// `meta` as JSON text; `null` counts as none.
fn meta_json<M: Serialize + ?Sized>(meta: &M) -> Result<Option<String>, Error> {
    let text = to_json("the meta", meta)?;
    Ok((text != "null").then_some(text))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn null_meta_is_none() {
        assert_eq!(meta_json(&json!(null)).unwrap(), None);
        assert_eq!(meta_json(&None::<u8>).unwrap(), None);
        assert_eq!(
            meta_json(&json!({"a": 1})).unwrap().as_deref(),
            Some(r#"{"a":1}"#)
        );
    }
}
