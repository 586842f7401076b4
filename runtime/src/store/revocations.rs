//! Revoked tokens: id (signature) → when the token would have expired, so
//! entries can be dropped once they no longer matter; a node alone's
//! [`RevocationLog`].

use std::sync::Arc;

use futures::future::BoxFuture;
use redb::{ReadableTable, ReadableTableMetadata};

use super::{REVOKED, Result, Store, StoreError, db_err, off_thread};
use crate::access::AccessError;
use crate::access::revocations::{Revocation, RevocationLog};

impl From<StoreError> for AccessError {
    fn from(e: StoreError) -> Self {
        Self::Store(e.to_string())
    }
}

impl RevocationLog for Store {
    fn initial(&self) -> Result<Vec<Revocation>, AccessError> {
        Ok(self.revocations()?)
    }

    fn record(
        self: Arc<Self>,
        id: Vec<u8>,
        expires: u64,
    ) -> BoxFuture<'static, Result<(), AccessError>> {
        off_thread(move || self.revoke(&id, expires))
    }

    fn purge(
        self: Arc<Self>,
        now: u64,
        _: Vec<Arc<[u8]>>,
    ) -> BoxFuture<'static, Result<(), AccessError>> {
        off_thread(move || self.purge_revocations(now))
    }
}

impl Store {
    /// Records a revocation durably.
    ///
    /// # Errors
    /// When the transaction cannot be committed.
    pub fn revoke(&self, id: &[u8], expires_at: u64) -> Result<()> {
        let txn = self.write()?;
        txn.open_table(REVOKED)
            .map_err(db_err)?
            .insert(id, expires_at)
            .map_err(db_err)?;
        txn.commit().map_err(db_err)
    }

    /// Every recorded revocation.
    ///
    /// # Errors
    /// When the database cannot be read.
    pub fn revocations(&self) -> Result<Vec<(Vec<u8>, u64)>> {
        let txn = self.read()?;
        let table = txn.open_table(REVOKED).map_err(db_err)?;
        let mut found = Vec::with_capacity(table.len().map_err(db_err)? as usize);
        for row in table.iter().map_err(db_err)? {
            let (id, expires) = row.map_err(db_err)?;
            found.push((id.value().to_vec(), expires.value()));
        }
        Ok(found)
    }

    /// Drops revocations of tokens expired by `now` (Unix seconds).
    ///
    /// # Errors
    /// When the transaction cannot be committed.
    pub fn purge_revocations(&self, now: u64) -> Result<()> {
        let txn = self.write()?;
        txn.open_table(REVOKED)
            .map_err(db_err)?
            .retain(|_, expires| expires > now)
            .map_err(db_err)?;
        txn.commit().map_err(db_err)
    }
}
