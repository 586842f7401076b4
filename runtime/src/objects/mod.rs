//! App Context (PubNub's Objects v2): metadata about users (`uuid`
//! objects: name, email, external id, profile URL) and channels (`channel`
//! objects: name, description), each with `type`, `status` and a flat
//! `custom` object of scalars, an `updated` time and an `eTag` that
//! changes with its content. Setting one replaces the fields it names
//! (a field given as null is cleared); `If-Match` makes a set or a removal
//! conditional on the eTag (412 otherwise). Every set and removal is an
//! event on the channel named by the object's id (see [`event`]).
//!
//! Listing (get all) selects with a [`filter`] expression, sorts by `id`,
//! `name`, `updated`, `type` or `status`, and pages with opaque cursors
//! (`next` / `prev`, given back as `start` / `end`).
//!
//! Where objects are kept is an [`ObjectStore`]: the node's embedded store
//! alone ([`crate::store::objects`]), the cluster's JetStream bucket
//! otherwise ([`crate::cluster::objects`]); each change is atomic on one
//! object, so the eTag check holds across nodes. All rules live here.
//!
//! Memberships (which uuids belong to which channels, each link with its
//! own `custom`, `status` and `type`) are in [`memberships`].
//!
//! Bounds ([`ObjectLimits`], from `[pubnub]`): objects per kind,
//! memberships per uuid and members per channel, `custom` fields and
//! bytes; ids and string fields are bounded by constants.

pub mod filter;
pub mod memberships;

use std::cmp::Ordering;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::bus::{Channel, Message, MessageKind};
use crate::config::PubNubConfig;
pub use memberships::{Membership, MembershipInclude};

/// Longest object id, in characters (PubNub's limit on uuids and channels).
pub const MAX_ID_CHARS: usize = 92;
/// Longest string field (`name`, `email`, ...), in characters.
pub const MAX_FIELD_CHARS: usize = 2000;
/// Most objects answered by one page (PubNub's).
pub const MAX_PAGE: usize = 100;

/// Which kind of object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A user's metadata (`/uuids/{uuid}`).
    Uuid,
    /// A channel's metadata (`/channels/{channel}`).
    Channel,
}

impl Kind {
    /// Its name in events and store keys.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Uuid => "uuid",
            Self::Channel => "channel",
        }
    }

    /// The other end of a membership.
    pub fn other(self) -> Self {
        match self {
            Self::Uuid => Self::Channel,
            Self::Channel => Self::Uuid,
        }
    }

    /// The string fields it has besides `id`, `type` and `status`.
    fn own_fields(self) -> &'static [&'static str] {
        match self {
            Self::Uuid => &["name", "email", "externalId", "profileUrl"],
            Self::Channel => &["name", "description"],
        }
    }

    /// The fields a filter of its listing may name.
    pub fn filter_fields(self) -> &'static [&'static str] {
        match self {
            Self::Uuid => &[
                "id",
                "name",
                "email",
                "externalId",
                "profileUrl",
                "type",
                "status",
                "updated",
                "custom",
            ],
            Self::Channel => &[
                "id",
                "name",
                "description",
                "type",
                "status",
                "updated",
                "custom",
            ],
        }
    }
}

/// One object, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Object {
    /// Its id: the uuid or the channel name.
    pub id: String,
    /// Its string fields by wire name (`name`, `email`, `type`, ...);
    /// absent ones are null.
    pub fields: Map<String, Value>,
    /// Its custom data: a flat object of scalars.
    pub custom: Option<Map<String, Value>>,
    /// When it was last set (ISO-8601, milliseconds, UTC).
    pub updated: String,
    /// Its content's tag.
    pub etag: String,
}

