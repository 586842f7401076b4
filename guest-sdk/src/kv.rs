//! The key-value store shared by all functions of the node.
//!
//! Values are text (up to 32 KiB); keys are 1 to 1,000 bytes. A [`set`] that
//! returned is durable, and expired keys are never returned. Every call,
//! including each page that [`list_keys`] fetches, counts against the
//! invocation's KV budget (10 calls by default); past it, calls fail with
//! [`Error::BudgetExhausted`].
//!
//! ```no_run
//! use std::time::Duration;
//! use edgefn_sdk::kv;
//!
//! let visits = kv::incr("visits", 1)?;
//! kv::set("last-visit", &visits.to_string(), Some(Duration::from_secs(3600)))?;
//! for key in kv::list_keys("user:") {
//!     println!("{}", key?);
//! }
//! # Ok::<(), edgefn_sdk::Error>(())
//! ```

use std::iter::FusedIterator;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::__private::bindings::edgefn::functions::kv as wit;
use crate::Error;
use crate::error::to_json;

/// The value stored under `key`, if any.
pub fn get(key: &str) -> Result<Option<String>, Error> {
    wit::get(key).map_err(Error::from_wit)
}

/// The value stored under `key`, deserialized from JSON, if any. A value
/// that is not JSON of the shape of `T` is an [`Error::Json`].
///
/// ```no_run
/// # use edgefn_sdk::kv;
/// let tags: Vec<String> = kv::get_json("tags:alice")?.unwrap_or_default();
/// # Ok::<(), edgefn_sdk::Error>(())
/// ```
pub fn get_json<T: DeserializeOwned>(key: &str) -> Result<Option<T>, Error> {
    get(key)?
        .map(|text| {
            serde_json::from_str(&text).map_err(|e| {
                Error::Json(format!(
                    "the value under `{key}` is not the expected JSON: {e}"
                ))
            })
        })
        .transpose()
}

/// Stores `value` under `key`, replacing any value there. With a `ttl`,
/// the key expires after that long (rounded up to whole seconds, at least
/// one); without, it never expires.
pub fn set(key: &str, value: &str, ttl: Option<Duration>) -> Result<(), Error> {
    wit::set(key, value, ttl.map(ttl_seconds)).map_err(Error::from_wit)
}

/// Stores `value`, serialized as JSON, under `key` (see [`set`]).
pub fn set_json<T: Serialize + ?Sized>(
    key: &str,
    value: &T,
    ttl: Option<Duration>,
) -> Result<(), Error> {
    set(key, &to_json("the value", value)?, ttl)
}

/// Removes `key`; whether it was there.
pub fn delete(key: &str) -> Result<bool, Error> {
    wit::delete(key).map_err(Error::from_wit)
}

/// Atomically adds `delta` (which may be negative) to the integer stored
/// under `key` and returns the new value. A missing key counts as 0; a value
/// that is not an integer is an [`Error::Invalid`]. The key keeps its expiry.
pub fn incr(key: &str, delta: i64) -> Result<i64, Error> {
    wit::incr(key, delta).map_err(Error::from_wit)
}

/// One page of keys (see [`list_keys_page`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KeyPage {
    /// Keys in ascending order.
    pub keys: Vec<String>,
    /// Where the next page starts (pass it back as `cursor`); `None` on the
    /// last page.
    pub cursor: Option<String>,
}

/// One page of the keys that start with `prefix`: at most `limit` keys
/// (default and maximum 100), after `cursor` (from the previous page; `None`
/// for the first). [`list_keys`] does the paging for you.
pub fn list_keys_page(
    prefix: &str,
    cursor: Option<&str>,
    limit: Option<u32>,
) -> Result<KeyPage, Error> {
    let page = wit::list_keys(prefix, cursor, limit).map_err(Error::from_wit)?;
    Ok(KeyPage {
        keys: page.keys,
        cursor: page.cursor,
    })
}

/// All keys that start with `prefix`, in ascending order, fetched a page of
/// 100 at a time as the iteration goes (each page is one KV call).
///
/// The iterator yields `Err` once if fetching a page fails, then ends.
///
/// ```no_run
/// # use edgefn_sdk::kv;
/// let users: Vec<String> = kv::list_keys("user:").collect::<Result<_, _>>()?;
/// # Ok::<(), edgefn_sdk::Error>(())
/// ```
pub fn list_keys(prefix: &str) -> Keys {
    Keys {
        prefix: prefix.to_owned(),
        page: Vec::new().into_iter(),
        next: Next::First,
        fetch: list_keys_page,
    }
}

