//! App Context memberships (PubNub's): which users (uuids) belong to which
//! channels. A membership links one uuid and one channel and carries its
//! own `custom`, `status` and `type`, an `updated` time and an `eTag`; a
//! uuid's memberships ([`Kind::Uuid`]) and a channel's members
//! ([`Kind::Channel`]) are the same records seen from either end.
//!
//! Memberships are JSON objects in PubNub's form (`{"channel": {"id",
//! ...}, "custom"?, "status"?, "type"?, "updated", "eTag"}`, with `uuid`
//! for members). [`set`] and [`remove`] change them as PubNub's API does
//! (at most 100 per call; limits per uuid and channel), publish a
//! membership event on the channel and on the uuid's channel for each,
//! and answer the listing after the change. The function acts as itself
//! (its events are by `fn:NAME`). Each call counts against the
//! invocation's bus budget, like a PubNub API call.
//!
//! ```no_run
//! use edgefn_sdk::memberships::{self, Include, Membership};
//! use edgefn_sdk::objects::{Kind, ListOptions};
//! use edgefn_sdk::serde_json::json;
//!
//! let lobby = Membership::with("chat.lobby", &json!({"custom": {"role": "host"}}))?;
//! memberships::set(Kind::Uuid, "alice", &[lobby], None, &ListOptions::default(), Include::default())?;
//! let members = memberships::get(Kind::Channel, "chat.lobby", &ListOptions::default(), Include::ALL)?;
//! memberships::remove(Kind::Uuid, "alice", &["chat.lobby"], None, &ListOptions::default(), Include::default())?;
//! # Ok::<(), edgefn_sdk::Error>(())
//! ```

use serde::Serialize;

use crate::__private::bindings::edgefn::functions::objects as wit;
use crate::Error;
use crate::error::to_json;
use crate::objects::{Kind, ListOptions, Page, page, wit_kind, wit_options};

/// The optional parts a membership answer carries besides its own (the
/// other end's `id`, `updated`, `eTag`). `Include::default()` carries none.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Include {
    /// The membership's `custom`.
    pub custom: bool,
    /// The membership's `status`.
    pub status: bool,
    /// The membership's `type`.
    pub kind: bool,
    /// The other end's metadata (its name and other fields), when it has
    /// some.
    pub other: bool,
    /// The other end's `custom` (implies `other`).
    pub other_custom: bool,
    /// The other end's `status`.
    pub other_status: bool,
    /// The other end's `type`.
    pub other_kind: bool,
}

impl Include {
    /// Every optional part.
    pub const ALL: Self = Self {
        custom: true,
        status: true,
        kind: true,
        other: true,
        other_custom: true,
        other_status: true,
        other_kind: true,
    };
}

/// One membership to set: the other end's id and the fields to set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    /// The other end: a channel (from a uuid), a uuid (from a channel).
    pub id: String,
    /// The fields to set, as a JSON object's text: `custom` (replaced
    /// whole), `status`, `type`; null clears one, the others keep their
    /// values.
    pub fields: Option<String>,
}

impl Membership {
    /// A membership with `id` that sets no field.
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            fields: None,
        }
    }

    /// A membership with `id` that sets `fields` (a value that serializes
    /// to a JSON object, e.g. `json!({"status": "active"})`).
    pub fn with<T: Serialize + ?Sized>(id: impl Into<String>, fields: &T) -> Result<Self, Error> {
        Ok(Self {
            id: id.into(),
            fields: Some(to_json("the membership's fields", fields)?),
        })
    }
}

/// A page of the memberships of `id` (of `kind`) that `options` select;
/// filters and sorts may name the other end's fields (`channel.name`,
/// `uuid.custom.rank`).
pub fn get(kind: Kind, id: &str, options: &ListOptions, include: Include) -> Result<Page, Error> {
    let found = wit::get_memberships(wit_kind(kind), id, &wit_options(options), flags(include))
        .map_err(Error::from_wit)?;
    page(found)
}

/// Sets `memberships` of `id` (of `kind`), creating those missing; with
/// `if_match`, only when each one named has that eTag
/// ([`Error::Rejected`] otherwise). The listing after the change, as
/// [`get`] answers it.
pub fn set(
    kind: Kind,
    id: &str,
    memberships: &[Membership],
    if_match: Option<&str>,
    options: &ListOptions,
    include: Include,
) -> Result<Page, Error> {
    let memberships: Vec<wit::Membership> = memberships
        .iter()
        .map(|m| wit::Membership {
            id: m.id.clone(),
            fields: m.fields.clone(),
        })
        .collect();
    let changed = wit::set_memberships(
        wit_kind(kind),
        id,
        &memberships,
        if_match,
        &wit_options(options),
        flags(include),
    )
    .map_err(Error::from_wit)?;
    page(changed)
}

/// Removes the memberships of `id` (of `kind`) with the other ends
/// `others` (one there is not is ignored), as [`set`] changes them. The
/// listing after the change.
pub fn remove(
    kind: Kind,
    id: &str,
    others: &[&str],
    if_match: Option<&str>,
    options: &ListOptions,
    include: Include,
) -> Result<Page, Error> {
    let others: Vec<String> = others.iter().map(|o| (*o).to_owned()).collect();
    let changed = wit::remove_memberships(
        wit_kind(kind),
        id,
        &others,
        if_match,
        &wit_options(options),
        flags(include),
    )
    .map_err(Error::from_wit)?;
    page(changed)
}

fn flags(include: Include) -> wit::MembershipFields {
    let mut flags = wit::MembershipFields::empty();
    flags.set(wit::MembershipFields::CUSTOM, include.custom);
    flags.set(wit::MembershipFields::STATUS, include.status);
    flags.set(wit::MembershipFields::TYPE, include.kind);
    flags.set(wit::MembershipFields::OTHER, include.other);
    flags.set(wit::MembershipFields::OTHER_CUSTOM, include.other_custom);
    flags.set(wit::MembershipFields::OTHER_STATUS, include.other_status);
    flags.set(wit::MembershipFields::OTHER_TYPE, include.other_kind);
    flags
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn include_maps_to_the_wit_flags() {
        assert_eq!(flags(Include::default()), wit::MembershipFields::empty());
        assert_eq!(flags(Include::ALL), wit::MembershipFields::all());
    }

    #[test]
    fn a_membership_carries_its_fields_as_json() {
        let m = Membership::with("chat", &json!({"status": "on"})).unwrap();
        assert_eq!(m.fields.as_deref(), Some(r#"{"status":"on"}"#));
        assert_eq!(Membership::new("chat").fields, None);
    }
}
