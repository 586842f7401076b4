//! The functions' key-value store, wherever it lives: in the node's own
//! store ([`crate::store::kv`]), or, in a cluster, in JetStream
//! ([`crate::cluster::kv`]). Both have the same limits and semantics; this
//! is what the KV capability and the admin API use.

use std::sync::Arc;

use crate::cluster::kv::{Failure, NatsKv};
use crate::store::kv::{KeyPage, KvError};
use crate::store::{self, Store};

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

/// The KV store.
#[derive(Clone)]
pub enum Kv {
    /// The node's own store.
    Local(Arc<Store>),
    /// The cluster's bucket.
    Cluster(Arc<NatsKv>),
}

impl Kv {
    /// The live value under `key`.
    ///
    /// # Errors
    /// [`KvFailure::Unavailable`].
    pub async fn get(&self, key: String, now_ms: u64) -> Result<Option<String>, KvFailure> {
        match self {
            Self::Local(store) => local(store, move |s| s.kv_get(&key, now_ms)).await,
            Self::Cluster(kv) => kv.get(&key, now_ms).await.map_err(unavailable),
        }
    }

    /// Stores `value` under `key`, expiring at `expires` (Unix ms, 0: never).
    ///
    /// # Errors
    /// [`KvFailure::Unavailable`].
    pub async fn set(&self, key: String, value: String, expires: u64) -> Result<(), KvFailure> {
        match self {
            Self::Local(store) => local(store, move |s| s.kv_set(&key, &value, expires)).await,
            Self::Cluster(kv) => kv.set(&key, &value, expires).await.map_err(unavailable),
        }
    }

    /// Deletes `key`; whether a live value was there.
    ///
    /// # Errors
    /// [`KvFailure::Unavailable`].
    pub async fn delete(&self, key: String, now_ms: u64) -> Result<bool, KvFailure> {
        match self {
            Self::Local(store) => local(store, move |s| s.kv_delete(&key, now_ms)).await,
            Self::Cluster(kv) => kv.delete(&key, now_ms).await.map_err(unavailable),
        }
    }

    /// Adds `delta` to the integer under `key`, atomically.
    ///
    /// # Errors
    /// [`KvFailure::Invalid`] when the value is not an integer or would
    /// overflow, [`KvFailure::Unavailable`] otherwise.
    pub async fn incr(&self, key: String, delta: i64, now_ms: u64) -> Result<i64, KvFailure> {
        match self {
            Self::Local(store) => Ok(local(store, move |s| s.kv_incr(&key, delta, now_ms)).await??),
            Self::Cluster(kv) => kv.incr(&key, delta, now_ms).await.map_err(|e| match e {
                Failure::Invalid(e) => KvFailure::Invalid(e),
                Failure::Unavailable(e) => unavailable(e),
            }),
        }
    }

    /// Live keys starting with `prefix`, after `cursor`, at most `limit`.
    ///
    /// # Errors
    /// [`KvFailure::Unavailable`].
    pub async fn list(
        &self,
        prefix: String,
        cursor: Option<String>,
        limit: usize,
        now_ms: u64,
    ) -> Result<KeyPage, KvFailure> {
        match self {
            Self::Local(store) => {
                local(store, move |s| {
                    s.kv_list(&prefix, cursor.as_deref(), limit, now_ms)
                })
                .await
            }
            Self::Cluster(kv) => kv
                .list(&prefix, cursor.as_deref(), limit, now_ms)
                .await
                .map_err(unavailable),
        }
    }

    /// Deletes expired entries.
    ///
    /// # Errors
    /// [`KvFailure::Unavailable`].
    pub async fn purge(&self, now_ms: u64) -> Result<usize, KvFailure> {
        match self {
            Self::Local(store) => local(store, move |s| s.kv_purge(now_ms)).await,
            Self::Cluster(kv) => kv.purge(now_ms).await.map_err(unavailable),
        }
    }
}

async fn local<T: Send + 'static>(
    store: &Arc<Store>,
    op: impl FnOnce(&Store) -> Result<T, store::StoreError> + Send + 'static,
) -> Result<T, KvFailure> {
    let store = Arc::clone(store);
    store::blocking(move || op(&store))
        .await
        .map_err(|e| KvFailure::Unavailable(e.to_string()))
}

fn unavailable(e: impl std::fmt::Display) -> KvFailure {
    KvFailure::Unavailable(e.to_string())
}