/// The iterator returned by [`list_keys`].
#[derive(Debug)]
#[must_use = "iterators are lazy and do nothing unless consumed"]
pub struct Keys {
    prefix: String,
    /// The rest of the current page.
    page: std::vec::IntoIter<String>,
    next: Next,
    /// Fetches a page ([`list_keys_page`], or a fake in tests).
    fetch: FetchPage,
}

/// The signature of [`list_keys_page`].
type FetchPage = fn(&str, Option<&str>, Option<u32>) -> Result<KeyPage, Error>;

/// Which page [`Keys`] fetches next.
#[derive(Debug)]
enum Next {
    First,
    After(String),
    Done,
}

impl Iterator for Keys {
    type Item = Result<String, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(key) = self.page.next() {
                return Some(Ok(key));
            }
            let cursor = match std::mem::replace(&mut self.next, Next::Done) {
                Next::Done => return None,
                Next::First => None,
                Next::After(cursor) => Some(cursor),
            };
            match (self.fetch)(&self.prefix, cursor.as_deref(), None) {
                Ok(page) => {
                    self.next = page.cursor.map_or(Next::Done, Next::After);
                    self.page = page.keys.into_iter();
                }
                Err(e) => return Some(Err(e)),
            }
        }
    }
}

impl FusedIterator for Keys {}

/// A TTL in whole seconds, rounded up, at least 1, at most `u32::MAX`.
fn ttl_seconds(ttl: Duration) -> u32 {
    let seconds = ttl
        .as_secs()
        .saturating_add(u64::from(ttl.subsec_nanos() > 0));
    seconds.clamp(1, u64::from(u32::MAX)) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttls_round_up_to_whole_seconds() {
        assert_eq!(ttl_seconds(Duration::ZERO), 1);
        assert_eq!(ttl_seconds(Duration::from_millis(1)), 1);
        assert_eq!(ttl_seconds(Duration::from_secs(60)), 60);
        assert_eq!(ttl_seconds(Duration::from_millis(60_001)), 61);
        assert_eq!(ttl_seconds(Duration::MAX), u32::MAX);
    }

    /// Pages of two keys out of `k0`..`k4`, like the host's cursors.
    fn fake(prefix: &str, cursor: Option<&str>, _: Option<u32>) -> Result<KeyPage, Error> {
        assert_eq!(prefix, "k");
        let all: Vec<String> = (0..5).map(|i| format!("k{i}")).collect();
        let start = cursor.map_or(0, |c| all.iter().position(|k| k == c).unwrap() + 1);
        let keys: Vec<String> = all[start..].iter().take(2).cloned().collect();
        let cursor = (start + 2 < all.len()).then(|| keys.last().unwrap().clone());
        Ok(KeyPage { keys, cursor })
    }

    fn keys(fetch: FetchPage) -> Keys {
        Keys {
            fetch,
            ..list_keys("k")
        }
    }

    #[test]
    fn follows_cursors_to_the_last_page() {
        let all: Vec<String> = keys(fake).collect::<Result<_, _>>().unwrap();
        assert_eq!(all, ["k0", "k1", "k2", "k3", "k4"]);
    }

    #[test]
    fn an_error_ends_the_iteration() {
        fn failing(
            prefix: &str,
            cursor: Option<&str>,
            limit: Option<u32>,
        ) -> Result<KeyPage, Error> {
            match cursor {
                None => fake(prefix, cursor, limit),
                Some(_) => Err(Error::BudgetExhausted("KV budget exhausted".into())),
            }
        }
        let mut iter = keys(failing);
        assert_eq!(iter.next(), Some(Ok("k0".into())));
        assert_eq!(iter.next(), Some(Ok("k1".into())));
        assert_eq!(
            iter.next(),
            Some(Err(Error::BudgetExhausted("KV budget exhausted".into())))
        );
        assert_eq!(iter.next(), None);
    }

    #[test]
    fn empty_listing() {
        fn empty(_: &str, _: Option<&str>, _: Option<u32>) -> Result<KeyPage, Error> {
            Ok(KeyPage::default())
        }
        assert_eq!(keys(empty).count(), 0);
    }
}
