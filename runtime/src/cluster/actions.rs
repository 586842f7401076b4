//! Message actions in a cluster: the JetStream KV bucket `edgefn_actions`,
//! one entry per channel (its name encoded as [`super::kv`] encodes keys)
//! holding the channel's actions as JSON. A change is a compare-and-set on
//! the entry's revision, retried when another node changed it first, so an
//! action added through any node is seen through every node, and the
//! duplicate check and the limits hold cluster-wide.

use std::sync::Arc;

use async_nats::jetstream::kv::{Operation, Store as Bucket};
use futures::future::BoxFuture;

use super::kv::{encode, put_at_revision};
use super::{Cluster, Unavailable};
use crate::actions::{ActionError, ActionStore, Change, ChannelActions, Edit};
use crate::bus::Channel;

/// The bucket.
pub const BUCKET: &str = "edgefn_actions";
/// Compare-and-set attempts for one change under contention.
const MAX_ATTEMPTS: usize = 100;

/// The cluster's message actions.
pub struct NatsActions {
    cluster: Arc<Cluster>,
    bucket: Bucket,
}

fn unavailable(e: impl std::fmt::Display) -> ActionError {
    ActionError::Unavailable(Unavailable::from(e).to_string())
}

impl NatsActions {
    /// Opens the bucket (created at connect).
    ///
    /// # Errors
    /// When JetStream cannot be reached.
    pub async fn open(cluster: Arc<Cluster>) -> Result<Self, Unavailable> {
        let bucket = cluster.kv(BUCKET).await?;
        Ok(Self { cluster, bucket })
    }

    /// The channel's actions and the revision of their entry (none when
    /// the channel has none).
    async fn current(
        &self,
        channel: &Channel,
    ) -> Result<(ChannelActions, Option<u64>), ActionError> {
        self.cluster.ensure_connected().map_err(unavailable)?;
        let entry = self
            .bucket
            .entry(encode(channel.as_str()))
            .await
            .map_err(unavailable)?;
        match entry {
            Some(entry) if entry.operation == Operation::Put => {
                let actions = serde_json::from_slice(&entry.value).map_err(|e| {
                    ActionError::Unavailable(format!(
                        "the message actions of {channel} are corrupt: {e}"
                    ))
                })?;
                Ok((actions, Some(entry.revision)))
            }
            Some(entry) => Ok((ChannelActions::default(), Some(entry.revision))),
            None => Ok((ChannelActions::default(), None)),
        }
    }

    async fn change(&self, channel: &Channel, mut edit: Edit) -> Result<Change, ActionError> {
        let key = encode(channel.as_str());
        for _ in 0..MAX_ATTEMPTS {
            let (mut actions, revision) = self.current(channel).await?;
            let change = edit(&mut actions)?;
            if change == Change::Unchanged {
                return Ok(change);
            }
            let record = serde_json::to_vec(&actions)
                .expect("actions serialize")
                .into();
            let written = put_at_revision(&self.bucket, &key, record, revision)
                .await
                .map_err(unavailable)?;
            if written {
                return Ok(change);
            }
        }
        Err(ActionError::Unavailable(format!(
            "the message actions of {channel} change too often to change now; retry"
        )))
    }
}

impl ActionStore for NatsActions {
    fn read(
        self: Arc<Self>,
        channel: Channel,
    ) -> BoxFuture<'static, Result<ChannelActions, ActionError>> {
        Box::pin(async move { Ok(self.current(&channel).await?.0) })
    }

    fn edit(
        self: Arc<Self>,
        channel: Channel,
        edit: Edit,
    ) -> BoxFuture<'static, Result<Change, ActionError>> {
        Box::pin(async move { self.change(&channel, edit).await })
    }
}
