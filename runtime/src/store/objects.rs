//! App Context objects on a node alone: (kind, id) → the object (an
//! [`Object`] as JSON); (uuid, channel) → the [`Membership`] (JSON), with
//! an index (channel, uuid) for a channel's members. Each change is one
//! write transaction.

use std::sync::Arc;

use futures::future::BoxFuture;
use redb::{ReadableTable, TableDefinition};

use super::{Result, Store, StoreError, db_err};
use crate::objects::{Edit, Kind, Membership, Object, ObjectError, ObjectStore, Write};

/// App Context objects: (kind, id) → the object (JSON).
pub(super) const OBJECTS: TableDefinition<(&str, &str), &[u8]> =
    TableDefinition::new("app_context_objects");
/// App Context memberships: (uuid, channel) → the membership (JSON).
pub(super) const MEMBERSHIPS: TableDefinition<(&str, &str), &[u8]> =
    TableDefinition::new("app_context_memberships");
/// The memberships by channel: (channel, uuid) → nothing.
pub(super) const MEMBERS: TableDefinition<(&str, &str), ()> =
    TableDefinition::new("app_context_members");

impl Store {
    fn object(&self, kind: Kind, id: &str) -> Result<Option<Object>> {
        let txn = self.read()?;
        let table = txn.open_table(OBJECTS).map_err(db_err)?;
        let record = table.get((kind.as_str(), id)).map_err(db_err)?;
        record.map(|r| decode(id, r.value())).transpose()
    }

    fn objects(&self, kind: Kind) -> Result<Vec<Object>> {
        let txn = self.read()?;
        let table = txn.open_table(OBJECTS).map_err(db_err)?;
        let start = (kind.as_str(), "");
        let mut objects = Vec::new();
        for entry in table.range(start..).map_err(db_err)? {
            let (key, value) = entry.map_err(db_err)?;
            let (entry_kind, id) = key.value();
            if entry_kind != kind.as_str() {
                break;
            }
            objects.push(decode(id, value.value())?);
        }
        Ok(objects)
    }

    fn count_objects(&self, kind: Kind) -> Result<usize> {
        let txn = self.read()?;
        let table = txn.open_table(OBJECTS).map_err(db_err)?;
        let mut count = 0;
        for entry in table.range((kind.as_str(), "")..).map_err(db_err)? {
            if entry.map_err(db_err)?.0.value().0 != kind.as_str() {
                break;
            }
            count += 1;
        }
        Ok(count)
    }

    fn edit_object(&self, kind: Kind, id: &str, mut edit: Edit) -> Result<(), ObjectError> {
        let txn = self.write().map_err(lost)?;
        {
            let mut table = txn.open_table(OBJECTS).map_err(db)?;
            let current = match table.get((kind.as_str(), id)).map_err(db)? {
                Some(record) => Some(decode(id, record.value()).map_err(lost)?),
                None => None,
            };
            let existed = current.is_some();
            match edit(current)? {
                Write::Put(object) => {
                    let record = serde_json::to_vec(&object).expect("objects serialize");
                    table
                        .insert((kind.as_str(), id), record.as_slice())
                        .map_err(db)?;
                }
                Write::Delete if existed => {
                    table.remove((kind.as_str(), id)).map_err(db)?;
                }
                Write::Delete => return Ok(()),
            }
        }
        txn.commit().map_err(db)?;
        Ok(())
    }

    fn memberships_of(&self, of: Kind, id: &str) -> Result<Vec<Membership>> {
        let txn = self.read()?;
        let memberships = txn.open_table(MEMBERSHIPS).map_err(db_err)?;
        let record = |uuid: &str, channel: &str| -> Result<Option<Membership>> {
            let value = memberships.get((uuid, channel)).map_err(db_err)?;
            value
                .map(|v| decode(&format!("{uuid} in {channel}"), v.value()))
                .transpose()
        };
        let mut found = Vec::new();
        match of {
            Kind::Uuid => {
                for entry in memberships.range((id, "")..).map_err(db_err)? {
                    let (key, value) = entry.map_err(db_err)?;
                    let (uuid, channel) = key.value();
                    if uuid != id {
                        break;
                    }
                    found.push(decode(&format!("{uuid} in {channel}"), value.value())?);
                }
            }
            Kind::Channel => {
                let members = txn.open_table(MEMBERS).map_err(db_err)?;
                for entry in members.range((id, "")..).map_err(db_err)? {
                    let (key, _) = entry.map_err(db_err)?;
                    let (channel, uuid) = key.value();
                    if channel != id {
                        break;
                    }
                    found.extend(record(uuid, channel)?);
                }
            }
        }
        Ok(found)
    }