impl Object {
    /// Its JSON as PubNub answers it: `type`, `status` and `custom` only
    /// when `include` asks for them.
    pub fn view(&self, kind: Kind, include: Include) -> Value {
        let mut view = Map::new();
        view.insert("id".into(), self.id.clone().into());
        let field = |name: &str| self.fields.get(name).cloned().unwrap_or(Value::Null);
        for name in kind.own_fields() {
            view.insert((*name).into(), field(name));
        }
        if include.kind {
            view.insert("type".into(), field("type"));
        }
        if include.status {
            view.insert("status".into(), field("status"));
        }
        if include.custom {
            view.insert(
                "custom".into(),
                self.custom.clone().map_or(Value::Null, Value::Object),
            );
        }
        view.insert("updated".into(), self.updated.clone().into());
        view.insert("eTag".into(), self.etag.clone().into());
        Value::Object(view)
    }

    fn tag(&self) -> String {
        let content = json!([self.id, self.fields, self.custom]).to_string();
        let digest = Sha256::digest(content.as_bytes());
        STANDARD_NO_PAD.encode(&digest[..12])
    }
}

/// Which optional fields an answer carries (`include=custom,status,type`).
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
    /// Parses a comma-separated `include`.
    ///
    /// # Errors
    /// [`ObjectError::Invalid`] naming an unknown field.
    pub fn parse(text: &str) -> Result<Self, ObjectError> {
        let mut include = Self::default();
        for item in text.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            match item {
                "custom" => include.custom = true,
                "status" => include.status = true,
                "type" => include.kind = true,
                other => {
                    return Err(ObjectError::invalid(
                        "include",
                        format!("Unknown include field `{other}` (expected custom, status, type)"),
                    ));
                }
            }
        }
        Ok(include)
    }

    /// Everything (events carry whole objects).
    pub const ALL: Self = Self {
        custom: true,
        status: true,
        kind: true,
    };
}

/// How many objects, and how much custom data, may be kept.
#[derive(Debug, Clone, Copy)]
pub struct ObjectLimits {
    /// Most objects of each kind.
    pub objects: usize,
    /// Most custom fields on one object.
    pub custom_fields: usize,
    /// Largest custom object, in bytes of JSON.
    pub custom_bytes: usize,
    /// Most memberships of one uuid.
    pub memberships_per_uuid: usize,
    /// Most members of one channel.
    pub members_per_channel: usize,
}

impl ObjectLimits {
    /// The limits configured in `[pubnub]`.
    pub fn of(config: &PubNubConfig) -> Self {
        Self {
            objects: config.max_objects,
            custom_fields: config.max_object_custom_fields,
            custom_bytes: config.max_object_custom_bytes,
            memberships_per_uuid: config.max_memberships_per_uuid,
            members_per_channel: config.max_members_per_channel,
        }
    }
}

/// Why an App Context call failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ObjectError {
    /// The request is wrong (HTTP 400); `location` names the part (a query
    /// parameter, or `body`).
    #[error("{message}")]
    Invalid {
        /// What is wrong.
        message: String,
        /// Where.
        location: &'static str,
    },
    /// No such object (HTTP 404).
    #[error("Requested object was not found.")]
    NotFound,
    /// `If-Match` named another eTag (HTTP 412).
    #[error("Object was modified since the given eTag ({0}).")]
    Modified(String),
    /// The store could not answer; retrying may work (HTTP 503).
    #[error("App Context is unavailable: {0}")]
    Unavailable(String),
}

impl ObjectError {
    /// A 400 about `location`.
    pub fn invalid(location: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid {
            message: message.into(),
            location,
        }
    }
}

/// What an edit does to one record (an object, or a [`Membership`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Write<T = Object> {
    /// Store this record.
    Put(Box<T>),
    /// Remove the record.
    Delete,
}

/// An edit of one record (none when it does not exist), made by a store
/// inside its atomic change (it may run again when a concurrent change
/// won).
pub type Edit<T = Object> = Box<dyn FnMut(Option<T>) -> Result<Write<T>, ObjectError> + Send>;

