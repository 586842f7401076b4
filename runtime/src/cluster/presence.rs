//! Presence in a cluster: the KV bucket `edgefn_presence` holds one entry
//! per member of a channel (key `{channel}\0{uuid}`, encoded; value: its
//! expiry and state as JSON). Each node writes the changes it sees, watches
//! the bucket to hold the whole table, and times out a member whose
//! heartbeats stopped only if it deletes the member's entry first, on the
//! revision it read: so one node publishes each `timeout` event (and runs
//! the after-presence functions for it), even when the member's own node
//! is gone. Changes seen through the watch publish and run nothing.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::kv::Operation;
use tokio::sync::mpsc;

use super::{Cluster, Unavailable, kv, shared};
use crate::bus::Channel;
use crate::presence::{Member, MemberWrite};

/// The bucket.
pub const BUCKET: &str = "edgefn_presence";
/// How long an entry nobody refreshes is kept (past the longest timeout a
/// client may ask for): what is left of a cluster that stopped.
pub const MAX_AGE: Duration = Duration::from_secs(2 * 3600);

/// One member's change seen in the bucket (`None`: removed).
pub type Change = (Channel, String, Option<Member>);

fn key(channel: &Channel, uuid: &str) -> String {
    format!("{channel}\0{uuid}")
}

/// Writes `change` to the bucket.
///
/// # Errors
/// [`Unavailable`] when the cluster cannot take it.
pub async fn write(cluster: &Cluster, change: &MemberWrite) -> Result<(), Unavailable> {
    match change {
        MemberWrite::Put(channel, uuid, member) => {
            let value = serde_json::to_vec(member).expect("a presence member serializes");
            shared::put(cluster, BUCKET, &key(channel, uuid), value.into()).await
        }
        MemberWrite::Delete(channel, uuid) => {
            shared::delete(cluster, BUCKET, &key(channel, uuid)).await
        }
    }
}

/// What came of claiming a member's timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// This node deleted the entry: it times the member out.
    Won,
    /// The member heartbeat, or another node claimed it (the watch brings
    /// the change).
    Lost,
    /// The cluster has no entry for it (its write was lost): it is gone.
    Gone,
}

/// Deletes `uuid`'s entry on `channel` if it has expired by `now_ms` and
/// nobody changed it meanwhile.
///
/// # Errors
/// [`Unavailable`] when the cluster cannot be reached.
pub async fn claim_timeout(
    cluster: &Cluster,
    channel: &Channel,
    uuid: &str,
    now_ms: u64,
) -> Result<Claim, Unavailable> {
    cluster.ensure_connected()?;
    let bucket = cluster.kv(BUCKET).await?;
    let key = kv::encode(&key(channel, uuid));
    let entry = bucket.entry(&key).await.map_err(Unavailable::from)?;
    let Some(entry) = entry.filter(|e| e.operation == Operation::Put) else {
        return Ok(Claim::Gone);
    };
    let expired = serde_json::from_slice::<Member>(&entry.value)
        .map_or(true, |member| member.expires_ms <= now_ms);
    let deleted = expired
        && bucket
            .delete_expect_revision(&key, Some(entry.revision))
            .await
            .is_ok();
    Ok(if deleted { Claim::Won } else { Claim::Lost })
}

/// Every current entry, then every change, for as long as the node runs.
pub fn watch(cluster: Arc<Cluster>) -> mpsc::Receiver<Change> {
    let mut changes = shared::watch(cluster, BUCKET);
    let (members, received) = mpsc::channel(1024);
    tokio::spawn(async move {
        while let Some((key, value)) = changes.recv().await {
            let Some((channel, uuid)) = key
                .split_once('\0')
                .and_then(|(c, u)| Some((Channel::parse(c).ok()?, u.to_owned())))
            else {
                tracing::warn!(key, "skipping an unreadable presence entry");
                continue;
            };
            let member = value.and_then(|v| serde_json::from_slice::<Member>(&v).ok());
            if members.send((channel, uuid, member)).await.is_err() {
                return;
            }
        }
    });
    received
}
