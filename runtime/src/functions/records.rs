//! What deployed functions need from storage, as contracts the storage
//! adapters implement: where deployment records and components are kept
//! ([`Records`]: the node's store, or JetStream in a cluster, where every
//! node watches them and installs what changes), and where after-publish
//! copies come from in a cluster ([`SharedQueues`]: JetStream work queues;
//! alone, the node queues its own publishes' copies).

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use serde::Serialize;

use super::after::AfterPublish;
use super::registry::Function;
use super::spec::{Deployment, FunctionSpec};

/// Why storage did not do what was asked; nothing changed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StorageError {
    /// The node's own store failed.
    #[error("{0}")]
    Store(String),
    /// The cluster could not be reached or did not answer.
    #[error("{0}")]
    Unavailable(String),
}

/// Deployment records and the components they run.
pub trait Records: Send + Sync + 'static {
    /// The records to load as the node starts (in a cluster none: the
    /// watch of the records brings them).
    fn initial(self: Arc<Self>) -> BoxFuture<'static, Result<Vec<Deployment>, StorageError>>;

    /// Stores `deployment` and its component durably, the component first,
    /// so no node finds a record without its component.
    fn put(
        self: Arc<Self>,
        deployment: Deployment,
        component: Arc<[u8]>,
    ) -> BoxFuture<'static, Result<(), StorageError>>;

    /// Removes the record of function `name`.
    fn remove(self: Arc<Self>, name: String) -> BoxFuture<'static, Result<(), StorageError>>;

    /// The bytes of the component with content hash `hash`.
    fn component(
        self: Arc<Self>,
        hash: String,
    ) -> BoxFuture<'static, Result<Arc<[u8]>, StorageError>>;

    /// Whether other nodes run the same interval functions: then every node
    /// ticks on the wall clock's multiples of `every` and runs a period only
    /// when it wins [`Records::claim_run`].
    fn shared(&self) -> bool;

    /// Claims period `period` of version `version` of interval function
    /// `name` for this node: true for the one node that claims it first
    /// (alone, always). False when the claim cannot be made (nobody runs it
    /// then).
    fn claim_run(
        self: Arc<Self>,
        name: String,
        version: u64,
        period: u64,
    ) -> BoxFuture<'static, bool>;
}

/// What one function's after-publish queue holds, cluster-wide.
#[derive(Debug, Clone, Serialize)]
pub struct Backlog {
    /// Copies no node has taken yet.
    pub waiting: u64,
    /// Copies taken and not yet acknowledged.
    pub running: usize,
    /// Copies given to a node again (their first node did not acknowledge
    /// them in time).
    pub redelivered: usize,
}

/// Tells which deployment of a function is live here now (`None`: none).
pub type Live = Box<dyn Fn() -> Option<Arc<Function>> + Send + Sync>;

/// After-publish work queues shared by the nodes of a cluster: one per
/// function with after-publish bindings, fed by the cluster's log with
/// every publish and fire on its channels, each copy run by one node.
pub trait SharedQueues: Send + Sync + 'static {
    /// Makes the queue of the function `spec` describes (taking what is
    /// published from now on), or updates its channels and timing; called
    /// before its record is written, so every node that runs it finds it.
    fn bind(
        self: Arc<Self>,
        spec: FunctionSpec,
        timeout: Duration,
    ) -> BoxFuture<'static, Result<(), StorageError>>;

    /// Deletes the queue of function `name`, if it has one.
    fn unbind(self: Arc<Self>, name: String) -> BoxFuture<'static, Result<(), StorageError>>;

    /// What the queue of function `name` holds (`None`: it has none, or the
    /// cluster cannot say).
    fn backlog(self: Arc<Self>, name: String) -> BoxFuture<'static, Option<Backlog>>;

    /// Takes `function`'s copies from its queue and runs them through
    /// `after` for as long as `live()` is this deployment.
    fn serve(
        self: Arc<Self>,
        function: Arc<Function>,
        timeout: Duration,
        after: Arc<AfterPublish>,
        live: Live,
    );
}
