//! Where deployment records and components are kept: the node's own store,
//! or, in a cluster, JetStream (where every node watches them and
//! installs what changes; see [`crate::cluster::deployments`]).

use std::sync::Arc;

use super::DeployError;
use super::spec::Deployment;
use crate::cluster::deployments::NatsDeployments;
use crate::store::{self, Store};

/// The deployment records.
pub enum Records {
    /// In the node's store.
    Local(Arc<Store>),
    /// In the cluster.
    Cluster(Arc<NatsDeployments>),
}

impl Records {
    /// The cluster's records, in cluster mode.
    pub fn cluster(&self) -> Option<Arc<NatsDeployments>> {
        match self {
            Self::Local(_) => None,
            Self::Cluster(cluster) => Some(Arc::clone(cluster)),
        }
    }

    /// The records to load at startup (in a cluster, none: the watcher
    /// delivers them).
    ///
    /// # Errors
    /// When the store cannot be read.
    pub async fn initial(&self) -> Result<Vec<Deployment>, DeployError> {
        match self {
            Self::Local(store) => {
                let store = Arc::clone(store);
                Ok(store::blocking(move || store.deployments()).await?)
            }
            Self::Cluster(_) => Ok(Vec::new()),
        }
    }

    /// Stores a deployment and its component durably.
    ///
    /// # Errors
    /// When the store or the cluster cannot take it.
    pub async fn put(
        &self,
        deployment: &Deployment,
        component: Arc<[u8]>,
    ) -> Result<(), DeployError> {
        match self {
            Self::Local(store) => {
                let (store, record) = (Arc::clone(store), deployment.clone());
                Ok(store::blocking(move || store.put_deployment(&record, &component)).await?)
            }
            Self::Cluster(cluster) => Ok(cluster.put(deployment, &component).await?),
        }
    }

    /// Removes the record of `name`.
    ///
    /// # Errors
    /// When the store or the cluster cannot take it.
    pub async fn remove(&self, name: &str) -> Result<(), DeployError> {
        match self {
            Self::Local(store) => {
                let (store, name) = (Arc::clone(store), name.to_owned());
                store::blocking(move || store.remove_deployment(&name)).await?;
                Ok(())
            }
            Self::Cluster(cluster) => Ok(cluster.remove(name).await?),
        }
    }

    /// The bytes of the component with content hash `hash`.
    ///
    /// # Errors
    /// When the store or the cluster cannot answer.
    pub async fn component(&self, hash: &str) -> Result<Arc<[u8]>, DeployError> {
        match self {
            Self::Local(store) => {
                let (store, hash) = (Arc::clone(store), hash.to_owned());
                Ok(store::blocking(move || store.component(&hash))
                    .await?
                    .into())
            }
            Self::Cluster(cluster) => Ok(cluster.component(hash).await?.into()),
        }
    }
}
