//! Where revocations are kept, as the contract its homes implement: the
//! node's own store, or, in a cluster, a KV bucket every node mirrors (so a
//! token revoked on one node is refused on all).

use std::sync::Arc;

use futures::future::BoxFuture;

use super::AccessError;

/// A revoked token's id (its signature) and when it would have expired
/// anyway (Unix s).
pub type Revocation = (Vec<u8>, u64);

/// The revocation log.
pub trait RevocationLog: Send + Sync + 'static {
    /// The revocations to start with (in a cluster none: the mirror of the
    /// bucket delivers them).
    ///
    /// # Errors
    /// When the store cannot be read.
    fn initial(&self) -> Result<Vec<Revocation>, AccessError>;

    /// Records that token `id` is revoked until `expires` (Unix s), durably.
    fn record(
        self: Arc<Self>,
        id: Vec<u8>,
        expires: u64,
    ) -> BoxFuture<'static, Result<(), AccessError>>;

    /// Drops records of tokens expired by `now` (Unix s); `expired` lists
    /// them as this node knows them.
    fn purge(
        self: Arc<Self>,
        now: u64,
        expired: Vec<Arc<[u8]>>,
    ) -> BoxFuture<'static, Result<(), AccessError>>;
}
