//! App Context memberships: which uuids belong to which channels. A
//! membership links one uuid and one channel and carries its own `custom`,
//! `status` and `type`, an `updated` time and an `eTag`. It is one record
//! seen from either end: among the uuid's memberships
//! (`/uuids/{uuid}/channels`) and among the channel's members
//! (`/channels/{channel}/uuids`).
//!
//! A change (PubNub's manage: a `set` and a `delete` list, each naming the
//! other end) is checked whole first (input, limits, `If-Match`), then
//! applied one membership after another, each atomically. Setting a
//! membership replaces the fields it names (null clears one) and keeps the
//! others. `If-Match` makes a change conditional on the eTag of every
//! membership it names (412 otherwise).
//!
//! Listings join the other end's metadata, when it has some, so that
//! `include`, `filter` and `sort` can name its fields (`channel.name`,
//! `uuid.custom.rank`).
//!
//! Memberships need no metadata at either end, and removing a uuid's or a
//! channel's metadata keeps its memberships (as on a PubNub keyset without
//! referential integrity): they are removed only explicitly.
//!
//! Each set and removal is an event (`type: "membership"`) on the channel
//! and on the channel named by the uuid (see [`events`]).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use futures::{StreamExt, TryStreamExt, stream};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::{
    Edit, Include, Kind, ListPage, ListQuery, MAX_PAGE, Object, ObjectError, Objects, Write,
    check_etag, check_id, check_string, event_on, iso_time, page,
};
use crate::bus::Message;

/// Most memberships one change may name (PubNub's page size).
pub const MAX_CHANGES: usize = MAX_PAGE;
/// Metadata reads at once when a listing joins the other ends.
const CONCURRENT_READS: usize = 32;

/// One membership, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Membership {
    /// The uuid.
    pub uuid: String,
    /// The channel.
    pub channel: String,
    /// `status` and `type`, when set.
    pub fields: Map<String, Value>,
    /// Its custom data: a flat object of scalars.
    pub custom: Option<Map<String, Value>>,
    /// When it was last set (ISO-8601, milliseconds, UTC).
    pub updated: String,
    /// Its content's tag.
    pub etag: String,
}

impl Membership {
    /// The id of its `end`.
    pub fn end(&self, end: Kind) -> &str {
        match end {
            Kind::Uuid => &self.uuid,
            Kind::Channel => &self.channel,
        }
    }

    /// Its JSON as PubNub answers it when listed from `from`: the other
    /// end (with its metadata `other`, as `include` asks), then its own
    /// fields.
    pub fn view(&self, from: Kind, other: Option<&Object>, include: &MembershipInclude) -> Value {
        let end = from.other();
        let mut view = Map::new();
        view.insert(
            end.as_str().into(),
            include.other_view(end, self.end(end), other),
        );
        let field = |name: &str| self.fields.get(name).cloned().unwrap_or(Value::Null);
        if include.own.custom {
            view.insert(
                "custom".into(),
                self.custom.clone().map_or(Value::Null, Value::Object),
            );
        }
        if include.own.status {
            view.insert("status".into(), field("status"));
        }
        if include.own.kind {
            view.insert("type".into(), field("type"));
        }
        view.insert("updated".into(), self.updated.clone().into());
        view.insert("eTag".into(), self.etag.clone().into());
        Value::Object(view)
    }

    fn tag(&self) -> String {
        let content = json!([self.uuid, self.channel, self.fields, self.custom]).to_string();
        let digest = Sha256::digest(content.as_bytes());
        STANDARD_NO_PAD.encode(&digest[..12])
    }
}

/// Which optional parts a membership answer carries (`include=`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MembershipInclude {
    /// The membership's own `custom`, `status`, `type`.
    pub own: Include,
    /// `totalCount`.
    pub total_count: bool,
    /// The other end's metadata (`channel` / `uuid`, or its `.custom`).
    pub other_fields: bool,
    /// The other end's `custom`, `status`, `type`.
    pub other: Include,
}

impl MembershipInclude {
    /// Everything (what filters and sorts see).
    pub const ALL: Self = Self {
        own: Include::ALL,
        total_count: true,
        other_fields: true,
        other: Include::ALL,
    };

