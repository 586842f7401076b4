//! App Context (PubNub's Objects): metadata about users ([`Kind::Uuid`]:
//! `name`, `email`, `externalId`, `profileUrl`) and channels
//! ([`Kind::Channel`]: `name`, `description`), each with `type`, `status`
//! and a flat `custom` object, an `updated` time and an `eTag`.
//!
//! Objects are JSON objects in PubNub's form (`{"id", "name", ...,
//! "updated", "eTag"}`). [`set`] and [`remove`] change them as PubNub's App
//! Context API does: an object event is published on the channel named by
//! the object's id. The function acts as itself (its events are by
//! `fn:NAME`). Each call counts against the invocation's bus budget (10
//! calls by default, shared with publishing, [`presence`](crate::presence),
//! [`history`](crate::history) and [`actions`](crate::actions)), like a
//! PubNub API call.
//!
//! ```no_run
//! use edgefn_sdk::objects::{self, Include, Kind, ListOptions};
//! use edgefn_sdk::serde_json::json;
//!
//! let alice = objects::set(Kind::Uuid, "alice", &json!({"name": "Alice", "custom": {"team": "red"}}), None, Include::ALL)?;
//! let etag = alice["eTag"].as_str().unwrap_or_default();
//! // Only if nobody changed it meanwhile:
//! objects::set(Kind::Uuid, "alice", &json!({"status": "away"}), Some(etag), Include::ALL)?;
//! let found = objects::get(Kind::Uuid, "alice", Include::default())?;
//! let options = ListOptions { filter: Some("name LIKE 'A*'".into()), ..ListOptions::default() };
//! let page = objects::get_all(Kind::Uuid, &options, Include::default())?;
//! objects::remove(Kind::Uuid, "alice", None)?;
//! # Ok::<(), edgefn_sdk::Error>(())
//! ```

use serde::Serialize;
use serde_json::{Map, Value};

use crate::__private::bindings::edgefn::functions::objects as wit;
use crate::Error;
use crate::error::to_json;

/// An object (or a membership): its fields by PubNub's names.
pub type Object = Map<String, Value>;

/// Which kind of metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A user's (PubNub's uuid metadata).
    Uuid,
    /// A channel's.
    Channel,
}

/// The optional fields an answer carries besides the object's own.
/// `Include::default()` carries none of them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Include {
    /// `custom`.
    pub custom: bool,
    /// `status`.
    pub status: bool,
    /// `type`.
    pub kind: bool,
}

impl Include {
    /// Every optional field.
    pub const ALL: Self = Self {
        custom: true,
        status: true,
        kind: true,
    };
}

/// What [`get_all`] lists. `ListOptions::default()` asks for the first 100
/// objects by id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListOptions {
    /// Only the objects that match this filter expression (PubNub's
    /// syntax, e.g. `name LIKE 'a*' && status == 'active'`).
    pub filter: Option<String>,
    /// Sort keys: `id`, `name`, `updated`, `type` or `status`, each
    /// optionally followed by `:asc` or `:desc`.
    pub sort: Vec<String>,
    /// At most this many: default and at most 100.
    pub limit: Option<u32>,
    /// The page after an earlier one: its [`Page::next`].
    pub next: Option<String>,
    /// The page before an earlier one: its [`Page::prev`].
    pub prev: Option<String>,
    /// Whether to count every object the listing holds.
    pub total_count: bool,
}

/// One page of a listing (of objects, or of
/// [memberships](crate::memberships)).
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    /// The objects.
    pub objects: Vec<Object>,
    /// How many objects the whole listing holds, when asked for.
    pub total_count: Option<u32>,
    /// The cursor of the next page, if there is one.
    pub next: Option<String>,
    /// The cursor of the previous page, if there is one.
    pub prev: Option<String>,
}

