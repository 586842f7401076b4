//! App Context objects in a cluster: the JetStream KV bucket
//! `edgefn_objects`, one entry per object (key `{kind}/{id}`, encoded as
//! [`super::kv`] encodes keys) holding it as JSON. A change is a
//! compare-and-set on the entry's revision, retried when another node
//! changed it first, so the eTag check (`If-Match`) holds cluster-wide and
//! every node reads the same objects.
//!
//! Memberships are entries of the same bucket, one per membership, under
//! `membership.{uuid}.{channel}` (each part encoded with dots and slashes
//! escaped too, so the key splits back into its two ends). A uuid's
//! memberships and a channel's members are found by listing the keys.

use std::sync::Arc;

use async_nats::jetstream::kv::{Operation, Store as Bucket};
use futures::future::BoxFuture;
use futures::{StreamExt, TryStreamExt, stream};

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::kv::{all_keys, decode, encode, put_at_revision};
use super::{Cluster, Unavailable};
use crate::objects::{Edit, Kind, Membership, Object, ObjectError, ObjectStore, Write};

/// The bucket.
pub const BUCKET: &str = "edgefn_objects";
/// Compare-and-set attempts for one change under contention.
const MAX_ATTEMPTS: usize = 100;
/// Entries read at once for a listing.
const CONCURRENT_READS: usize = 32;

/// The cluster's App Context objects.
pub struct NatsObjects {
    cluster: Arc<Cluster>,
    bucket: Bucket,
}

fn unavailable(e: impl std::fmt::Display) -> ObjectError {
    ObjectError::Unavailable(Unavailable::from(e).to_string())
}

fn key(kind: Kind, id: &str) -> String {
    encode(&format!("{}/{id}", kind.as_str()))
}

/// The prefix of membership keys.
const MEMBERSHIP: &str = "membership.";

/// One end of a membership key: encoded, with no dot or slash left.
fn end_key(id: &str) -> String {
    encode(id).replace('/', "=2F").replace('.', "=2E")
}

fn membership_key(uuid: &str, channel: &str) -> String {
    format!("{MEMBERSHIP}{}.{}", end_key(uuid), end_key(channel))
}

/// The (uuid, channel) of a membership key.
fn membership_ends(key: &str) -> Option<(String, String)> {
    let (uuid, channel) = key.strip_prefix(MEMBERSHIP)?.split_once('.')?;
    Some((decode(uuid), decode(channel)))
}

impl NatsObjects {
    /// Opens the bucket (created at connect).
    ///
    /// # Errors
    /// When JetStream cannot be reached.
    pub async fn open(cluster: Arc<Cluster>) -> Result<Self, Unavailable> {
        let bucket = cluster.kv(BUCKET).await?;
        Ok(Self { cluster, bucket })
    }

    /// The record (object or membership) under `key` and the revision of
    /// its entry (none when there never was one).
    async fn current<T: DeserializeOwned>(
        &self,
        key: &str,
    ) -> Result<(Option<T>, Option<u64>), ObjectError> {
        self.cluster.ensure_connected().map_err(unavailable)?;
        match self.bucket.entry(key).await.map_err(unavailable)? {
            Some(entry) if entry.operation == Operation::Put => {
                let object = serde_json::from_slice(&entry.value).map_err(|e| {
                    ObjectError::Unavailable(format!("App Context object {key} is corrupt: {e}"))
                })?;
                Ok((Some(object), Some(entry.revision)))
            }
            Some(entry) => Ok((None, Some(entry.revision))),
            None => Ok((None, None)),
        }
    }

    /// The (encoded) keys of the objects of `kind`.
    async fn keys(&self, kind: Kind) -> Result<Vec<String>, ObjectError> {
        self.cluster.ensure_connected().map_err(unavailable)?;
        let prefix = key(kind, "");
        let mut keys = all_keys(&self.bucket).await.map_err(unavailable)?;
        keys.retain(|k| k.starts_with(&prefix));
        Ok(keys)
    }

    async fn all(&self, kind: Kind) -> Result<Vec<Object>, ObjectError> {
        self.read_all(self.keys(kind).await?).await
    }

