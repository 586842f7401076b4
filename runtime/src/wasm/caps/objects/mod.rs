//! The App Context capability: PubNub's uuid and channel metadata read,
//! set, removed and listed from inside a function, with the rules of
//! [`crate::objects`] and, as through the PubNub API, an object event on
//! the object's channel for each set and removal. The function acts as
//! itself: its events are by `fn:NAME`, and Access Manager does not apply
//! (a listing shows every object). Each call spends the bus budget (PubNub
//! counts these as API calls).
//!
//! The node provides the objects through [`AppContext`], so the sandbox
//! does not depend on how the node is wired.

mod host;

use std::sync::Arc;

use futures::future::BoxFuture;
use serde_json::{Map, Value};

use super::Budget;
use crate::objects::{self, Kind, ListPage, ListQuery, MAX_PAGE, Object, ObjectError};
use crate::wasm::bindings::objects::ListOptions;

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
}

/// The App Context capability of one invocation.
pub struct ObjectsCtx {
    pub(crate) context: Arc<dyn AppContext>,
    /// A share of the invocation's bus budget.
    pub(crate) budget: Budget,
    /// Who its changes are by: `fn:NAME`.
    pub(crate) author: String,
}

/// The listing `options` ask for, checked as the PubNub API checks its
/// parameters (`limit` is brought within 1 to [`MAX_PAGE`]; `next` wins
/// over `prev`; a blank filter is none).
///
/// # Errors
/// [`ObjectError::Invalid`] for a bad filter, sort key or cursor.
pub fn list_query(kind: Kind, options: &ListOptions) -> Result<ListQuery, ObjectError> {
    let offset = match (&options.next, &options.prev) {
        (Some(next), _) => objects::parse_cursor("next", next)?,
        (None, Some(prev)) => objects::parse_cursor("prev", prev)?,
        (None, None) => 0,
    };
    let filter = options
        .filter
        .as_deref()
        .filter(|f| !f.trim().is_empty())
        .map(|text| objects::parse_filter(kind, text))
        .transpose()?;
    Ok(ListQuery {
        filter,
        sort: objects::parse_sort(options.sort.iter().map(String::as_str))?,
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
        let query = list_query(Kind::Uuid, &options()).unwrap();
        assert_eq!((query.limit, query.offset), (MAX_PAGE, 0));
        assert!(query.filter.is_none() && query.sort.is_empty());
        let small = ListOptions {
            limit: Some(0),
            filter: Some("  ".into()),
            ..options()
        };
        let query = list_query(Kind::Uuid, &small).unwrap();
        assert_eq!(query.limit, 1);
        assert!(query.filter.is_none(), "a blank filter is none");
        let large = ListOptions {
            limit: Some(1000),
            ..options()
        };
        assert_eq!(list_query(Kind::Uuid, &large).unwrap().limit, MAX_PAGE);
    }

    #[test]
    fn cursors_filters_and_sorts_are_checked() {
        let bad = |o: ListOptions| match list_query(Kind::Channel, &o) {
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
        let query = list_query(Kind::Channel, &sorted).unwrap();
        assert_eq!(query.sort.len(), 2);
        assert!(query.filter.is_some());
    }
}
