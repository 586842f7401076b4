//! The functions' key-value store in a cluster: the JetStream KV bucket
//! `edgefn_kv`. Values carry their expiry; expired ones read as missing
//! and are purged by any node. `incr` is a compare-and-set on the entry's
//! revision, retried on conflict, so it is atomic across nodes.
//!
//! NATS keys allow only `[-/_=.a-zA-Z0-9]` and no leading or trailing dot,
//! so keys are stored encoded: any other byte (and `=`, and an edge dot) as
//! `=XX`.

use std::fmt::Write;
use std::sync::Arc;

use async_nats::jetstream::kv::{CreateErrorKind, Operation, Store as Bucket, UpdateErrorKind};
use bytes::Bytes;
use futures::TryStreamExt;
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};

use super::{Cluster, Unavailable};
use crate::kv::{KeyPage, KvError, KvFailure, KvStore, MAX_PAGE};

/// The bucket.
pub const BUCKET: &str = "edgefn_kv";
/// Compare-and-set attempts for one `incr` under contention.
const MAX_ATTEMPTS: usize = 100;

/// A stored value and when it expires (Unix ms, 0: never).
#[derive(Serialize, Deserialize)]
struct Stored {
    value: String,
    expires: u64,
}

impl Stored {
    fn live(&self, now_ms: u64) -> bool {
        self.expires == 0 || self.expires > now_ms
    }
}

/// The cluster's KV store.
pub struct NatsKv {
    cluster: Arc<Cluster>,
    bucket: Bucket,
}

impl From<Unavailable> for KvFailure {
    fn from(e: Unavailable) -> Self {
        Self::Unavailable(e.to_string())
    }
}

impl NatsKv {
    /// Opens the bucket.
    ///
    /// # Errors
    /// When JetStream cannot be reached.
    pub async fn open(cluster: Arc<Cluster>) -> Result<Self, Unavailable> {
        let bucket = cluster.kv(BUCKET).await?;
        Ok(Self { cluster, bucket })
    }

    async fn read(&self, key: &str) -> Result<Option<(Stored, u64)>, Unavailable> {
        self.cluster.ensure_connected()?;
        let entry = self
            .bucket
            .entry(encode(key))
            .await
            .map_err(Unavailable::from)?;
        Ok(match entry {
            Some(entry) if entry.operation == Operation::Put => {
                let stored = serde_json::from_slice(&entry.value).map_err(Unavailable::from)?;
                Some((stored, entry.revision))
            }
            _ => None,
        })
    }

    /// The live value under `key`.
    ///
    /// # Errors
    /// [`Unavailable`] when the cluster cannot answer.
    pub async fn get(&self, key: &str, now_ms: u64) -> Result<Option<String>, Unavailable> {
        Ok(self
            .read(key)
            .await?
            .filter(|(s, _)| s.live(now_ms))
            .map(|(s, _)| s.value))
    }

    /// Stores `value` under `key`, expiring at `expires` (Unix ms, 0: never).
    ///
    /// # Errors
    /// [`Unavailable`] when the cluster cannot take it.
    pub async fn set(&self, key: &str, value: &str, expires: u64) -> Result<(), Unavailable> {
        self.cluster.ensure_connected()?;
        let stored = Stored {
            value: value.to_owned(),
            expires,
        };
        self.bucket
            .put(encode(key), body(&stored))
            .await
            .map_err(Unavailable::from)?;
        Ok(())
    }

    /// Deletes `key`; whether a live value was there.
    ///
    /// # Errors
    /// [`Unavailable`] when the cluster cannot answer.
    pub async fn delete(&self, key: &str, now_ms: u64) -> Result<bool, Unavailable> {
        let existed = self.read(key).await?.is_some_and(|(s, _)| s.live(now_ms));
        self.bucket
            .delete(encode(key))
            .await
            .map_err(Unavailable::from)?;
        Ok(existed)
    }

