//! Where revocations are kept: the node's own store, or, in a cluster, the
//! KV bucket `edgefn_revoked` that every node mirrors (see
//! [`crate::cluster::shared`]), so a token revoked on one node is refused
//! on all.

use std::sync::Arc;

use super::AccessError;
use crate::cluster::{Cluster, shared};
use crate::store::{self, Store};

/// The revocation log.
pub enum RevocationLog {
    /// In the node's store.
    Local(Arc<Store>),
    /// In the cluster.
    Cluster(Arc<Cluster>),
}

impl RevocationLog {
    /// The revocations to start with (in a cluster, none: the watcher
    /// delivers them).
    ///
    /// # Errors
    /// When the store cannot be read.
    pub fn initial(&self) -> Result<Vec<(Vec<u8>, u64)>, AccessError> {
        match self {
            Self::Local(store) => store
                .revocations()
                .map_err(|e| AccessError::Store(Arc::new(e))),
            Self::Cluster(_) => Ok(Vec::new()),
        }
    }

    /// Records that token `id` is revoked until `expires` (Unix s), durably.
    ///
    /// # Errors
    /// When the store or the cluster cannot take it.
    pub async fn record(&self, id: &[u8], expires: u64) -> Result<(), AccessError> {
        match self {
            Self::Local(store) => {
                let (store, id) = (Arc::clone(store), id.to_vec());
                store::blocking(move || store.revoke(&id, expires))
                    .await
                    .map_err(|e| AccessError::Store(Arc::new(e)))
            }
            Self::Cluster(cluster) => shared::put(
                cluster,
                shared::REVOKED,
                &hex::encode(id),
                expires.to_string().into(),
            )
            .await
            .map_err(|e| AccessError::Cluster(e.to_string())),
        }
    }

    /// Drops records of tokens expired by `now` (Unix s). In a cluster,
    /// `expired` lists them (from the mirrored table).
    ///
    /// # Errors
    /// When the store or the cluster cannot take it.
    pub async fn purge(&self, now: u64, expired: Vec<Arc<[u8]>>) -> Result<(), AccessError> {
        match self {
            Self::Local(store) => {
                let store = Arc::clone(store);
                store::blocking(move || store.purge_revocations(now))
                    .await
                    .map_err(|e| AccessError::Store(Arc::new(e)))
            }
            Self::Cluster(cluster) => {
                for id in expired {
                    shared::delete(cluster, shared::REVOKED, &hex::encode(&*id))
                        .await
                        .map_err(|e| AccessError::Cluster(e.to_string()))?;
                }
                Ok(())
            }
        }
    }
}