    fn edit_membership_record(
        &self,
        uuid: &str,
        channel: &str,
        mut edit: Edit<Membership>,
    ) -> Result<(), ObjectError> {
        let txn = self.write().map_err(lost)?;
        {
            let mut memberships = txn.open_table(MEMBERSHIPS).map_err(db)?;
            let mut members = txn.open_table(MEMBERS).map_err(db)?;
            let current = match memberships.get((uuid, channel)).map_err(db)? {
                Some(record) => {
                    Some(decode(&format!("{uuid} in {channel}"), record.value()).map_err(lost)?)
                }
                None => None,
            };
            let existed = current.is_some();
            match edit(current)? {
                Write::Put(membership) => {
                    let record = serde_json::to_vec(&membership).expect("memberships serialize");
                    memberships
                        .insert((uuid, channel), record.as_slice())
                        .map_err(db)?;
                    members.insert((channel, uuid), ()).map_err(db)?;
                }
                Write::Delete if existed => {
                    memberships.remove((uuid, channel)).map_err(db)?;
                    members.remove((channel, uuid)).map_err(db)?;
                }
                Write::Delete => return Ok(()),
            }
        }
        txn.commit().map_err(db)?;
        Ok(())
    }
}

/// A store failure, as object calls report it.
fn lost(e: StoreError) -> ObjectError {
    ObjectError::Unavailable(e.to_string())
}

fn db(e: impl Into<redb::Error>) -> ObjectError {
    lost(db_err(e))
}

fn decode<T: serde::de::DeserializeOwned>(id: &str, record: &[u8]) -> Result<T> {
    serde_json::from_slice(record).map_err(|e| StoreError::Corrupt {
        key: format!("App Context object {id}"),
        reason: e.to_string(),
    })
}

impl ObjectStore for Store {
    fn get(
        self: Arc<Self>,
        kind: Kind,
        id: String,
    ) -> BoxFuture<'static, Result<Option<Object>, ObjectError>> {
        Box::pin(async move {
            super::blocking(move || self.object(kind, &id))
                .await
                .map_err(lost)
        })
    }

    fn all(self: Arc<Self>, kind: Kind) -> BoxFuture<'static, Result<Vec<Object>, ObjectError>> {
        Box::pin(async move {
            super::blocking(move || self.objects(kind))
                .await
                .map_err(lost)
        })
    }

    fn count(self: Arc<Self>, kind: Kind) -> BoxFuture<'static, Result<usize, ObjectError>> {
        Box::pin(async move {
            super::blocking(move || self.count_objects(kind))
                .await
                .map_err(lost)
        })
    }

    fn edit(
        self: Arc<Self>,
        kind: Kind,
        id: String,
        edit: Edit,
    ) -> BoxFuture<'static, Result<(), ObjectError>> {
        Box::pin(async move {
            tokio::task::spawn_blocking(move || self.edit_object(kind, &id, edit))
                .await
                .map_err(|e| ObjectError::Unavailable(e.to_string()))?
        })
    }

    fn memberships(
        self: Arc<Self>,
        of: Kind,
        id: String,
    ) -> BoxFuture<'static, Result<Vec<Membership>, ObjectError>> {
        Box::pin(async move {
            super::blocking(move || self.memberships_of(of, &id))
                .await
                .map_err(lost)
        })
    }

    fn edit_membership(
        self: Arc<Self>,
        uuid: String,
        channel: String,
        edit: Edit<Membership>,
    ) -> BoxFuture<'static, Result<(), ObjectError>> {
        Box::pin(async move {
            tokio::task::spawn_blocking(move || self.edit_membership_record(&uuid, &channel, edit))
                .await
                .map_err(|e| ObjectError::Unavailable(e.to_string()))?
        })
    }
}