    /// Parses a comma-separated `include` of a listing from `from`:
    /// `custom`, `status`, `type`, `totalCount`, and the other end (say
    /// `channel`) as `channel`, `channel.id`, `channel.custom`,
    /// `channel.status`, `channel.type`.
    ///
    /// # Errors
    /// [`ObjectError::Invalid`] naming an unknown part.
    pub fn parse(text: &str, from: Kind) -> Result<Self, ObjectError> {
        let end = from.other().as_str();
        let mut include = Self::default();
        for item in text.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            match (item, item.strip_prefix(end)) {
                ("custom", _) => include.own.custom = true,
                ("status", _) => include.own.status = true,
                ("type", _) => include.own.kind = true,
                ("totalCount", _) => include.total_count = true,
                (_, Some("")) => include.other_fields = true,
                (_, Some(".id")) => {}
                (_, Some(".custom")) => {
                    include.other_fields = true;
                    include.other.custom = true;
                }
                (_, Some(".status")) => include.other.status = true,
                (_, Some(".type")) => include.other.kind = true,
                _ => {
                    return Err(ObjectError::invalid(
                        "include",
                        format!(
                            "Unknown include field `{item}` (expected custom, status, type, \
                             totalCount, {end}, {end}.custom, {end}.status, {end}.type)"
                        ),
                    ));
                }
            }
        }
        Ok(include)
    }

    /// The other end `id` of `kind`: its id, and its metadata `object` as
    /// asked.
    fn other_view(&self, kind: Kind, id: &str, object: Option<&Object>) -> Value {
        let Some(object) = object else {
            return json!({ "id": id });
        };
        let mut view = object.view(kind, self.other);
        if !self.other_fields
            && let Value::Object(fields) = &mut view
        {
            fields.retain(|name, _| {
                name == "id"
                    || (name == "status" && self.other.status)
                    || (name == "type" && self.other.kind)
            });
        }
        view
    }
}

/// The fields a filter of a listing from `from` may name.
pub fn filter_fields(from: Kind) -> &'static [&'static str] {
    match from {
        Kind::Uuid => &[
            "custom",
            "status",
            "type",
            "updated",
            "channel.id",
            "channel.name",
            "channel.description",
            "channel.type",
            "channel.status",
            "channel.updated",
            "channel.custom",
        ],
        Kind::Channel => &[
            "custom",
            "status",
            "type",
            "updated",
            "uuid.id",
            "uuid.name",
            "uuid.email",
            "uuid.externalId",
            "uuid.profileUrl",
            "uuid.type",
            "uuid.status",
            "uuid.updated",
            "uuid.custom",
        ],
    }
}

/// The fields a listing from `from` sorts by.
pub fn sort_fields(from: Kind) -> &'static [&'static str] {
    match from {
        Kind::Uuid => &[
            "updated",
            "status",
            "type",
            "channel.id",
            "channel.name",
            "channel.description",
            "channel.updated",
            "channel.status",
            "channel.type",
        ],
        Kind::Channel => &[
            "updated",
            "status",
            "type",
            "uuid.id",
            "uuid.name",
            "uuid.updated",
            "uuid.status",
            "uuid.type",
        ],
    }
}

/// What one call changes, by the other end's id: memberships to set (with
/// the fields each names) and memberships to remove.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Changes {
    set: Vec<(String, Map<String, Value>)>,
    delete: Vec<String>,
}

impl Changes {
    /// The other ends it names.
    pub fn named(&self) -> impl Iterator<Item = &str> {
        self.set
            .iter()
            .map(|(id, _)| id.as_str())
            .chain(self.delete.iter().map(String::as_str))
    }
}

/// What a change did, for its events.
#[derive(Debug, Clone, PartialEq)]
pub enum Changed {
    /// This membership is set (as it is now).
    Set(Membership),
    /// This membership was removed.
    Removed(Membership),
}

/// The uuid and the channel of the membership of `id` (from `from`) with
/// `other`.
fn ends(from: Kind, id: &str, other: &str) -> (String, String) {
    match from {
        Kind::Uuid => (id.to_owned(), other.to_owned()),
        Kind::Channel => (other.to_owned(), id.to_owned()),
    }
}

