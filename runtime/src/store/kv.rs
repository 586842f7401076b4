//! The key-value store shared by functions: text values with optional
//! expiry, atomic integer increments, prefix listing with a cursor. Expired
//! entries are never returned and are purged in the background.

use redb::ReadableTable;

use super::{KV, Result, Store, db_err};

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

fn live(expires_at_ms: u64, now_ms: u64) -> bool {
    expires_at_ms == 0 || expires_at_ms > now_ms
}

impl Store {
    /// The value under `key` unless missing or expired at `now_ms`.
    ///
    /// # Errors
    /// When the database cannot be read.
    pub fn kv_get(&self, key: &str, now_ms: u64) -> Result<Option<String>> {
        let txn = self.read()?;
        let table = txn.open_table(KV).map_err(db_err)?;
        let Some(entry) = table.get(key).map_err(db_err)? else {
            return Ok(None);
        };
        let (expires, value) = entry.value();
        Ok(live(expires, now_ms).then(|| String::from_utf8_lossy(value).into_owned()))
    }

    /// Stores `value` under `key`, expiring at `expires_at_ms` (0: never).
    ///
    /// # Errors
    /// When the transaction cannot be committed.
    pub fn kv_set(&self, key: &str, value: &str, expires_at_ms: u64) -> Result<()> {
        let txn = self.write()?;
        txn.open_table(KV)
            .map_err(db_err)?
            .insert(key, (expires_at_ms, value.as_bytes()))
            .map_err(db_err)?;
        txn.commit().map_err(db_err)
    }

    /// Removes `key`; whether a live value was there.
    ///
    /// # Errors
    /// When the transaction cannot be committed.
    pub fn kv_delete(&self, key: &str, now_ms: u64) -> Result<bool> {
        let txn = self.write()?;
        let existed = {
            let mut table = txn.open_table(KV).map_err(db_err)?;
            let removed = table.remove(key).map_err(db_err)?;
            removed.is_some_and(|old| live(old.value().0, now_ms))
        };
        txn.commit().map_err(db_err)?;
        Ok(existed)
    }

    /// Adds `delta` to the integer under `key` (missing or expired: 0),
    /// keeping its expiry, in one transaction. Returns the new value.
    ///
    /// # Errors
    /// [`KvError::NotACounter`] (inside `Ok`) when the value is not an
    /// integer or would overflow; storage errors otherwise.
    pub fn kv_incr(&self, key: &str, delta: i64, now_ms: u64) -> Result<Result<i64, KvError>> {
        let txn = self.write()?;
        let outcome = {
            let mut table = txn.open_table(KV).map_err(db_err)?;
            let current = table.get(key).map_err(db_err)?.and_then(|entry| {
                let (expires, value) = entry.value();
                live(expires, now_ms)
                    .then(|| (expires, String::from_utf8_lossy(value).into_owned()))
            });
            let (expires, start) = match current {
                None => (0, Ok(0)),
                Some((expires, text)) => (
                    expires,
                    text.trim().parse::<i64>().map_err(|_| {
                        KvError::NotACounter(format!("the value under `{key}` is not an integer"))
                    }),
                ),
            };
            let next = start.and_then(|n| {
                n.checked_add(delta).ok_or_else(|| {
                    KvError::NotACounter(format!("incrementing `{key}` by {delta} overflows"))
                })
            });
            if let Ok(n) = next {
                table
                    .insert(key, (expires, n.to_string().as_bytes()))
                    .map_err(db_err)?;
            }
            next
        };
        if outcome.is_ok() {
            txn.commit().map_err(db_err)?;
        }
        Ok(outcome)
    }

    /// Live keys starting with `prefix`, after `cursor`, at most `limit`.
    ///
    /// # Errors
    /// When the database cannot be read.
    pub fn kv_list(
        &self,
        prefix: &str,
        cursor: Option<&str>,
        limit: usize,
        now_ms: u64,
    ) -> Result<KeyPage> {
        let limit = limit.clamp(1, MAX_PAGE);
        let txn = self.read()?;
        let table = txn.open_table(KV).map_err(db_err)?;
        let start = cursor.filter(|c| *c >= prefix).unwrap_or(prefix);
        let mut keys = Vec::new();
        let mut more = false;
        for row in table.range(start..).map_err(db_err)? {
            let (key, entry) = row.map_err(db_err)?;
            let key = key.value();
            if !key.starts_with(prefix) {
                break;
            }
            if Some(key) == cursor || !live(entry.value().0, now_ms) {
                continue;
            }
            if keys.len() == limit {
                more = true;
                break;
            }
            keys.push(key.to_owned());
        }
        let cursor = if more { keys.last().cloned() } else { None };
        Ok(KeyPage { keys, cursor })
    }

    /// Deletes entries expired at `now_ms`; returns how many.
    ///
    /// # Errors
    /// When the transaction cannot be committed.
    pub fn kv_purge(&self, now_ms: u64) -> Result<usize> {
        let txn = self.write()?;
        let mut purged = 0;
        txn.open_table(KV)
            .map_err(db_err)?
            .retain(|_, (expires, _)| {
                let keep = live(expires, now_ms);
                purged += usize::from(!keep);
                keep
            })
            .map_err(db_err)?;
        txn.commit().map_err(db_err)?;
        Ok(purged)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (Store, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!(
            "edgefn-kv-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        (Store::open(&dir).unwrap(), dir)
    }

    #[test]
    fn values_expiry_and_counters() {
        let (s, dir) = store();
        s.kv_set("a", "1", 0).unwrap();
        s.kv_set("b", "x", 1_000).unwrap();
        assert_eq!(s.kv_get("a", 5_000).unwrap().as_deref(), Some("1"));
        assert_eq!(s.kv_get("b", 999).unwrap().as_deref(), Some("x"));
        assert_eq!(s.kv_get("b", 1_000).unwrap(), None);
        assert_eq!(s.kv_incr("a", 41, 0).unwrap(), Ok(42));
        assert_eq!(s.kv_incr("new", -3, 0).unwrap(), Ok(-3));
        assert!(s.kv_incr("b", 1, 0).unwrap().is_err());
        assert_eq!(
            s.kv_incr("b", 1, 2_000).unwrap(),
            Ok(1),
            "expired counts as missing"
        );
        assert!(s.kv_incr("a", i64::MAX, 0).unwrap().is_err());
        assert!(s.kv_delete("a", 0).unwrap());
        assert!(!s.kv_delete("a", 0).unwrap());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn listing_pages_by_prefix() {
        let (s, dir) = store();
        for i in 0..250 {
            s.kv_set(&format!("user:{i:03}"), "v", 0).unwrap();
        }
        s.kv_set("other", "v", 0).unwrap();
        s.kv_set("user:999", "v", 10).unwrap();
        let first = s.kv_list("user:", None, 100, 100).unwrap();
        assert_eq!(first.keys.len(), 100);
        assert_eq!(first.keys[0], "user:000");
        let second = s
            .kv_list("user:", first.cursor.as_deref(), 100, 100)
            .unwrap();
        assert_eq!(second.keys[0], "user:100");
        let third = s
            .kv_list("user:", second.cursor.as_deref(), 100, 100)
            .unwrap();
        assert_eq!(third.keys.len(), 50);
        assert_eq!(third.cursor, None, "the expired user:999 is skipped");
        assert_eq!(s.kv_purge(100).unwrap(), 1);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