    /// Adds `delta` to the integer under `key` (missing or expired: 0),
    /// keeping its expiry; atomic across nodes.
    ///
    /// # Errors
    /// [`KvFailure::Invalid`] when the value is not an integer or would
    /// overflow; [`KvFailure::Unavailable`] when the cluster cannot answer.
    pub async fn incr(&self, key: &str, delta: i64, now_ms: u64) -> Result<i64, KvFailure> {
        let encoded = encode(key);
        for _ in 0..MAX_ATTEMPTS {
            let current = self.read(key).await?;
            let (start, expires, revision) = match &current {
                Some((stored, revision)) if stored.live(now_ms) => {
                    let n = stored.value.trim().parse::<i64>().map_err(|_| {
                        KvFailure::Invalid(KvError::NotACounter(format!(
                            "the value under `{key}` is not an integer"
                        )))
                    })?;
                    (n, stored.expires, Some(*revision))
                }
                Some((_, revision)) => (0, 0, Some(*revision)),
                None => (0, 0, None),
            };
            let next = start.checked_add(delta).ok_or_else(|| {
                KvFailure::Invalid(KvError::NotACounter(format!(
                    "incrementing `{key}` by {delta} overflows"
                )))
            })?;
            let stored = body(&Stored {
                value: next.to_string(),
                expires,
            });
            if put_at_revision(&self.bucket, &encoded, stored, revision).await? {
                return Ok(next);
            }
        }
        Err(Unavailable(format!(
            "`{key}` is updated too often to increment now; retry"
        ))
        .into())
    }

    /// Live keys starting with `prefix`, after `cursor`, at most `limit`.
    ///
    /// # Errors
    /// [`Unavailable`] when the cluster cannot answer.
    pub async fn list(
        &self,
        prefix: &str,
        cursor: Option<&str>,
        limit: usize,
        now_ms: u64,
    ) -> Result<KeyPage, Unavailable> {
        self.cluster.ensure_connected()?;
        let keys = self.bucket.keys().await.map_err(Unavailable::from)?;
        let mut keys: Vec<String> = keys
            .map_ok(|k| decode(&k))
            .try_filter(|k| {
                futures::future::ready(
                    k.starts_with(prefix) && cursor.is_none_or(|c| k.as_str() > c),
                )
            })
            .try_collect()
            .await
            .map_err(Unavailable::from)?;
        keys.sort();
        let limit = limit.clamp(1, MAX_PAGE);
        let mut page = Vec::new();
        for key in keys {
            if page.len() == limit {
                return Ok(KeyPage {
                    cursor: page.last().cloned(),
                    keys: page,
                });
            }
            if self.get(&key, now_ms).await?.is_some() {
                page.push(key);
            }
        }
        Ok(KeyPage {
            keys: page,
            cursor: None,
        })
    }

    /// Deletes expired entries; returns how many.
    ///
    /// # Errors
    /// [`Unavailable`] when the cluster cannot answer.
    pub async fn purge(&self, now_ms: u64) -> Result<usize, Unavailable> {
        self.cluster.ensure_connected()?;
        let keys = all_keys(&self.bucket).await?;
        let mut purged = 0;
        for key in keys {
            let decoded = decode(&key);
            let Some((stored, revision)) = self.read(&decoded).await? else {
                continue;
            };
            if !stored.live(now_ms)
                && self
                    .bucket
                    .purge_expect_revision(&key, Some(revision))
                    .await
                    .is_ok()
            {
                purged += 1;
            }
        }
        Ok(purged)
    }
}