impl Objects {
    /// Parses a change body from `from`: `{"set": [{"channel": {"id"},
    /// "custom"?, "status"?, "type"?}], "delete": [{"channel": {"id"}}]}`
    /// (`uuid` instead of `channel` from a channel).
    ///
    /// # Errors
    /// [`ObjectError::Invalid`] naming what is wrong.
    pub fn parse_changes(&self, from: Kind, body: &[u8]) -> Result<Changes, ObjectError> {
        let invalid = |m: String| ObjectError::invalid("body", m);
        let end = from.other().as_str();
        let body: Map<String, Value> = serde_json::from_slice(body).map_err(|e| {
            invalid(format!(
                "Invalid JSON body: expected an object with `set` and `delete` lists: {e}"
            ))
        })?;
        let mut changes = Changes::default();
        let mut seen = HashSet::new();
        for (list, items) in &body {
            let items = match (list.as_str(), items) {
                ("set" | "delete", Value::Array(items)) => items,
                ("set" | "delete", Value::Null) => continue,
                ("set" | "delete", _) => return Err(invalid(format!("`{list}` must be a list"))),
                _ => {
                    return Err(invalid(format!(
                        "Unknown field `{list}` (expected set, delete)"
                    )));
                }
            };
            for (n, item) in items.iter().enumerate() {
                let at = format!("{list}[{n}]");
                let Value::Object(item) = item else {
                    return Err(invalid(format!("`{at}` must be an object")));
                };
                let id = item
                    .get(end)
                    .and_then(|e| e.get("id"))
                    .and_then(Value::as_str)
                    .ok_or_else(|| invalid(format!("`{at}.{end}.id` must be a string")))?;
                check_id(id).map_err(|e| invalid(format!("`{at}.{end}.id`: {e}")))?;
                if !seen.insert(id.to_owned()) {
                    return Err(invalid(format!("The {end} `{id}` is named twice")));
                }
                if list == "delete" {
                    changes.delete.push(id.to_owned());
                    continue;
                }
                let mut patch = Map::new();
                for (name, value) in item.iter().filter(|(name, _)| *name != end) {
                    match name.as_str() {
                        "custom" => self.check_custom(value)?,
                        "status" | "type" => check_string(name, value)?,
                        _ => {
                            return Err(invalid(format!(
                                "Unknown field `{at}.{name}` (expected {end}, custom, status, type)"
                            )));
                        }
                    }
                    patch.insert(name.clone(), value.clone());
                }
                changes.set.push((id.to_owned(), patch));
            }
        }
        if seen.len() > MAX_CHANGES {
            return Err(invalid(format!(
                "{} memberships named, more than the {MAX_CHANGES} one call may change",
                seen.len()
            )));
        }
        Ok(changes)
    }

    /// The most memberships `kind` `id` may have, and the setting's name.
    fn membership_limit(&self, kind: Kind) -> (usize, &'static str, &'static str) {
        match kind {
            Kind::Uuid => (
                self.limits.memberships_per_uuid,
                "memberships",
                "pubnub.max_memberships_per_uuid",
            ),
            Kind::Channel => (
                self.limits.members_per_channel,
                "members",
                "pubnub.max_members_per_channel",
            ),
        }
    }

    /// Fails when `kind` `id`, having `count` memberships, may not have
    /// `added` more.
    fn check_membership_limit(
        &self,
        kind: Kind,
        id: &str,
        count: usize,
        added: usize,
    ) -> Result<(), ObjectError> {
        let (limit, what, setting) = self.membership_limit(kind);
        if added > 0 && count + added > limit {
            return Err(ObjectError::invalid(
                "body",
                format!(
                    "The {} `{id}` would have {} {what}, more than the {limit} allowed ({setting})",
                    kind.as_str(),
                    count + added
                ),
            ));
        }
        Ok(())
    }