/// Where objects are kept: one record per kind and id.
pub trait ObjectStore: Send + Sync + 'static {
    /// The object `id` of `kind`, if any.
    ///
    /// # Errors
    /// [`ObjectError::Unavailable`].
    fn get(
        self: Arc<Self>,
        kind: Kind,
        id: String,
    ) -> BoxFuture<'static, Result<Option<Object>, ObjectError>>;

    /// Every object of `kind`, in any order.
    ///
    /// # Errors
    /// [`ObjectError::Unavailable`].
    fn all(self: Arc<Self>, kind: Kind) -> BoxFuture<'static, Result<Vec<Object>, ObjectError>>;

    /// How many objects of `kind` there are.
    ///
    /// # Errors
    /// [`ObjectError::Unavailable`].
    fn count(self: Arc<Self>, kind: Kind) -> BoxFuture<'static, Result<usize, ObjectError>>;

    /// Applies `edit` to object `id` of `kind` atomically: nothing is
    /// written when it fails. Deleting a missing object writes nothing.
    ///
    /// # Errors
    /// The edit's own error, or [`ObjectError::Unavailable`].
    fn edit(
        self: Arc<Self>,
        kind: Kind,
        id: String,
        edit: Edit,
    ) -> BoxFuture<'static, Result<(), ObjectError>>;

    /// The memberships of uuid `id` (`of` [`Kind::Uuid`]) or the members
    /// of channel `id`, in any order.
    ///
    /// # Errors
    /// [`ObjectError::Unavailable`].
    fn memberships(
        self: Arc<Self>,
        of: Kind,
        id: String,
    ) -> BoxFuture<'static, Result<Vec<Membership>, ObjectError>>;

    /// Applies `edit` to the membership of `uuid` in `channel` atomically,
    /// as [`ObjectStore::edit`] does to an object.
    ///
    /// # Errors
    /// The edit's own error, or [`ObjectError::Unavailable`].
    fn edit_membership(
        self: Arc<Self>,
        uuid: String,
        channel: String,
        edit: Edit<Membership>,
    ) -> BoxFuture<'static, Result<(), ObjectError>>;
}

/// A sort key of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortKey {
    field: &'static str,
    descending: bool,
}

/// Parses an object listing's `sort` values (`name:desc`, `updated`,
/// several comma-separated or repeated).
///
/// # Errors
/// [`ObjectError::Invalid`] naming the unknown field or direction.
pub fn parse_sort<'a>(
    values: impl IntoIterator<Item = &'a str>,
) -> Result<Vec<SortKey>, ObjectError> {
    parse_sort_by(values, OBJECT_SORT)
}

/// The fields objects sort by.
pub const OBJECT_SORT: &[&str] = &["id", "name", "updated", "type", "status"];

/// Parses `sort` values naming `fields` (paths in an item's JSON).
///
/// # Errors
/// [`ObjectError::Invalid`] naming the unknown field or direction.
pub fn parse_sort_by<'a>(
    values: impl IntoIterator<Item = &'a str>,
    fields: &'static [&'static str],
) -> Result<Vec<SortKey>, ObjectError> {
    let mut keys = Vec::new();
    for item in values.into_iter().flat_map(|v| v.split(',')) {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        let (name, direction) = item.split_once(':').unwrap_or((item, "asc"));
        let field = fields.iter().find(|f| **f == name).ok_or_else(|| {
            ObjectError::invalid(
                "sort",
                format!(
                    "Unknown sort field `{name}` (expected {})",
                    fields.join(", ")
                ),
            )
        })?;
        let descending = match direction.to_ascii_lowercase().as_str() {
            "asc" => false,
            "desc" => true,
            other => {
                return Err(ObjectError::invalid(
                    "sort",
                    format!("Unknown sort direction `{other}` (expected asc or desc)"),
                ));
            }
        };
        keys.push(SortKey { field, descending });
    }
    Ok(keys)
}

/// What a listing asks for.
#[derive(Debug, Clone)]
pub struct ListQuery {
    /// Only objects matching this.
    pub filter: Option<filter::Expr>,
    /// In this order (then by id).
    pub sort: Vec<SortKey>,
    /// At most this many (1 to [`MAX_PAGE`]).
    pub limit: usize,
    /// Starting at this position of the sorted, filtered list (from a
    /// cursor).
    pub offset: usize,
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq)]
pub struct ListPage<T = Object> {
    /// The objects (or memberships).
    pub objects: Vec<T>,
    /// The cursor of the next page, if there is one.
    pub next: Option<String>,
    /// The cursor of the previous page, if there is one.
    pub prev: Option<String>,
    /// How many objects the whole listing holds.
    pub total: usize,
}

