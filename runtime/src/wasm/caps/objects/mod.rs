//! The App Context capability: PubNub's uuid and channel metadata, and
//! the memberships that link uuids and channels, read, set, removed and
//! listed from inside a function, with the rules of [`crate::objects`]
//! and, as through the PubNub API, an event for each set and removal (an
//! object event on the object's channel; a membership event on the channel
//! and on the uuid's channel). The function acts as itself: its events are
//! by `fn:NAME`, and Access Manager does not apply (a listing shows every
//! object). Each call spends the bus budget (PubNub counts these as API
//! calls).
//!
//! The node provides the objects through [`AppContext`], so the sandbox
//! does not depend on how the node is wired.

mod host;

use std::sync::Arc;

use futures::future::BoxFuture;
use serde_json::{Map, Value};

use super::Budget;
use crate::objects::{
    self, Kind, ListPage, ListQuery, MAX_PAGE, Membership, OBJECT_SORT, Object, ObjectError,
};
use crate::wasm::bindings::objects::ListOptions;

/// A page of memberships, each with its other end's metadata when it has
/// some.
pub type MembershipPage = ListPage<(Membership, Option<Object>)>;

/// How the sandbox reads and changes the node's App Context objects: as
/// the PubNub API does, events included.
pub trait AppContext: Send + Sync {
    /// The object `id` of `kind`.
    fn get(&self, kind: Kind, id: String) -> BoxFuture<'static, Result<Object, ObjectError>>;

    /// Sets the fields `patch` names on object `id` of `kind` (if its eTag
    /// is `if_match`, when given), and publishes its event by `by`; the
    /// object as it is now.
    fn set(
        &self,
        kind: Kind,
        id: String,
        patch: Map<String, Value>,
        if_match: Option<String>,
        by: String,
    ) -> BoxFuture<'static, Result<Object, ObjectError>>;

    /// Removes object `id` of `kind` (if its eTag is `if_match`, when
    /// given), and publishes its event by `by` when there was one; whether
    /// there was.
    fn remove(
        &self,
        kind: Kind,
        id: String,
        if_match: Option<String>,
        by: String,
    ) -> BoxFuture<'static, Result<bool, ObjectError>>;

    /// The page of the objects of `kind` that `query` selects.
    fn list(
        &self,
        kind: Kind,
        query: ListQuery,
    ) -> BoxFuture<'static, Result<ListPage, ObjectError>>;

    /// The page of the memberships of `id` (of `kind`) that `query`
    /// selects, each with its other end's metadata when it has some.
    fn memberships(
        &self,
        kind: Kind,
        id: String,
        query: ListQuery,
    ) -> BoxFuture<'static, Result<MembershipPage, ObjectError>>;

    /// Applies `changes` (the body of PubNub's membership PATCH: `{"set":
    /// [...], "delete": [...]}`) to the memberships of `id` (of `kind`),
    /// if each one named has eTag `if_match` (when given), and publishes
    /// their events by `by`.
    fn manage_memberships(
        &self,
        kind: Kind,
        id: String,
        changes: Value,
        if_match: Option<String>,
        by: String,
    ) -> BoxFuture<'static, Result<(), ObjectError>>;
}

/// The App Context capability of one invocation.
pub struct ObjectsCtx {
    pub(crate) context: Arc<dyn AppContext>,
    /// A share of the invocation's bus budget.
    pub(crate) budget: Budget,
    /// Who its changes are by: `fn:NAME`.
    pub(crate) author: String,
}

/// The fields a listing of metadata of `kind` filters and sorts by.
pub fn metadata_fields(kind: Kind) -> ListFields {
    (kind.filter_fields(), OBJECT_SORT)
}

/// The fields a listing of the memberships of a `kind` filters and sorts
/// by (its own, and the other end's).
pub fn membership_fields(kind: Kind) -> ListFields {
    (
        objects::memberships::filter_fields(kind),
        objects::memberships::sort_fields(kind),
    )
}

/// What a listing may filter by, and sort by.
pub type ListFields = (&'static [&'static str], &'static [&'static str]);