    /// Applies `changes` to the memberships of `id` (from `from`), if each
    /// one named has eTag `if_match` (when given); what changed.
    ///
    /// # Errors
    /// [`ObjectError::Invalid`] when a limit would be passed,
    /// [`ObjectError::Modified`], [`ObjectError::Unavailable`].
    pub async fn manage(
        &self,
        from: Kind,
        id: &str,
        changes: Changes,
        if_match: Option<String>,
        now_ms: u64,
    ) -> Result<Vec<Changed>, ObjectError> {
        check_id(id)?;
        let end = from.other();
        let current = Arc::clone(&self.store)
            .memberships(from, id.to_owned())
            .await?;
        let existing: HashMap<&str, &str> = current
            .iter()
            .map(|m| (m.end(end), m.etag.as_str()))
            .collect();
        for other in changes.named() {
            check_etag(existing.get(other).copied(), if_match.as_deref())?;
        }
        let added: Vec<&str> = changes
            .set
            .iter()
            .map(|(other, _)| other.as_str())
            .filter(|other| !existing.contains_key(other))
            .collect();
        let removed = changes
            .delete
            .iter()
            .filter(|other| existing.contains_key(other.as_str()))
            .count();
        let count = current.len() - removed;
        self.check_membership_limit(from, id, count, added.len())?;
        for other in &added {
            let theirs = Arc::clone(&self.store)
                .memberships(end, (*other).to_owned())
                .await?;
            self.check_membership_limit(end, other, theirs.len(), 1)?;
        }

        let updated = iso_time(now_ms);
        let mut changed = Vec::new();
        for (other, patch) in changes.set {
            let (uuid, channel) = ends(from, id, &other);
            let result = Arc::new(Mutex::new(None));
            let written = Arc::clone(&result);
            let (if_match, updated) = (if_match.clone(), updated.clone());
            let (new_uuid, new_channel) = (uuid.clone(), channel.clone());
            let edit: Edit<Membership> = Box::new(move |current: Option<Membership>| {
                check_etag(
                    current.as_ref().map(|m| m.etag.as_str()),
                    if_match.as_deref(),
                )?;
                let mut membership = current.unwrap_or_else(|| Membership {
                    uuid: new_uuid.clone(),
                    channel: new_channel.clone(),
                    fields: Map::new(),
                    custom: None,
                    updated: String::new(),
                    etag: String::new(),
                });
                for (name, value) in &patch {
                    if name == "custom" {
                        membership.custom = value.as_object().cloned();
                    } else if value.is_null() {
                        membership.fields.remove(name);
                    } else {
                        membership.fields.insert(name.clone(), value.clone());
                    }
                }
                membership.updated.clone_from(&updated);
                membership.etag = membership.tag();
                *written.lock() = Some(membership.clone());
                Ok(Write::Put(Box::new(membership)))
            });
            Arc::clone(&self.store)
                .edit_membership(uuid, channel, edit)
                .await?;
            let membership = result.lock().take();
            changed.push(Changed::Set(membership.ok_or_else(|| {
                ObjectError::Unavailable("the store made no change".into())
            })?));
        }
        for other in changes.delete {
            let (uuid, channel) = ends(from, id, &other);
            let result = Arc::new(Mutex::new(None));
            let seen = Arc::clone(&result);
            let if_match = if_match.clone();
            let edit: Edit<Membership> = Box::new(move |current: Option<Membership>| {
                check_etag(
                    current.as_ref().map(|m| m.etag.as_str()),
                    if_match.as_deref(),
                )?;
                *seen.lock() = current;
                Ok(Write::Delete)
            });
            Arc::clone(&self.store)
                .edit_membership(uuid, channel, edit)
                .await?;
            if let Some(membership) = result.lock().take() {
                changed.push(Changed::Removed(membership));
            }
        }
        Ok(changed)
    }

    /// A page of the memberships of `id` (from `from`), each with the other
    /// end's metadata when it has some.
    ///
    /// # Errors
    /// [`ObjectError::Unavailable`].
    pub async fn memberships(
        &self,
        from: Kind,
        id: &str,
        query: &ListQuery,
    ) -> Result<ListPage<(Membership, Option<Object>)>, ObjectError> {
        check_id(id)?;
        let end = from.other();
        let all = Arc::clone(&self.store)
            .memberships(from, id.to_owned())
            .await?;
        let joined: Vec<(Membership, Option<Object>)> = stream::iter(all)
            .map(|membership| async move {
                let other = Arc::clone(&self.store)
                    .get(end, membership.end(end).to_owned())
                    .await?;
                Ok::<_, ObjectError>((membership, other))
            })
            .buffered(CONCURRENT_READS)
            .try_collect()
            .await?;
        let view = |(m, other): &(Membership, Option<Object>)| {
            m.view(from, other.as_ref(), &MembershipInclude::ALL)
        };
        let tie = match end {
            Kind::Uuid => "uuid.id",
            Kind::Channel => "channel.id",
        };
        Ok(page(joined, view, tie, query))
    }
}