    /// The records under `keys` (those still there).
    async fn read_all<T: DeserializeOwned>(
        &self,
        keys: Vec<String>,
    ) -> Result<Vec<T>, ObjectError> {
        let reads = keys
            .into_iter()
            .map(|key| async move { self.current(&key).await.map(|(record, _)| record) });
        let read: Vec<Option<T>> = stream::iter(reads)
            .buffer_unordered(CONCURRENT_READS)
            .try_collect()
            .await?;
        Ok(read.into_iter().flatten().collect())
    }

    async fn memberships(&self, of: Kind, id: &str) -> Result<Vec<Membership>, ObjectError> {
        self.cluster.ensure_connected().map_err(unavailable)?;
        let mut keys = all_keys(&self.bucket).await.map_err(unavailable)?;
        keys.retain(|key| {
            membership_ends(key).is_some_and(|(uuid, channel)| match of {
                Kind::Uuid => uuid == id,
                Kind::Channel => channel == id,
            })
        });
        self.read_all(keys).await
    }

    /// Applies `edit` to the record under `key` (for object or membership
    /// `id`) with a compare-and-set, retried when another write came first.
    async fn change<T: Serialize + DeserializeOwned>(
        &self,
        key: String,
        id: &str,
        mut edit: Edit<T>,
    ) -> Result<(), ObjectError> {
        for _ in 0..MAX_ATTEMPTS {
            let (current, revision) = self.current(&key).await?;
            let existed = current.is_some();
            let written = match (edit(current)?, revision) {
                (Write::Delete, _) if !existed => return Ok(()),
                (Write::Delete, Some(revision)) => self
                    .bucket
                    .delete_expect_revision(&key, Some(revision))
                    .await
                    .is_ok(),
                (Write::Delete, None) => return Ok(()),
                (Write::Put(record), revision) => {
                    let record = serde_json::to_vec(&record)
                        .expect("objects serialize")
                        .into();
                    put_at_revision(&self.bucket, &key, record, revision)
                        .await
                        .map_err(unavailable)?
                }
            };
            if written {
                return Ok(());
            }
        }
        Err(ObjectError::Unavailable(format!(
            "App Context object {id} changes too often to change now; retry"
        )))
    }
}

impl ObjectStore for NatsObjects {
    fn get(
        self: Arc<Self>,
        kind: Kind,
        id: String,
    ) -> BoxFuture<'static, Result<Option<Object>, ObjectError>> {
        Box::pin(async move { Ok(self.current(&key(kind, &id)).await?.0) })
    }

    fn all(self: Arc<Self>, kind: Kind) -> BoxFuture<'static, Result<Vec<Object>, ObjectError>> {
        Box::pin(async move { NatsObjects::all(&self, kind).await })
    }

    fn count(self: Arc<Self>, kind: Kind) -> BoxFuture<'static, Result<usize, ObjectError>> {
        Box::pin(async move { Ok(self.keys(kind).await?.len()) })
    }

    fn edit(
        self: Arc<Self>,
        kind: Kind,
        id: String,
        edit: Edit,
    ) -> BoxFuture<'static, Result<(), ObjectError>> {
        Box::pin(async move { self.change(key(kind, &id), &id, edit).await })
    }

    fn memberships(
        self: Arc<Self>,
        of: Kind,
        id: String,
    ) -> BoxFuture<'static, Result<Vec<Membership>, ObjectError>> {
        Box::pin(async move { NatsObjects::memberships(&self, of, &id).await })
    }

    fn edit_membership(
        self: Arc<Self>,
        uuid: String,
        channel: String,
        edit: Edit<Membership>,
    ) -> BoxFuture<'static, Result<(), ObjectError>> {
        Box::pin(async move {
            let id = format!("{uuid} in {channel}");
            self.change(membership_key(&uuid, &channel), &id, edit)
                .await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn membership_keys_split_back_into_their_ends() {
        for (uuid, channel) in [("u", "c"), ("a.b", "c/d"), (".x.", "y..z"), ("é=", "=2E")] {
            let key = membership_key(uuid, channel);
            assert_eq!(key.matches('.').count(), 2, "{key}");
            assert!(!key[MEMBERSHIP.len()..].contains('/'), "{key}");
            assert_eq!(
                membership_ends(&key),
                Some((uuid.to_owned(), channel.to_owned()))
            );
        }
        assert_eq!(membership_ends("uuid/u"), None);
    }
}