/// A cursor for the page at `offset`.
fn cursor(offset: usize) -> String {
    URL_SAFE_NO_PAD.encode(format!("o:{offset}"))
}

/// The offset a cursor (`start` or `end`) stands for.
///
/// # Errors
/// [`ObjectError::Invalid`] for a cursor this node did not make.
pub fn parse_cursor(location: &'static str, text: &str) -> Result<usize, ObjectError> {
    URL_SAFE_NO_PAD
        .decode(text.trim_end_matches('='))
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|s| s.strip_prefix("o:").and_then(|n| n.parse().ok()))
        .ok_or_else(|| ObjectError::invalid(location, format!("Invalid page cursor `{text}`")))
}

/// The node's App Context objects.
pub struct Objects {
    store: Arc<dyn ObjectStore>,
    limits: ObjectLimits,
}

impl Objects {
    /// Objects kept in `store`, within `limits`.
    pub fn new(store: Arc<dyn ObjectStore>, limits: ObjectLimits) -> Self {
        Self { store, limits }
    }

    /// The object `id` of `kind`.
    ///
    /// # Errors
    /// [`ObjectError::NotFound`], [`ObjectError::Unavailable`].
    pub async fn get(&self, kind: Kind, id: &str) -> Result<Object, ObjectError> {
        check_id(id)?;
        Arc::clone(&self.store)
            .get(kind, id.to_owned())
            .await?
            .ok_or(ObjectError::NotFound)
    }

    /// Sets the fields `patch` names on object `id` (creating it), if its
    /// eTag is `if_match` (when given); the object as it is now.
    ///
    /// # Errors
    /// [`ObjectError::Invalid`] for a bad patch or when the kind is full,
    /// [`ObjectError::Modified`], [`ObjectError::Unavailable`].
    pub async fn set(
        &self,
        kind: Kind,
        id: &str,
        patch: Map<String, Value>,
        if_match: Option<String>,
        now_ms: u64,
    ) -> Result<Object, ObjectError> {
        check_id(id)?;
        self.check_patch(kind, &patch)?;
        let exists = Arc::clone(&self.store)
            .get(kind, id.to_owned())
            .await?
            .is_some();
        if !exists && Arc::clone(&self.store).count(kind).await? >= self.limits.objects {
            return Err(ObjectError::invalid(
                "body",
                format!(
                    "There are already {} {} objects, the most allowed (pubnub.max_objects)",
                    self.limits.objects,
                    kind.as_str()
                ),
            ));
        }
        let updated = iso_time(now_ms);
        let (id_owned, result) = (id.to_owned(), Arc::new(parking_lot::Mutex::new(None)));
        let written = Arc::clone(&result);
        let edit: Edit = Box::new(move |current: Option<Object>| {
            check_etag(
                current.as_ref().map(|o| o.etag.as_str()),
                if_match.as_deref(),
            )?;
            let mut object = current.unwrap_or_else(|| Object {
                id: id_owned.clone(),
                fields: Map::new(),
                custom: None,
                updated: String::new(),
                etag: String::new(),
            });
            // `id` in a body is the path's (some clients send it): ignored.
            for (name, value) in patch.iter().filter(|(name, _)| *name != "id") {
                if name == "custom" {
                    object.custom = value.as_object().cloned();
                } else if value.is_null() {
                    object.fields.remove(name);
                } else {
                    object.fields.insert(name.clone(), value.clone());
                }
            }
            object.updated.clone_from(&updated);
            object.etag = object.tag();
            *written.lock() = Some(object.clone());
            Ok(Write::Put(Box::new(object)))
        });
        Arc::clone(&self.store)
            .edit(kind, id.to_owned(), edit)
            .await?;
        let object = result.lock().take();
        object.ok_or_else(|| ObjectError::Unavailable("the store made no change".into()))
    }

