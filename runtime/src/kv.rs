//! The functions' key-value store: its limits, its errors and the
//! contract ([`KvStore`]) its two homes implement, with the same limits and
//! semantics: the node's own store ([`crate::store::kv`]), or, in a
//! cluster, JetStream ([`crate::cluster::kv`]). This is what the KV
//! capability and the admin API use.

use std::sync::Arc;

use futures::future::BoxFuture;

/// Longest key, in bytes.
pub const MAX_KEY_BYTES: usize = 1000;
/// Largest value, in bytes.
pub const MAX_VALUE_BYTES: usize = 32 * 1024;
/// Most keys per `list` page.
pub const MAX_PAGE: usize = 100;

/// Why a KV operation could not be done (besides storage failures).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KvError {
    /// The key is empty or longer than [`MAX_KEY_BYTES`].
    #[error("key must be 1 to {MAX_KEY_BYTES} bytes, got {0}")]
    BadKey(usize),
    /// The value is longer than [`MAX_VALUE_BYTES`].
    #[error("value of {0} bytes is larger than the limit of {MAX_VALUE_BYTES} bytes")]
    TooLarge(usize),
    /// `incr` on a value that is not an integer, or past the i64 range.
    #[error("{0}")]
    NotACounter(String),
}

impl KvError {
    /// Whether a size limit was hit (rather than a malformed request).
    pub fn is_size_limit(&self) -> bool {
        matches!(self, Self::TooLarge(_) | Self::BadKey(1..))
    }
}

/// One page of keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPage {
    /// Keys in ascending order.
    pub keys: Vec<String>,
    /// The last key returned, to continue after, when there may be more.
    pub cursor: Option<String>,
}

/// Checks a key before use.
///
/// # Errors
/// [`KvError::BadKey`].
pub fn check_key(key: &str) -> Result<(), KvError> {
    if key.is_empty() || key.len() > MAX_KEY_BYTES {
        return Err(KvError::BadKey(key.len()));
    }
    Ok(())
}

/// Why a KV call failed.
#[derive(Debug, thiserror::Error)]
pub enum KvFailure {
    /// The request is wrong: key or value size, not an integer.
    #[error(transparent)]
    Invalid(#[from] KvError),
    /// The store could not answer; retrying may work.
    #[error("{0}")]
    Unavailable(String),
}

/// The KV store, wherever it lives.
pub type Kv = Arc<dyn KvStore>;

/// Where the KV store's entries live. Values expire at a Unix time in ms
/// (0: never); an expired entry is never returned.
pub trait KvStore: Send + Sync + 'static {
    /// The live value under `key`.
    fn get(
        self: Arc<Self>,
        key: String,
        now_ms: u64,
    ) -> BoxFuture<'static, Result<Option<String>, KvFailure>>;

    /// Stores `value` under `key`, expiring at `expires` (0: never).
    fn set(
        self: Arc<Self>,
        key: String,
        value: String,
        expires: u64,
    ) -> BoxFuture<'static, Result<(), KvFailure>>;

    /// Deletes `key`; whether a live value was there.
    fn delete(
        self: Arc<Self>,
        key: String,
        now_ms: u64,
    ) -> BoxFuture<'static, Result<bool, KvFailure>>;

    /// Adds `delta` to the integer under `key`, atomically (a missing or
    /// expired entry counts as 0); [`KvFailure::Invalid`] when the value is
    /// not an integer or would overflow.
    fn incr(
        self: Arc<Self>,
        key: String,
        delta: i64,
        now_ms: u64,
    ) -> BoxFuture<'static, Result<i64, KvFailure>>;

    /// Live keys starting with `prefix`, after `cursor`, at most `limit`
    /// (up to [`MAX_PAGE`]).
    fn list(
        self: Arc<Self>,
        prefix: String,
        cursor: Option<String>,
        limit: usize,
        now_ms: u64,
    ) -> BoxFuture<'static, Result<KeyPage, KvFailure>>;

    /// Deletes expired entries; how many.
    fn purge(self: Arc<Self>, now_ms: u64) -> BoxFuture<'static, Result<usize, KvFailure>>;
}
