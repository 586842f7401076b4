//! Message actions on a node alone: channel → its actions (a
//! [`ChannelActions`] as JSON), each change one write transaction.

use std::sync::Arc;

use futures::future::BoxFuture;
use redb::{ReadableTable, TableDefinition};

use super::{Result, Store, StoreError, db_err};
use crate::actions::{ActionError, ActionStore, Change, ChannelActions, Edit};
use crate::bus::Channel;

/// Message actions: channel → its actions (JSON).
pub(super) const ACTIONS: TableDefinition<&str, &[u8]> = TableDefinition::new("message_actions");

impl Store {
    fn channel_actions(&self, channel: &Channel) -> Result<ChannelActions> {
        let txn = self.read()?;
        let table = txn.open_table(ACTIONS).map_err(db_err)?;
        let record = table.get(channel.as_str()).map_err(db_err)?;
        record.map_or_else(
            || Ok(ChannelActions::default()),
            |r| decode(channel, r.value()),
        )
    }

    fn edit_actions(&self, channel: &Channel, mut edit: Edit) -> Result<Change, ActionError> {
        let txn = self.write().map_err(lost)?;
        let change = {
            let mut table = txn.open_table(ACTIONS).map_err(db)?;
            let mut actions = match table.get(channel.as_str()).map_err(db)? {
                Some(record) => decode(channel, record.value()).map_err(lost)?,
                None => ChannelActions::default(),
            };
            let change = edit(&mut actions)?;
            if change == Change::Unchanged {
                return Ok(change);
            }
            if actions.is_empty() {
                table.remove(channel.as_str()).map_err(db)?;
            } else {
                let record = serde_json::to_vec(&actions).expect("actions serialize");
                table
                    .insert(channel.as_str(), record.as_slice())
                    .map_err(db)?;
            }
            change
        };
        txn.commit().map_err(db)?;
        Ok(change)
    }
}

/// A store failure, as action calls report it.
fn lost(e: StoreError) -> ActionError {
    ActionError::Unavailable(e.to_string())
}

fn db(e: impl Into<redb::Error>) -> ActionError {
    lost(db_err(e))
}

fn decode(channel: &Channel, record: &[u8]) -> Result<ChannelActions> {
    serde_json::from_slice(record).map_err(|e| StoreError::Corrupt {
        key: format!("message actions of {channel}"),
        reason: e.to_string(),
    })
}

impl ActionStore for Store {
    fn read(
        self: Arc<Self>,
        channel: Channel,
    ) -> BoxFuture<'static, Result<ChannelActions, ActionError>> {
        Box::pin(async move {
            super::blocking(move || self.channel_actions(&channel))
                .await
                .map_err(lost)
        })
    }

    fn edit(
        self: Arc<Self>,
        channel: Channel,
        edit: Edit,
    ) -> BoxFuture<'static, Result<Change, ActionError>> {
        Box::pin(async move {
            tokio::task::spawn_blocking(move || self.edit_actions(&channel, edit))
                .await
                .map_err(|e| ActionError::Unavailable(e.to_string()))?
        })
    }
}
