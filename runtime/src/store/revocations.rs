//! Revoked tokens: id (signature) → when the token would have expired, so
//! entries can be dropped once they no longer matter.

use redb::{ReadableTable, ReadableTableMetadata};

use super::{REVOKED, Result, Store, db_err};

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