/// The object `id` of `kind`, if there is one.
pub fn get(kind: Kind, id: &str, include: Include) -> Result<Option<Object>, Error> {
    let found = wit::get_metadata(wit_kind(kind), id, flags(include)).map_err(Error::from_wit)?;
    found.as_deref().map(parse).transpose()
}

/// Sets the fields `fields` (a value that serializes to a JSON object)
/// names on object `id` of `kind`, creating it: the others keep their
/// values, a field set to null is cleared, `custom` is replaced whole.
/// With `if_match`, only when the object's eTag is that one
/// ([`Error::Rejected`] otherwise). The object as it is now.
pub fn set<T: Serialize + ?Sized>(
    kind: Kind,
    id: &str,
    fields: &T,
    if_match: Option<&str>,
    include: Include,
) -> Result<Object, Error> {
    let fields = to_json("the fields", fields)?;
    let set = wit::set_metadata(wit_kind(kind), id, &fields, if_match, flags(include))
        .map_err(Error::from_wit)?;
    parse(&set)
}

/// Removes object `id` of `kind` (with `if_match`, only when its eTag is
/// that one: [`Error::Rejected`] otherwise); whether there was one.
pub fn remove(kind: Kind, id: &str, if_match: Option<&str>) -> Result<bool, Error> {
    wit::remove_metadata(wit_kind(kind), id, if_match).map_err(Error::from_wit)
}

/// A page of the objects of `kind` that `options` select.
pub fn get_all(kind: Kind, options: &ListOptions, include: Include) -> Result<Page, Error> {
    let found = wit::get_all_metadata(wit_kind(kind), &wit_options(options), flags(include))
        .map_err(Error::from_wit)?;
    page(found)
}

/// `options` as the host takes them.
pub(crate) fn wit_options(options: &ListOptions) -> wit::ListOptions {
    wit::ListOptions {
        filter: options.filter.clone(),
        sort: options.sort.clone(),
        limit: options.limit,
        next: options.next.clone(),
        prev: options.prev.clone(),
        include_total_count: options.total_count,
    }
}

/// A page as the host sends it, its objects parsed.
pub(crate) fn page(page: wit::ObjectPage) -> Result<Page, Error> {
    Ok(Page {
        objects: page
            .objects
            .iter()
            .map(|o| parse(o))
            .collect::<Result<_, _>>()?,
        total_count: page.total_count,
        next: page.next,
        prev: page.prev,
    })
}

pub(crate) fn wit_kind(kind: Kind) -> wit::MetadataKind {
    match kind {
        Kind::Uuid => wit::MetadataKind::Uuid,
        Kind::Channel => wit::MetadataKind::Channel,
    }
}

fn flags(include: Include) -> wit::IncludeFields {
    let mut flags = wit::IncludeFields::empty();
    flags.set(wit::IncludeFields::CUSTOM, include.custom);
    flags.set(wit::IncludeFields::STATUS, include.status);
    flags.set(wit::IncludeFields::TYPE, include.kind);
    flags
}

/// An object as the host sends it: a JSON object's text.
fn parse(text: &str) -> Result<Object, Error> {
    match serde_json::from_str(text) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err(Error::Json(
            "an App Context object is not a JSON object".into(),
        )),
        Err(e) => Err(Error::Json(format!(
            "an App Context object is not valid JSON ({e})"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn include_maps_to_the_wit_flags() {
        assert_eq!(flags(Include::default()), wit::IncludeFields::empty());
        assert_eq!(flags(Include::ALL), wit::IncludeFields::all());
        let custom = Include {
            custom: true,
            ..Include::default()
        };
        assert_eq!(flags(custom), wit::IncludeFields::CUSTOM);
    }

    #[test]
    fn objects_are_json_objects() {
        assert_eq!(parse(r#"{"id":"a"}"#).unwrap()["id"], "a");
        assert!(matches!(parse("[1]"), Err(Error::Json(_))));
        assert!(matches!(parse("{"), Err(Error::Json(_))));
    }
}