    /// Removes object `id`, if its eTag is `if_match` (when given); whether
    /// there was one.
    ///
    /// # Errors
    /// [`ObjectError::Modified`], [`ObjectError::Unavailable`].
    pub async fn remove(
        &self,
        kind: Kind,
        id: &str,
        if_match: Option<String>,
    ) -> Result<bool, ObjectError> {
        check_id(id)?;
        let existed = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let seen = Arc::clone(&existed);
        let edit: Edit = Box::new(move |current: Option<Object>| {
            check_etag(
                current.as_ref().map(|o| o.etag.as_str()),
                if_match.as_deref(),
            )?;
            seen.store(current.is_some(), std::sync::atomic::Ordering::Relaxed);
            Ok(Write::Delete)
        });
        Arc::clone(&self.store)
            .edit(kind, id.to_owned(), edit)
            .await?;
        Ok(existed.load(std::sync::atomic::Ordering::Relaxed))
    }

    /// A page of the objects of `kind` that `visible` lets the caller see.
    ///
    /// # Errors
    /// [`ObjectError::Unavailable`].
    pub async fn list(
        &self,
        kind: Kind,
        query: &ListQuery,
        visible: impl Fn(&str) -> bool,
    ) -> Result<ListPage, ObjectError> {
        let mut all = Arc::clone(&self.store).all(kind).await?;
        all.retain(|o| visible(&o.id));
        Ok(page(all, |o| o.view(kind, Include::ALL), "id", query))
    }