/// The events of a change, published by `by`: on the channel, and on the
/// channel named by the uuid. A set carries the whole membership, a
/// removal both ends' ids.
pub fn events(changed: &Changed, by: Option<&str>) -> Vec<Result<Message, String>> {
    let (event, membership) = match changed {
        Changed::Set(m) => ("set", m),
        Changed::Removed(m) => ("delete", m),
    };
    let ends = json!({
        "uuid": { "id": membership.uuid },
        "channel": { "id": membership.channel },
    });
    let data = match changed {
        Changed::Set(m) => {
            let mut data = m.view(Kind::Uuid, None, &MembershipInclude::ALL);
            data["uuid"] = ends["uuid"].clone();
            data
        }
        Changed::Removed(_) => ends,
    };
    let mut targets = vec![membership.channel.as_str()];
    if membership.uuid != membership.channel {
        targets.push(&membership.uuid);
    }
    targets
        .into_iter()
        .map(|channel| {
            event_on(
                channel,
                "membership",
                event,
                data.clone(),
                by.map(str::to_owned),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::objects::{ObjectLimits, parse_sort_by};

    fn objects() -> Objects {
        struct Nothing;
        impl crate::objects::ObjectStore for Nothing {
            fn get(
                self: Arc<Self>,
                _: Kind,
                _: String,
            ) -> futures::future::BoxFuture<'static, Result<Option<Object>, ObjectError>>
            {
                Box::pin(async { Ok(None) })
            }
            fn all(
                self: Arc<Self>,
                _: Kind,
            ) -> futures::future::BoxFuture<'static, Result<Vec<Object>, ObjectError>> {
                Box::pin(async { Ok(Vec::new()) })
            }
            fn count(
                self: Arc<Self>,
                _: Kind,
            ) -> futures::future::BoxFuture<'static, Result<usize, ObjectError>> {
                Box::pin(async { Ok(0) })
            }
            fn edit(
                self: Arc<Self>,
                _: Kind,
                _: String,
                _: Edit,
            ) -> futures::future::BoxFuture<'static, Result<(), ObjectError>> {
                Box::pin(async { Ok(()) })
            }
            fn memberships(
                self: Arc<Self>,
                _: Kind,
                _: String,
            ) -> futures::future::BoxFuture<'static, Result<Vec<Membership>, ObjectError>>
            {
                Box::pin(async { Ok(Vec::new()) })
            }
            fn edit_membership(
                self: Arc<Self>,
                _: String,
                _: String,
                _: Edit<Membership>,
            ) -> futures::future::BoxFuture<'static, Result<(), ObjectError>> {
                Box::pin(async { Ok(()) })
            }
        }
        Objects::new(
            Arc::new(Nothing),
            ObjectLimits {
                objects: 10,
                custom_fields: 2,
                custom_bytes: 100,
                memberships_per_uuid: 3,
                members_per_channel: 3,
            },
        )
    }

    fn membership(uuid: &str, channel: &str) -> Membership {
        let mut m = Membership {
            uuid: uuid.into(),
            channel: channel.into(),
            fields: Map::new(),
            custom: Some(json!({"k": 1}).as_object().unwrap().clone()),
            updated: "t".into(),
            etag: String::new(),
        };
        m.etag = m.tag();
        m
    }

    #[test]
    fn parses_includes_of_either_side() {
        let from_uuid =
            MembershipInclude::parse("custom,channel.custom,totalCount", Kind::Uuid).unwrap();
        assert!(from_uuid.own.custom && from_uuid.total_count);
        assert!(from_uuid.other_fields && from_uuid.other.custom);
        let status_only =
            MembershipInclude::parse("channel.status,channel.type,status", Kind::Uuid).unwrap();
        assert!(!status_only.other_fields && status_only.other.status && status_only.own.status);
        let error = MembershipInclude::parse("uuid", Kind::Uuid).unwrap_err();
        assert!(error.to_string().contains("`uuid`"), "{error}");
        assert!(
            MembershipInclude::parse("uuid.custom", Kind::Channel)
                .unwrap()
                .other_fields
        );
    }

    #[test]
    fn views_show_the_other_end_as_included() {
        let m = membership("u", "c");
        let mut channel = Object {
            id: "c".into(),
            fields: Map::new(),
            custom: None,
            updated: "t".into(),
            etag: "e".into(),
        };
        channel.fields.insert("name".into(), "Room".into());
        channel.fields.insert("status".into(), "open".into());
        let plain = m.view(Kind::Uuid, Some(&channel), &MembershipInclude::default());
        assert_eq!(plain["channel"], json!({"id": "c"}));
        assert!(plain.get("custom").is_none() && plain["eTag"] == m.etag.as_str());
        let status = MembershipInclude::parse("channel.status", Kind::Uuid).unwrap();
        let view = m.view(Kind::Uuid, Some(&channel), &status);
        assert_eq!(view["channel"], json!({"id": "c", "status": "open"}));
        let full = MembershipInclude::parse("channel,custom", Kind::Uuid).unwrap();
        let view = m.view(Kind::Uuid, Some(&channel), &full);
        assert_eq!(
            (&view["channel"]["name"], &view["custom"]["k"]),
            (&json!("Room"), &json!(1))
        );
        let members = m.view(Kind::Channel, None, &full);
        assert_eq!(members["uuid"], json!({"id": "u"}));
    }

    #[test]
    fn parses_and_refuses_changes() {
        let objects = objects();
        let changes = objects
            .parse_changes(
                Kind::Uuid,
                br#"{"set":[{"channel":{"id":"a"},"custom":{"x":1},"status":"s"}],"delete":[{"channel":{"id":"b"},"custom":{"ignored":[1]}}]}"#,
            )
            .unwrap();
        assert_eq!(changes.named().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(changes.set[0].1["status"], "s");
        let error = |body: &str| {
            objects
                .parse_changes(Kind::Channel, body.as_bytes())
                .unwrap_err()
                .to_string()
        };
        assert!(error("[]").contains("Invalid JSON"));
        assert!(error(r#"{"add":[]}"#).contains("`add`"));
        assert!(error(r#"{"set":{}}"#).contains("must be a list"));
        assert!(error(r#"{"set":[{"channel":{"id":"a"}}]}"#).contains("`set[0].uuid.id`"));
        assert!(error(r#"{"set":[{"uuid":{"id":"a"},"rank":1}]}"#).contains("`set[0].rank`"));
        assert!(error(r#"{"set":[{"uuid":{"id":"a"},"status":1}]}"#).contains("`status`"));
        assert!(
            error(r#"{"set":[{"uuid":{"id":"a"},"custom":{"a":1,"b":2,"c":3}}]}"#)
                .contains("max_object_custom_fields")
        );
        assert!(
            error(r#"{"set":[{"uuid":{"id":"a"}}],"delete":[{"uuid":{"id":"a"}}]}"#)
                .contains("named twice")
        );
        let many: Vec<Value> = (0..=MAX_CHANGES)
            .map(|n| json!({"uuid": {"id": format!("u{n}")}}))
            .collect();
        assert!(error(&json!({ "set": many }).to_string()).contains("one call may change"));
        assert!(
            objects
                .check_membership_limit(Kind::Channel, "c", 2, 2)
                .unwrap_err()
                .to_string()
                .contains("pubnub.max_members_per_channel")
        );
        assert!(
            objects
                .check_membership_limit(Kind::Uuid, "u", 3, 0)
                .is_ok()
        );
    }

    #[test]
    fn sorts_and_filters_by_the_joined_end() {
        let fields = sort_fields(Kind::Uuid);
        assert!(parse_sort_by(["channel.name:desc", "updated"], fields).is_ok());
        assert!(parse_sort_by(["uuid.name"], fields).is_err());
        assert!(
            crate::objects::filter::parse(r#"channel.custom.x == 1"#, filter_fields(Kind::Uuid))
                .is_ok()
        );
        assert!(
            crate::objects::filter::parse(r#"uuid.name == "x""#, filter_fields(Kind::Uuid))
                .is_err()
        );
    }

    #[test]
    fn events_go_to_the_channel_and_the_uuid() {
        let m = membership("u", "c");
        let set = events(&Changed::Set(m.clone()), Some("admin"));
        assert_eq!(set.len(), 2);
        let removed = events(&Changed::Removed(membership("same", "same")), None);
        assert_eq!(removed.len(), 1);
        assert!(set.iter().chain(&removed).all(Result::is_ok));
    }
}
