//! Small shared tables kept in JetStream KV buckets and mirrored on every
//! node: token revocations (`edgefn_revoked`) and channel groups
//! (`edgefn_groups`); the same watcher keeps deployments in step
//! ([`super::deployments`]).
//!
//! A watcher reads a bucket's current entries, then every change, and
//! passes each on in order; if the connection drops it starts over (at
//! once on reconnection, or when it falls behind the bucket without
//! progress: see [`super::stall`]), which replays the current entries
//! (applying an entry twice is harmless).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_nats::jetstream::kv::{Operation, Store as Bucket};
use bytes::Bytes;
use futures::StreamExt;
use tokio::sync::mpsc;

use super::retry::Retry;
use super::{Cluster, Unavailable, stall};

/// Revoked tokens: hex(token id) → when the token expires (Unix s, as text).
pub const REVOKED: &str = "edgefn_revoked";
/// Channel groups: group name (encoded) → its channels (JSON list).
pub const GROUPS: &str = "edgefn_groups";

/// One change seen by a watcher: a key and its new value (`None`: deleted).
pub type Change = (String, Option<Bytes>);

/// Follows bucket `name` for as long as the node runs: every current
/// entry, then every change, arrive on the returned channel in order.
pub fn watch(cluster: Arc<Cluster>, name: &'static str) -> mpsc::Receiver<Change> {
    let (changes, received) = mpsc::channel(1024);
    tokio::spawn(async move {
        let mut reconnects = cluster.reconnected();
        // The bucket's stream sequence of the last change passed on.
        let seen = AtomicU64::new(0);
        let mut retry = Retry::default();
        loop {
            let before = seen.load(Ordering::Relaxed);
            let ended = tokio::select! {
                ended = follow(&cluster, name, &changes, &seen) => ended,
                // The server may have lost the watcher: start over at once.
                _ = reconnects.changed() => continue,
                () = stall::stalled(|| seen.load(Ordering::Relaxed), || end(&cluster, name)) => {
                    tracing::warn!(bucket = name, "a cluster bucket's changes stopped arriving; watching it anew");
                    continue;
                }
            };
            match ended {
                Ok(()) if changes.is_closed() => return,
                Ok(()) => {}
                Err(e) => {
                    tracing::warn!(bucket = name, error = %e, "watching a cluster bucket failed; starting over")
                }
            }
            if seen.load(Ordering::Relaxed) != before {
                retry.reset();
            }
            // Back at once when the connection is made again.
            tokio::select! {
                () = retry.pause() => {}
                _ = reconnects.changed() => {}
            }
        }
    });
    received
}

/// The stream sequence of the newest entry of bucket `name`, if it has any.
async fn end(cluster: &Cluster, name: &str) -> Option<u64> {
    let stream = cluster.js.get_stream(format!("KV_{name}")).await.ok()?;
    let state = &stream.cached_info().state;
    (state.messages > 0).then_some(state.last_sequence)
}

async fn follow(
    cluster: &Cluster,
    name: &str,
    changes: &mpsc::Sender<Change>,
    seen: &AtomicU64,
) -> Result<(), Unavailable> {
    let bucket = cluster.kv(name).await?;
    let mut watch = bucket
        .watch_with_history(">")
        .await
        .map_err(Unavailable::from)?;
    while let Some(entry) = watch.next().await {
        let entry = entry.map_err(Unavailable::from)?;
        seen.fetch_max(entry.revision, Ordering::Relaxed);
        let value = (entry.operation == Operation::Put).then_some(entry.value);
        if changes
            .send((super::kv::decode(&entry.key), value))
            .await
            .is_err()
        {
            return Ok(());
        }
    }
    Ok(())
}

/// Writes `value` under `key` (encoded) in bucket `bucket`.
///
/// # Errors
/// [`Unavailable`] when the cluster cannot take it.
pub async fn put(
    cluster: &Cluster,
    bucket: &str,
    key: &str,
    value: Bytes,
) -> Result<(), Unavailable> {
    cluster.ensure_connected()?;
    let bucket: Bucket = cluster.kv(bucket).await?;
    bucket
        .put(super::kv::encode(key), value)
        .await
        .map_err(Unavailable::from)?;
    Ok(())
}

/// Deletes `key` (encoded) from bucket `bucket`.
///
/// # Errors
/// [`Unavailable`] when the cluster cannot take it.
pub async fn delete(cluster: &Cluster, bucket: &str, key: &str) -> Result<(), Unavailable> {
    cluster.ensure_connected()?;
    let bucket: Bucket = cluster.kv(bucket).await?;
    bucket
        .delete(super::kv::encode(key))
        .await
        .map_err(Unavailable::from)
}
