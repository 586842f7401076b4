//! Revocations in a cluster: the KV bucket `edgefn_revoked` (token id in
//! hex → when it would have expired, Unix s) that every node mirrors (see
//! [`super::shared`]); the cluster's [`RevocationLog`].

use std::sync::Arc;

use futures::future::BoxFuture;

use super::{Cluster, Unavailable, shared};
use crate::access::AccessError;
use crate::access::revocations::{Revocation, RevocationLog};

fn unavailable(e: Unavailable) -> AccessError {
    AccessError::Cluster(e.to_string())
}

impl RevocationLog for Cluster {
    fn initial(&self) -> Result<Vec<Revocation>, AccessError> {
        Ok(Vec::new())
    }

    fn record(
        self: Arc<Self>,
        id: Vec<u8>,
        expires: u64,
    ) -> BoxFuture<'static, Result<(), AccessError>> {
        Box::pin(async move {
            let key = hex::encode(id);
            shared::put(&self, shared::REVOKED, &key, expires.to_string().into())
                .await
                .map_err(unavailable)
        })
    }

    fn purge(
        self: Arc<Self>,
        _: u64,
        expired: Vec<Arc<[u8]>>,
    ) -> BoxFuture<'static, Result<(), AccessError>> {
        Box::pin(async move {
            for id in expired {
                shared::delete(&self, shared::REVOKED, &hex::encode(&*id))
                    .await
                    .map_err(unavailable)?;
            }
            Ok(())
        })
    }
}
