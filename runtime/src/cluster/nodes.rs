//! The node list behind `edgefn cluster status` and `GET
//! /v1/admin/cluster`: every node writes its status to the KV bucket
//! `edgefn_nodes` every few seconds; entries expire when a node stops
//! writing, so the list holds the nodes that are alive.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{Cluster, Unavailable};

/// The bucket.
pub const BUCKET: &str = "edgefn_nodes";
/// How often a node writes its status.
pub const ANNOUNCE_EVERY: Duration = Duration::from_secs(2);
/// How long a status is kept once its node stops writing.
pub const MAX_AGE: Duration = Duration::from_secs(10);

/// What one node says about itself.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NodeStatus {
    /// Its id in the cluster.
    pub node: String,
    /// The edgefn version it runs.
    pub version: String,
    /// When it started, in milliseconds since the Unix epoch.
    pub started_ms: u64,
    /// Whether it is connected to NATS.
    pub connected: bool,
    /// Its deployed functions and their versions.
    pub functions: BTreeMap<String, u64>,
    /// The last cluster-log entry it applied.
    pub log_applied: u64,
    /// Cluster-log entries it has yet to apply (its delivery lag).
    pub lag: u64,
    /// Its local subscribers.
    pub subscribers: usize,
}

/// Writes `status` as this node's entry.
///
/// # Errors
/// [`Unavailable`] when the cluster cannot take it.
pub async fn announce(cluster: &Cluster, status: &NodeStatus) -> Result<(), Unavailable> {
    cluster.ensure_connected()?;
    let bucket = cluster.kv(BUCKET).await?;
    let value = serde_json::to_vec(status).expect("a node status serializes");
    let key = super::kv::encode(&status.node);
    bucket
        .put(key, value.into())
        .await
        .map_err(Unavailable::from)?;
    Ok(())
}

/// Every live node's status, by id.
///
/// # Errors
/// [`Unavailable`] when the cluster cannot answer.
pub async fn list(cluster: &Cluster) -> Result<Vec<NodeStatus>, Unavailable> {
    cluster.ensure_connected()?;
    let bucket = cluster.kv(BUCKET).await?;
    let keys = super::kv::all_keys(&bucket).await?;
    let mut nodes = Vec::new();
    for key in keys {
        let value = bucket.get(&key).await.map_err(Unavailable::from)?;
        if let Some(status) = value.and_then(|v| serde_json::from_slice(&v).ok()) {
            nodes.push(status);
        }
    }
    nodes.sort_by(|a: &NodeStatus, b| a.node.cmp(&b.node));
    Ok(nodes)
}
