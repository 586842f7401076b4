//! App Context objects in a cluster: the JetStream KV bucket
//! `edgefn_objects`, one entry per object (key `{kind}/{id}`, encoded as
//! [`super::kv`] encodes keys) holding it as JSON. A change is a
//! compare-and-set on the entry's revision, retried when another node
//! changed it first, so the eTag check (`If-Match`) holds cluster-wide and
//! every node reads the same objects.

use std::sync::Arc;

use async_nats::jetstream::kv::{Operation, Store as Bucket};
use futures::future::BoxFuture;
use futures::{StreamExt, TryStreamExt, stream};

use super::kv::{all_keys, encode, put_at_revision};
use super::{Cluster, Unavailable};
use crate::objects::{Edit, Kind, Object, ObjectError, ObjectStore, Write};

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

impl NatsObjects {
    /// Opens the bucket (created at connect).
    ///
    /// # Errors
    /// When JetStream cannot be reached.
    pub async fn open(cluster: Arc<Cluster>) -> Result<Self, Unavailable> {
        let bucket = cluster.kv(BUCKET).await?;
        Ok(Self { cluster, bucket })
    }

    /// The object under `key` and the revision of its entry (none when
    /// there never was one).
    async fn current(&self, key: &str) -> Result<(Option<Object>, Option<u64>), ObjectError> {
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
        let reads = self
            .keys(kind)
            .await?
            .into_iter()
            .map(|key| async move { self.current(&key).await.map(|(object, _)| object) });
        let read: Vec<Option<Object>> = stream::iter(reads)
            .buffer_unordered(CONCURRENT_READS)
            .try_collect()
            .await?;
        Ok(read.into_iter().flatten().collect())
    }

    async fn change(&self, kind: Kind, id: &str, mut edit: Edit) -> Result<(), ObjectError> {
        let key = key(kind, id);
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
                (Write::Put(object), revision) => {
                    let record = serde_json::to_vec(&object)
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
        Box::pin(async move { self.change(kind, &id, edit).await })
    }
}