impl KvStore for NatsKv {
    fn get(
        self: Arc<Self>,
        key: String,
        now_ms: u64,
    ) -> BoxFuture<'static, Result<Option<String>, KvFailure>> {
        Box::pin(async move { Ok(NatsKv::get(&self, &key, now_ms).await?) })
    }

    fn set(
        self: Arc<Self>,
        key: String,
        value: String,
        expires: u64,
    ) -> BoxFuture<'static, Result<(), KvFailure>> {
        Box::pin(async move { Ok(NatsKv::set(&self, &key, &value, expires).await?) })
    }

    fn delete(
        self: Arc<Self>,
        key: String,
        now_ms: u64,
    ) -> BoxFuture<'static, Result<bool, KvFailure>> {
        Box::pin(async move { Ok(NatsKv::delete(&self, &key, now_ms).await?) })
    }

    fn incr(
        self: Arc<Self>,
        key: String,
        delta: i64,
        now_ms: u64,
    ) -> BoxFuture<'static, Result<i64, KvFailure>> {
        Box::pin(async move { NatsKv::incr(&self, &key, delta, now_ms).await })
    }

    fn list(
        self: Arc<Self>,
        prefix: String,
        cursor: Option<String>,
        limit: usize,
        now_ms: u64,
    ) -> BoxFuture<'static, Result<KeyPage, KvFailure>> {
        Box::pin(async move {
            Ok(NatsKv::list(&self, &prefix, cursor.as_deref(), limit, now_ms).await?)
        })
    }

    fn purge(self: Arc<Self>, now_ms: u64) -> BoxFuture<'static, Result<usize, KvFailure>> {
        Box::pin(async move { Ok(NatsKv::purge(&self, now_ms).await?) })
    }
}

/// Every key of `bucket` (encoded).
///
/// # Errors
/// [`Unavailable`] when the cluster cannot answer.
pub async fn all_keys(bucket: &Bucket) -> Result<Vec<String>, Unavailable> {
    let keys = bucket.keys().await.map_err(Unavailable::from)?;
    keys.try_collect().await.map_err(Unavailable::from)
}

fn body(stored: &Stored) -> Bytes {
    serde_json::to_vec(stored)
        .expect("a stored value serializes")
        .into()
}

/// A key in NATS's alphabet.
pub fn encode(key: &str) -> String {
    let mut encoded = String::with_capacity(key.len());
    let last = key.len().saturating_sub(1);
    for (i, byte) in key.bytes().enumerate() {
        let plain = byte.is_ascii_alphanumeric()
            || matches!(byte, b'-' | b'/' | b'_')
            || (byte == b'.' && i != 0 && i != last);
        if plain {
            encoded.push(byte as char);
        } else {
            let _ = write!(encoded, "={byte:02X}");
        }
    }
    encoded
}

/// The key `encode` made `encoded` from.
pub fn decode(encoded: &str) -> String {
    let bytes = encoded.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match (
            bytes[i],
            encoded
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok()),
        ) {
            (b'=', Some(byte)) => {
                decoded.push(byte);
                i += 3;
            }
            (byte, _) => {
                decoded.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

/// Writes `record` at `key` if the entry is still at `revision` (`None`:
/// if there is none): `false` when another write came first (read it
/// again and retry). The compare-and-set every read-modify-write on a
/// bucket goes through.
///
/// # Errors
/// When JetStream cannot be reached.
pub(super) async fn put_at_revision(
    bucket: &Bucket,
    key: &str,
    record: Bytes,
    revision: Option<u64>,
) -> Result<bool, Unavailable> {
    match revision {
        Some(revision) => match bucket.update(key, record, revision).await {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == UpdateErrorKind::WrongLastRevision => Ok(false),
            Err(e) => Err(Unavailable::from(e)),
        },
        None => match bucket.create(key, record).await {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == CreateErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(Unavailable::from(e)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_in_nats_alphabet() {
        for key in [
            "user:alice",
            "count:chat.alice",
            ".edge.",
            "a=b",
            "ü",
            "plain/key_1-2",
        ] {
            let encoded = encode(key);
            assert!(
                encoded
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-/_=.".contains(&b)),
                "{encoded}"
            );
            assert!(!encoded.starts_with('.') && !encoded.ends_with('.'));
            assert_eq!(decode(&encoded), key);
        }
    }
}
