//! Deployed functions and their components; the node's own
//! [`Records`].

use std::sync::Arc;

use futures::future::BoxFuture;
use redb::ReadableTable;

use super::{COMPONENTS, DEPLOYMENTS, Result, Store, StoreError, db_err, off_thread};
use crate::functions::Deployment;
use crate::functions::records::{Records, StorageError};

impl From<StoreError> for StorageError {
    fn from(e: StoreError) -> Self {
        Self::Store(e.to_string())
    }
}

impl Records for Store {
    fn initial(self: Arc<Self>) -> BoxFuture<'static, Result<Vec<Deployment>, StorageError>> {
        off_thread(move || self.deployments())
    }

    fn put(
        self: Arc<Self>,
        deployment: Deployment,
        component: Arc<[u8]>,
    ) -> BoxFuture<'static, Result<(), StorageError>> {
        off_thread(move || self.put_deployment(&deployment, &component))
    }

    fn remove(self: Arc<Self>, name: String) -> BoxFuture<'static, Result<(), StorageError>> {
        off_thread(move || self.remove_deployment(&name).map(drop))
    }

    fn component(
        self: Arc<Self>,
        hash: String,
    ) -> BoxFuture<'static, Result<Arc<[u8]>, StorageError>> {
        off_thread(move || Store::component(&self, &hash).map(Arc::from))
    }

    fn shared(&self) -> bool {
        false
    }

    fn claim_run(self: Arc<Self>, _: String, _: u64, _: u64) -> BoxFuture<'static, bool> {
        Box::pin(std::future::ready(true))
    }
}

impl Store {
    /// Records `deployment` and, when not stored yet, its component bytes,
    /// in one durable transaction. A component no longer used by any
    /// deployment is deleted in the same transaction.
    ///
    /// # Errors
    /// When the transaction cannot be committed; nothing changes then.
    pub fn put_deployment(&self, deployment: &Deployment, component: &[u8]) -> Result<()> {
        let txn = self.write()?;
        {
            let mut deployments = txn.open_table(DEPLOYMENTS).map_err(db_err)?;
            let mut components = txn.open_table(COMPONENTS).map_err(db_err)?;
            let hash = deployment.component.as_str();
            if components.get(hash).map_err(db_err)?.is_none() {
                components.insert(hash, component).map_err(db_err)?;
            }
            let record = serde_json::to_vec(deployment).expect("a deployment always serializes");
            let previous = deployments
                .insert(deployment.spec.name.as_str(), record.as_slice())
                .map_err(db_err)?
                .map(|old| decode(&deployment.spec.name, old.value()))
                .transpose()?;
            if let Some(previous) = previous.filter(|p| p.component != deployment.component) {
                drop_if_unused(&deployments, &mut components, &previous.component)?;
            }
        }
        txn.commit().map_err(db_err)
    }

    /// Removes the deployment called `name` (and its component, when no
    /// other deployment uses it). Returns whether there was one.
    ///
    /// # Errors
    /// When the transaction cannot be committed; nothing changes then.
    pub fn remove_deployment(&self, name: &str) -> Result<bool> {
        let txn = self.write()?;
        let removed = {
            let mut deployments = txn.open_table(DEPLOYMENTS).map_err(db_err)?;
            let mut components = txn.open_table(COMPONENTS).map_err(db_err)?;
            let removed = deployments
                .remove(name)
                .map_err(db_err)?
                .map(|old| decode(name, old.value()))
                .transpose()?;
            if let Some(removed) = &removed {
                drop_if_unused(&deployments, &mut components, &removed.component)?;
            }
            removed.is_some()
        };
        txn.commit().map_err(db_err)?;
        Ok(removed)
    }

    /// Every deployment, by name.
    ///
    /// # Errors
    /// When the database cannot be read or a record is corrupt.
    pub fn deployments(&self) -> Result<Vec<Deployment>> {
        let txn = self.read()?;
        let deployments = txn.open_table(DEPLOYMENTS).map_err(db_err)?;
        let mut found = Vec::new();
        for row in deployments.iter().map_err(db_err)? {
            let (name, record) = row.map_err(db_err)?;
            found.push(decode(name.value(), record.value())?);
        }
        Ok(found)
    }

    /// The bytes of the component with content hash `hash`.
    ///
    /// # Errors
    /// When the database cannot be read or the component is missing.
    pub fn component(&self, hash: &str) -> Result<Vec<u8>> {
        let txn = self.read()?;
        let components = txn.open_table(COMPONENTS).map_err(db_err)?;
        let bytes = components.get(hash).map_err(db_err)?;
        bytes
            .map(|b| b.value().to_vec())
            .ok_or_else(|| StoreError::Corrupt {
                key: format!("component {hash}"),
                reason: "missing".into(),
            })
    }
}

fn drop_if_unused(
    deployments: &redb::Table<&str, &[u8]>,
    components: &mut redb::Table<&str, &[u8]>,
    hash: &str,
) -> Result<()> {
    for row in deployments.iter().map_err(db_err)? {
        let (name, record) = row.map_err(db_err)?;
        if decode(name.value(), record.value())?.component == hash {
            return Ok(());
        }
    }
    components.remove(hash).map_err(db_err)?;
    Ok(())
}

fn decode(name: &str, bytes: &[u8]) -> Result<Deployment> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
        key: format!("deployment {name}"),
        reason: e.to_string(),
    })
}
