//! Channel groups (PubNub's channel registration): group name → its
//! channels, as a JSON list.

use redb::ReadableTable;

use super::{GROUPS, Result, Store, StoreError, db_err};

impl Store {
    /// Every group and its channels.
    ///
    /// # Errors
    /// When the database cannot be read or a record is corrupt.
    pub fn groups(&self) -> Result<Vec<(String, Vec<String>)>> {
        let txn = self.read()?;
        let table = txn.open_table(GROUPS).map_err(db_err)?;
        let mut found = Vec::new();
        for row in table.iter().map_err(db_err)? {
            let (name, channels) = row.map_err(db_err)?;
            let channels =
                serde_json::from_slice(channels.value()).map_err(|e| StoreError::Corrupt {
                    key: format!("channel group {}", name.value()),
                    reason: e.to_string(),
                })?;
            found.push((name.value().to_owned(), channels));
        }
        Ok(found)
    }

    /// Sets a group's channels (an empty list deletes the group).
    ///
    /// # Errors
    /// When the transaction cannot be committed.
    pub fn put_group(&self, name: &str, channels: &[String]) -> Result<()> {
        let txn = self.write()?;
        {
            let mut table = txn.open_table(GROUPS).map_err(db_err)?;
            if channels.is_empty() {
                table.remove(name).map_err(db_err)?;
            } else {
                let record = serde_json::to_vec(channels).expect("a list of strings serializes");
                table.insert(name, record.as_slice()).map_err(db_err)?;
            }
        }
        txn.commit().map_err(db_err)
    }
}