/// The listing `options` ask for, naming `fields`, checked as the PubNub
/// API checks its parameters (`limit` is brought within 1 to
/// [`MAX_PAGE`]; `next` wins over `prev`; a blank filter is none).
///
/// # Errors
/// [`ObjectError::Invalid`] for a bad filter, sort key or cursor.
pub fn list_query(options: &ListOptions, fields: ListFields) -> Result<ListQuery, ObjectError> {
    let (filter_fields, sort_fields) = fields;
    let offset = match (&options.next, &options.prev) {
        (Some(next), _) => objects::parse_cursor("next", next)?,
        (None, Some(prev)) => objects::parse_cursor("prev", prev)?,
        (None, None) => 0,
    };
    let filter = options
        .filter
        .as_deref()
        .filter(|f| !f.trim().is_empty())
        .map(|text| objects::parse_filter_by(text, filter_fields))
        .transpose()?;
    Ok(ListQuery {
        filter,
        sort: objects::parse_sort_by(options.sort.iter().map(String::as_str), sort_fields)?,
        limit: options
            .limit
            .map_or(MAX_PAGE, |l| (l as usize).clamp(1, MAX_PAGE)),
        offset,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> ListOptions {
        ListOptions {
            filter: None,
            sort: Vec::new(),
            limit: None,
            next: None,
            prev: None,
            include_total_count: false,
        }
    }

    #[test]
    fn limits_default_and_are_bounded() {
        let query = list_query(&options(), metadata_fields(Kind::Uuid)).unwrap();
        assert_eq!((query.limit, query.offset), (MAX_PAGE, 0));
        assert!(query.filter.is_none() && query.sort.is_empty());
        let small = ListOptions {
            limit: Some(0),
            filter: Some("  ".into()),
            ..options()
        };
        let query = list_query(&small, metadata_fields(Kind::Uuid)).unwrap();
        assert_eq!(query.limit, 1);
        assert!(query.filter.is_none(), "a blank filter is none");
        let large = ListOptions {
            limit: Some(1000),
            ..options()
        };
        assert_eq!(
            list_query(&large, metadata_fields(Kind::Uuid))
                .unwrap()
                .limit,
            MAX_PAGE
        );
    }

    #[test]
    fn cursors_filters_and_sorts_are_checked() {
        let bad = |o: ListOptions| match list_query(&o, metadata_fields(Kind::Channel)) {
            Err(ObjectError::Invalid { location, .. }) => location,
            other => panic!("not refused: {other:?}"),
        };
        assert_eq!(
            bad(ListOptions {
                next: Some("nope!".into()),
                ..options()
            }),
            "next"
        );
        assert_eq!(
            bad(ListOptions {
                prev: Some("nope!".into()),
                ..options()
            }),
            "prev"
        );
        assert_eq!(
            bad(ListOptions {
                filter: Some("name ===".into()),
                ..options()
            }),
            "filter"
        );
        assert_eq!(
            bad(ListOptions {
                sort: vec!["size".into()],
                ..options()
            }),
            "sort"
        );
        // A filter on a field of the other kind is refused too.
        assert_eq!(
            bad(ListOptions {
                filter: Some("email == 'x'".into()),
                ..options()
            }),
            "filter"
        );
        let sorted = ListOptions {
            sort: vec!["name:desc".into(), "updated".into()],
            filter: Some("status == 'open'".into()),
            ..options()
        };
        let query = list_query(&sorted, metadata_fields(Kind::Channel)).unwrap();
        assert_eq!(query.sort.len(), 2);
        assert!(query.filter.is_some());
    }

    #[test]
    fn membership_listings_name_the_other_end() {
        let by_channel = ListOptions {
            sort: vec!["channel.name:desc".into()],
            filter: Some("channel.name LIKE 'a*' && status == 'on'".into()),
            ..options()
        };
        let query = list_query(&by_channel, membership_fields(Kind::Uuid)).unwrap();
        assert_eq!(query.sort.len(), 1);
        assert!(list_query(&by_channel, membership_fields(Kind::Channel)).is_err());
        assert!(list_query(&by_channel, metadata_fields(Kind::Uuid)).is_err());
    }
}
