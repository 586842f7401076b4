//! The functions' key-value store in the node's own store (the
//! [`KvStore`] of a node alone): text values with optional expiry, atomic
//! integer increments, prefix listing with a cursor. Expired entries are
//! never returned and are purged in the background.

use std::sync::Arc;

use futures::future::BoxFuture;
use redb::ReadableTable;

use super::{KV, Result, Store, StoreError, db_err, off_thread};
use crate::kv::{KeyPage, KvError, KvFailure, KvStore, MAX_PAGE};

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

impl From<StoreError> for KvFailure {
    fn from(e: StoreError) -> Self {
        Self::Unavailable(e.to_string())
    }
}

impl KvStore for Store {
    fn get(
        self: Arc<Self>,
        key: String,
        now_ms: u64,
    ) -> BoxFuture<'static, Result<Option<String>, KvFailure>> {
        off_thread(move || self.kv_get(&key, now_ms))
    }

    fn set(
        self: Arc<Self>,
        key: String,
        value: String,
        expires: u64,
    ) -> BoxFuture<'static, Result<(), KvFailure>> {
        off_thread(move || self.kv_set(&key, &value, expires))
    }

    fn delete(
        self: Arc<Self>,
        key: String,
        now_ms: u64,
    ) -> BoxFuture<'static, Result<bool, KvFailure>> {
        off_thread(move || self.kv_delete(&key, now_ms))
    }

    fn incr(
        self: Arc<Self>,
        key: String,
        delta: i64,
        now_ms: u64,
    ) -> BoxFuture<'static, Result<i64, KvFailure>> {
        let incremented = off_thread::<_, KvFailure, _>(move || self.kv_incr(&key, delta, now_ms));
        Box::pin(async move { Ok(incremented.await??) })
    }

    fn list(
        self: Arc<Self>,
        prefix: String,
        cursor: Option<String>,
        limit: usize,
        now_ms: u64,
    ) -> BoxFuture<'static, Result<KeyPage, KvFailure>> {
        off_thread(move || self.kv_list(&prefix, cursor.as_deref(), limit, now_ms))
    }

    fn purge(self: Arc<Self>, now_ms: u64) -> BoxFuture<'static, Result<usize, KvFailure>> {
        off_thread(move || self.kv_purge(now_ms))
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
