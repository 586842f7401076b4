//! Deployments in a cluster: records in the KV bucket `edgefn_deployments`
//! (name → deployment JSON), components in the object store
//! `edgefn_components` (content hash → Wasm bytes). A deploy or removal on
//! any node is written here; every node watches the bucket (see
//! [`super::shared::watch`]) and installs or removes functions as records
//! change, so a node that starts later or reconnects catches up. These
//! are the cluster's [`Records`].

use std::sync::Arc;

use async_nats::jetstream::object_store;
use futures::future::BoxFuture;
use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;

use super::{Cluster, Unavailable, shared};
use crate::functions::Deployment;
use crate::functions::records::{Records, StorageError};

impl From<Unavailable> for StorageError {
    fn from(e: Unavailable) -> Self {
        Self::Unavailable(e.to_string())
    }
}

/// Deployment records.
pub const BUCKET: &str = "edgefn_deployments";
/// Components by content hash.
pub const COMPONENTS: &str = "edgefn_components";
/// Interval runs claimed: `{function}.{version}.{period}` → the node that
/// ran it; entries expire after a day.
pub const RUNS: &str = "edgefn_runs";
/// How long a claimed run is remembered.
pub const RUNS_MAX_AGE: std::time::Duration = std::time::Duration::from_secs(24 * 3600);
/// Where older versions kept the shared secrets key in [`BUCKET`] (not a
/// function name: those start with a letter or digit).
const OLD_SECRETS_KEY: &str = "_secrets_key";

/// The cluster's deployment records and components.
pub struct NatsDeployments {
    cluster: Arc<Cluster>,
}

impl NatsDeployments {
    /// Deployments over `cluster`.
    pub fn new(cluster: Arc<Cluster>) -> Self {
        Self { cluster }
    }

    /// Stores the component (unless stored already), then the record.
    ///
    /// # Errors
    /// [`Unavailable`] when the cluster cannot take them; the record is
    /// written last, so no node sees a deployment without its component.
    pub async fn put(&self, deployment: &Deployment, component: &[u8]) -> Result<(), Unavailable> {
        let components = self.components().await?;
        if components.info(&deployment.component).await.is_err() {
            let mut bytes = component;
            components
                .put(deployment.component.as_str(), &mut bytes)
                .await
                .map_err(Unavailable::from)?;
        }
        let record = serde_json::to_vec(deployment).expect("a deployment serializes");
        shared::put(&self.cluster, BUCKET, &deployment.spec.name, record.into()).await
    }

    /// The object store of components (refused at once while NATS is down).
    async fn components(&self) -> Result<object_store::ObjectStore, Unavailable> {
        self.cluster.ensure_connected()?;
        self.cluster
            .js
            .get_object_store(COMPONENTS)
            .await
            .map_err(Unavailable::from)
    }

    /// Removes the record of `name`.
    ///
    /// # Errors
    /// [`Unavailable`] when the cluster cannot take it.
    pub async fn remove(&self, name: &str) -> Result<(), Unavailable> {
        shared::delete(&self.cluster, BUCKET, name).await
    }

    /// The bytes of the component with content hash `hash`.
    ///
    /// # Errors
    /// [`Unavailable`] when the cluster cannot answer or does not have it.
    pub async fn component(&self, hash: &str) -> Result<Vec<u8>, Unavailable> {
        let components = self.components().await?;
        let mut object = components.get(hash).await.map_err(Unavailable::from)?;
        let mut bytes = Vec::new();
        object
            .read_to_end(&mut bytes)
            .await
            .map_err(Unavailable::from)?;
        Ok(bytes)
    }

    /// Warns while the secrets key older versions kept in NATS is still
    /// there (it opens every sealed secret; nodes now read the key from
    /// their configuration, see `NatsConfig::secrets_key_file`).
    pub async fn warn_of_old_secrets_key(&self) {
        let Ok(bucket) = self.cluster.kv(BUCKET).await else {
            return;
        };
        if let Ok(Some(_)) = bucket.get(OLD_SECRETS_KEY).await {
            tracing::warn!(
                "NATS still holds the cluster's secrets key in plain text ({BUCKET}, key \
                 {OLD_SECRETS_KEY}); once every node has it in its secrets_key_file, delete it: \
                 `nats kv del {BUCKET} {OLD_SECRETS_KEY}`"
            );
        }
    }

    /// Claims period `period` (Unix seconds divided by the function's
    /// `every`) of version `version` of interval function `name` for this
    /// node: true for the one node that claims it first, so each period
    /// runs once cluster-wide. False when NATS cannot be reached (nobody
    /// runs it then).
    pub async fn claim_run(&self, name: &str, version: u64, period: u64) -> bool {
        if self.cluster.ensure_connected().is_err() {
            return false;
        }
        let Ok(runs) = self.cluster.kv(RUNS).await else {
            return false;
        };
        let key = super::kv::encode(&format!("{name}.{version}.{period}"));
        runs.create(key, self.cluster.node_id.clone().into_bytes().into())
            .await
            .is_ok()
    }

    /// Follows the records: each current one and each change, in order
    /// (`None`: removed).
    pub fn watch(&self) -> mpsc::Receiver<(String, Option<Deployment>)> {
        let mut changes = shared::watch(Arc::clone(&self.cluster), BUCKET);
        let (records, received) = mpsc::channel(64);
        tokio::spawn(async move {
            while let Some((name, value)) = changes.recv().await {
                if name == OLD_SECRETS_KEY {
                    continue;
                }
                let record = match value.map(|bytes| serde_json::from_slice::<Deployment>(&bytes)) {
                    Some(Err(e)) => {
                        tracing::error!(function = name, error = %e, "unreadable deployment record");
                        continue;
                    }
                    Some(Ok(deployment)) => Some(deployment),
                    None => None,
                };
                if records.send((name, record)).await.is_err() {
                    return;
                }
            }
        });
        received
    }
}

impl Records for NatsDeployments {
    fn initial(self: Arc<Self>) -> BoxFuture<'static, Result<Vec<Deployment>, StorageError>> {
        Box::pin(std::future::ready(Ok(Vec::new())))
    }

    fn put(
        self: Arc<Self>,
        deployment: Deployment,
        component: Arc<[u8]>,
    ) -> BoxFuture<'static, Result<(), StorageError>> {
        Box::pin(async move { Ok(NatsDeployments::put(&self, &deployment, &component).await?) })
    }

    fn remove(self: Arc<Self>, name: String) -> BoxFuture<'static, Result<(), StorageError>> {
        Box::pin(async move { Ok(NatsDeployments::remove(&self, &name).await?) })
    }

    fn component(
        self: Arc<Self>,
        hash: String,
    ) -> BoxFuture<'static, Result<Arc<[u8]>, StorageError>> {
        Box::pin(async move { Ok(NatsDeployments::component(&self, &hash).await?.into()) })
    }

    fn shared(&self) -> bool {
        true
    }

    fn claim_run(
        self: Arc<Self>,
        name: String,
        version: u64,
        period: u64,
    ) -> BoxFuture<'static, bool> {
        Box::pin(async move { NatsDeployments::claim_run(&self, &name, version, period).await })
    }
}