    fn check_patch(&self, kind: Kind, patch: &Map<String, Value>) -> Result<(), ObjectError> {
        for (name, value) in patch {
            if name == "custom" {
                self.check_custom(value)?;
            } else if kind.own_fields().contains(&name.as_str())
                || matches!(name.as_str(), "type" | "status")
            {
                check_string(name, value)?;
            } else if name != "id" {
                return Err(ObjectError::invalid(
                    "body",
                    format!(
                        "Unknown field `{name}` (a {} object has {}, type, status, custom)",
                        kind.as_str(),
                        kind.own_fields().join(", ")
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Checks a `custom` value: null, or a flat object within the limits.
    fn check_custom(&self, value: &Value) -> Result<(), ObjectError> {
        let invalid = |m: String| Err(ObjectError::invalid("body", m));
        let custom = match value {
            Value::Null => return Ok(()),
            Value::Object(custom) => custom,
            _ => return invalid("`custom` must be an object".into()),
        };
        if let Some((key, _)) = custom.iter().find(|(_, v)| v.is_object() || v.is_array()) {
            return invalid(format!(
                "`custom.{key}` must be a string, number, boolean or null: custom data is flat"
            ));
        }
        if custom.len() > self.limits.custom_fields {
            return invalid(format!(
                "`custom` has {} fields, more than the {} allowed (pubnub.max_object_custom_fields)",
                custom.len(),
                self.limits.custom_fields
            ));
        }
        let bytes = value.to_string().len();
        if bytes > self.limits.custom_bytes {
            return invalid(format!(
                "`custom` is {bytes} bytes, more than the {} allowed (pubnub.max_object_custom_bytes)",
                self.limits.custom_bytes
            ));
        }
        Ok(())
    }
}

/// Checks a string field (`name`, `status`, ...): null, or a string of at
/// most [`MAX_FIELD_CHARS`].
fn check_string(name: &str, value: &Value) -> Result<(), ObjectError> {
    match value {
        Value::Null => Ok(()),
        Value::String(s) if s.chars().count() <= MAX_FIELD_CHARS => Ok(()),
        Value::String(_) => Err(ObjectError::invalid(
            "body",
            format!("`{name}` is longer than {MAX_FIELD_CHARS} characters"),
        )),
        _ => Err(ObjectError::invalid(
            "body",
            format!("`{name}` must be a string or null"),
        )),
    }
}

/// Parses a filter for objects of `kind`.
///
/// # Errors
/// [`ObjectError::Invalid`] naming the position of the problem.
pub fn parse_filter(kind: Kind, text: &str) -> Result<filter::Expr, ObjectError> {
    parse_filter_by(text, kind.filter_fields())
}

/// Parses a filter naming `fields`.
///
/// # Errors
/// [`ObjectError::Invalid`] naming the position of the problem.
pub fn parse_filter_by(text: &str, fields: &[&str]) -> Result<filter::Expr, ObjectError> {
    filter::parse(text, fields).map_err(|e| ObjectError::invalid("filter", e.to_string()))
}

fn check_id(id: &str) -> Result<(), ObjectError> {
    if id.is_empty() {
        return Err(ObjectError::invalid("path", "Missing id"));
    }
    if id.chars().count() > MAX_ID_CHARS {
        return Err(ObjectError::invalid(
            "path",
            format!("The id is longer than {MAX_ID_CHARS} characters"),
        ));
    }
    Ok(())
}

/// Checks `If-Match` against the current record's eTag (none when there
/// is no record).
fn check_etag(current: Option<&str>, if_match: Option<&str>) -> Result<(), ObjectError> {
    match (if_match, current) {
        (None, _) => Ok(()),
        (Some(wanted), Some(etag)) if etag == wanted => Ok(()),
        (Some(wanted), _) => Err(ObjectError::Modified(wanted.to_owned())),
    }
}

/// Filters, sorts and cuts `items` as `query` says: `view` is an item's
/// JSON (what filters and sort keys name), `tie` the path in it that
/// orders items equal on every sort key.
fn page<T>(items: Vec<T>, view: impl Fn(&T) -> Value, tie: &str, query: &ListQuery) -> ListPage<T> {
    let mut selected: Vec<(T, Value)> = items
        .into_iter()
        .map(|item| {
            let json = view(&item);
            (item, json)
        })
        .filter(|(_, json)| query.filter.as_ref().is_none_or(|f| f.matches(json)))
        .collect();
    selected.sort_by(|(_, a), (_, b)| {
        query
            .sort
            .iter()
            .map(|key| {
                let order = sort_value(a, key.field).cmp(&sort_value(b, key.field));
                if key.descending {
                    order.reverse()
                } else {
                    order
                }
            })
            .find(|o| *o != Ordering::Equal)
            .unwrap_or_else(|| sort_value(a, tie).cmp(&sort_value(b, tie)))
    });
    let total = selected.len();
    let offset = query.offset.min(total);
    let end = (offset + query.limit).min(total);
    ListPage {
        objects: selected.drain(offset..end).map(|(item, _)| item).collect(),
        next: (end < total).then(|| cursor(end)),
        prev: (offset > 0).then(|| cursor(offset.saturating_sub(query.limit))),
        total,
    }
}

/// The string at `path` (`name`, `channel.name`) in an item's JSON.
fn sort_value<'a>(view: &'a Value, path: &str) -> Option<&'a str> {
    path.split('.')
        .try_fold(view, |v, name| v.get(name))
        .and_then(Value::as_str)
}

/// The event subscribers of the object's channel get: `set` with the whole
/// object, or `delete` with its id (PubNub envelope `e: 2`), published by
/// `by`, never stored.
///
/// # Errors
/// When the id is not a valid channel name, or the event is too large.
pub fn event(
    kind: Kind,
    object: Option<&Object>,
    id: &str,
    by: Option<String>,
) -> Result<Message, String> {
    let (event, data) = match object {
        Some(object) => ("set", object.view(kind, Include::ALL)),
        None => ("delete", json!({ "id": id })),
    };
    event_on(id, kind.as_str(), event, data, by)
}

/// An App Context event (`type` `kind`, `event` `set` or `delete`) on
/// `channel`, published by `by`, never stored.
fn event_on(
    channel: &str,
    kind: &str,
    event: &str,
    data: Value,
    by: Option<String>,
) -> Result<Message, String> {
    let payload = json!({
        "source": "objects",
        "version": "2.0",
        "event": event,
        "type": kind,
        "data": data,
    });
    let channel = Channel::parse(channel).map_err(|e| e.to_string())?;
    let mut message = Message::new(channel, MessageKind::Object, &payload.to_string(), None, by)
        .map_err(|e| e.to_string())?;
    message.store = false;
    Ok(message)
}

/// `ms` since the Unix epoch as ISO-8601 UTC with milliseconds
/// (`2026-01-02T03:04:05.678Z`).
pub fn iso_time(ms: u64) -> String {
    let secs = ms / 1000;
    let days = i64::try_from(secs / 86_400).expect("days fit");
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        ms % 1000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(id: &str, name: Option<&str>, updated: &str) -> Object {
        let mut fields = Map::new();
        if let Some(name) = name {
            fields.insert("name".into(), name.into());
        }
        Object {
            id: id.into(),
            fields,
            custom: None,
            updated: updated.into(),
            etag: String::new(),
        }
    }

    #[test]
    fn formats_iso_times() {
        assert_eq!(iso_time(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso_time(1_767_323_045_678), "2026-01-02T03:04:05.678Z");
        assert_eq!(iso_time(951_782_400_001), "2000-02-29T00:00:00.001Z");
    }

    #[test]
    fn parses_includes_and_sorts() {
        assert_eq!(
            Include::parse("custom,type").unwrap(),
            Include {
                custom: true,
                status: false,
                kind: true
            }
        );
        assert!(Include::parse("custom,bogus").is_err());
        let keys = parse_sort(["name:desc,updated", "id:asc"]).unwrap();
        assert_eq!(keys.len(), 3);
        assert!(keys[0].descending && !keys[1].descending);
        assert!(parse_sort(["nope"]).is_err());
        assert!(parse_sort(["name:sideways"]).is_err());
    }

    #[test]
    fn pages_sorted_filtered_objects_with_cursors() {
        let all: Vec<Object> = (0..5)
            .map(|n| object(&format!("u{n}"), Some(["b", "a", "c", "a", "d"][n]), "t"))
            .collect();
        let mut query = ListQuery {
            filter: Some(parse_filter(Kind::Uuid, r#"name != "d""#).unwrap()),
            sort: parse_sort(["name:desc"]).unwrap(),
            limit: 2,
            offset: 0,
        };
        let ids = |p: &ListPage| p.objects.iter().map(|o| o.id.clone()).collect::<Vec<_>>();
        let view = |o: &Object| o.view(Kind::Uuid, Include::ALL);
        let first = page(all.clone(), view, "id", &query);
        assert_eq!(ids(&first), ["u2", "u0"]);
        assert_eq!((first.total, first.prev.clone()), (4, None));
        query.offset = parse_cursor("start", first.next.as_deref().unwrap()).unwrap();
        let second = page(all.clone(), view, "id", &query);
        assert_eq!(ids(&second), ["u1", "u3"]);
        assert_eq!(second.next, None);
        assert_eq!(
            parse_cursor("end", second.prev.as_deref().unwrap()).unwrap(),
            0
        );
        let visible: Vec<Object> = all.into_iter().filter(|o| o.id != "u3").collect();
        let hidden = page(visible, view, "id", &query);
        assert_eq!(ids(&hidden), ["u1"]);
        assert!(parse_cursor("start", "garbage!").is_err());
    }

    #[test]
    fn etags_follow_content() {
        let mut a = object("u", Some("x"), "t1");
        let tag = a.tag();
        a.updated = "t2".into();
        assert_eq!(a.tag(), tag);
        a.fields.insert("name".into(), "y".into());
        assert_ne!(a.tag(), tag);
        assert!(check_etag(Some(&tag), Some(&tag)).is_ok());
        assert!(check_etag(Some(&a.etag), Some(&tag)).is_err());
        assert!(check_etag(None, Some(&tag)).is_err());
        assert!(check_etag(None, None).is_ok());
    }

    #[test]
    fn views_carry_what_is_included() {
        let mut a = object("u", Some("x"), "t");
        a.custom = Some(json!({"k": 1}).as_object().unwrap().clone());
        let plain = a.view(Kind::Uuid, Include::default());
        assert_eq!(plain["name"], "x");
        assert_eq!(plain["email"], Value::Null);
        assert!(plain.get("custom").is_none() && plain.get("type").is_none());
        let full = a.view(Kind::Channel, Include::ALL);
        assert_eq!(full["custom"]["k"], 1);
        assert!(full.get("description").is_some() && full.get("email").is_none());
    }
}
