//! Deployed functions: deploying, removing, and finding the ones a message or
//! a request triggers.
//!
//! # Layout
//! - [`spec`]: what a deployment says, and its validation;
//! - [`registry`]: the current set of functions, swapped atomically;
//! - [`after`]: the after-publish and after-presence queue, fair across
//!   functions ([`lanes`]);
//! - [`interval`]: interval schedules;
//! - [`records`]: the storage contracts: where deployments are kept (the
//!   node's store or the cluster), and the cluster's after-publish queues;
//! - [`secrets`]: function secrets, sealed at rest.

pub mod after;
pub mod interval;
pub mod lanes;
pub mod records;
pub mod registry;
pub mod secrets;
pub mod spec;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use arc_swap::ArcSwap;
use parking_lot::Mutex;
use sha2::{Digest, Sha256};

use self::after::AfterPublish;
use self::records::{Backlog, Records, SharedQueues, StorageError};
pub use self::registry::{Function, Registry};
use self::secrets::{SecretBox, Unsealable};
pub use self::spec::{Deployment, FunctionSpec, OnError, Source, SpecError};
use crate::bus::Published;
use crate::clock::unix_ms;
use crate::metrics::Metrics;
use crate::presence::PresenceEvent;
use crate::wasm::caps::log::FunctionLogs;
use crate::wasm::component::exports;
use crate::wasm::javascript::{JavaScriptError, is_javascript};
use crate::wasm::{Budgets, ComponentError, LoadedComponent, PreparedFunction, Sandbox};

const MIB: u64 = 1024 * 1024;

/// Why a deployment was refused. Nothing changed.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    /// The spec is invalid.
    #[error(transparent)]
    Spec(#[from] SpecError),
    /// The component cannot run here or lacks an export.
    #[error(transparent)]
    Component(#[from] ComponentError),
    /// The JavaScript module cannot be loaded.
    #[error(transparent)]
    JavaScript(#[from] JavaScriptError),
    /// Storage (the node's store or the cluster) failed; the previous
    /// deployment is still in place.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// A stored deployment's secrets do not decrypt.
    #[error(transparent)]
    Secrets(#[from] Unsealable),
}

/// What a deployment runs, as uploaded.
pub enum Code {
    /// A WebAssembly component.
    Component(Vec<u8>),
    /// A JavaScript module (an ES module whose default export is the
    /// handler), run by the built-in JavaScript runner.
    JavaScript(Vec<u8>),
}

impl Code {
    /// The contents of a file called `file_name`: JavaScript when its name
    /// ends in `.js` or `.mjs`, a component otherwise.
    pub fn from_file(file_name: &str, bytes: Vec<u8>) -> Self {
        if is_javascript(file_name) {
            Code::JavaScript(bytes)
        } else {
            Code::Component(bytes)
        }
    }
}

/// The node's deployed functions.
pub struct Functions {
    registry: Arc<ArcSwap<Registry>>,
    sandbox: Arc<Sandbox>,
    records: Arc<dyn Records>,
    secrets: SecretBox,
    after: Arc<AfterPublish>,
    /// In a cluster: where after-publish copies come from (alone, they are
    /// queued by the node's own publishes).
    cluster_after: Option<Arc<dyn SharedQueues>>,
    /// Logs by function name; kept across redeploys, dropped with the
    /// function (so one entry per deployed function, not per name ever
    /// deployed).
    logs: Mutex<HashMap<String, Arc<FunctionLogs>>>,
    /// Serialises deploys and removals.
    changes: tokio::sync::Mutex<()>,
    generations: AtomicU64,
}

impl Functions {
    /// Loads every stored deployment (from the compiled cache when possible)
    /// and starts the after-publish queue and interval schedules. A stored
    /// deployment that no longer loads is logged and skipped. In a cluster
    /// (`cluster_after`), after-publish copies are taken from the cluster's
    /// work queues.
    ///
    /// # Errors
    /// When the store cannot be read.
    pub async fn start(
        sandbox: Arc<Sandbox>,
        records: Arc<dyn Records>,
        secrets: SecretBox,
        metrics: Arc<Metrics>,
        cluster_after: Option<Arc<dyn SharedQueues>>,
    ) -> Result<Self, DeployError> {
        let deployments = Arc::clone(&records).initial().await?;
        let functions = Self {
            registry: Arc::default(),
            after: Arc::new(AfterPublish::start(Arc::clone(&sandbox), metrics)),
            cluster_after,
            sandbox,
            records,
            secrets,
            logs: Mutex::default(),
            changes: tokio::sync::Mutex::new(()),
            generations: AtomicU64::new(1),
        };
        for deployment in deployments {
            let name = deployment.spec.name.clone();
            match functions.restore(deployment).await {
                Ok(()) => tracing::info!(function = name, "function loaded"),
                Err(e) => {
                    tracing::error!(function = name, error = %e, "stored function cannot be loaded; skipped")
                }
            }
        }
        // At start-up only artifacts of another engine configuration go:
        // those of components used before the restart are likely to be
        // deployed again (a rollback), and the next change removes them.
        functions.sandbox.remove_unused_artifacts(None).await;
        Ok(functions)
    }

    async fn restore(&self, deployment: Deployment) -> Result<(), DeployError> {
        let (component, secrets) = self.load_stored(&deployment).await?;
        self.install(deployment, component, secrets);
        Ok(())
    }

    /// Fetches and compiles the component of stored `deployment` and opens
    /// its secrets: everything installing it needs, done without the
    /// deploy lock.
    async fn load_stored(
        &self,
        deployment: &Deployment,
    ) -> Result<(LoadedComponent, BTreeMap<String, String>), DeployError> {
        let records = Arc::clone(&self.records);
        let bytes = records.component(deployment.component.clone()).await?;
        let component = self.sandbox.load(&deployment.component, bytes).await?;
        let secrets = self.secrets.unseal_all(&deployment.sealed_secrets)?;
        Ok((component, secrets))
    }

    /// The current functions. Hold on to the snapshot for the whole of one
    /// publish or request so it sees one consistent set.
    pub fn snapshot(&self) -> Arc<Registry> {
        self.registry.load_full()
    }

    /// Validates, compiles and links `code` (JavaScript is turned into a
    /// component first), stores it durably with its spec, then makes it
    /// live, replacing any function of the same name in one step. Returns
    /// the new deployment (or the current one, unchanged, when it already
    /// has this spec, code and secrets).
    ///
    /// # Errors
    /// [`DeployError`]; the previous deployment (if any) stays in place.
    pub async fn deploy(
        &self,
        mut spec: FunctionSpec,
        code: Code,
    ) -> Result<Deployment, DeployError> {
        spec.validate(self.sandbox.config().max_memory_mb)?;
        let secrets = std::mem::take(&mut spec.secrets);
        let (component, source) = match code {
            Code::Component(bytes) => (bytes, None),
            Code::JavaScript(text) => {
                let source = Source {
                    language: "javascript".into(),
                    sha256: hex::encode(Sha256::digest(&text)),
                };
                let current = self
                    .snapshot()
                    .get(&spec.name)
                    .map(|f| f.deployment.clone());
                if let Some(current) = current.filter(|c| {
                    c.source.as_ref() == Some(&source) && self.same_settings(c, &spec, &secrets)
                }) {
                    return Ok(current);
                }
                (
                    self.sandbox.specialise_javascript(&text).await?,
                    Some(source),
                )
            }
        };
        let hash = hex::encode(Sha256::digest(&component));
        let bytes: Arc<[u8]> = component.into();
        let loaded = self.sandbox.load(&hash, Arc::clone(&bytes)).await?;
        check_exports(&spec, &loaded)?;

        let _change = self.changes.lock().await;
        let current = self
            .snapshot()
            .get(&spec.name)
            .map(|f| f.deployment.clone());
        let unchanged =
            |c: &Deployment| c.component == hash && self.same_settings(c, &spec, &secrets);
        if let Some(current) = current.as_ref().filter(|c| unchanged(c)) {
            return Ok(current.clone());
        }
        let version = current.map_or(1, |c| c.version + 1);
        let deployment = Deployment {
            spec,
            component: hash,
            sealed_secrets: self.secrets.seal_all(&secrets),
            source,
            version,
            deployed_at_ms: unix_ms(),
        };
        self.bind_after_publish(&deployment.spec).await?;
        Arc::clone(&self.records)
            .put(deployment.clone(), bytes)
            .await?;
        self.install(deployment.clone(), loaded, secrets);
        self.remove_unused_artifacts().await;
        Ok(deployment)
    }

    /// Removes the compiled artifacts no deployed function uses and none
    /// has used for an hour (`wasm::component::UNUSED_ARTIFACT_GRACE`: a
    /// function removed and deployed again, or switched between two
    /// builds, does not compile each time).
    async fn remove_unused_artifacts(&self) {
        let in_use = self
            .snapshot()
            .iter()
            .map(|f| f.deployment.component.clone())
            .collect();
        self.sandbox.remove_unused_artifacts(Some(in_use)).await;
    }

    /// Whether `current` was deployed with `spec` and `secrets`.
    fn same_settings(
        &self,
        current: &Deployment,
        spec: &FunctionSpec,
        secrets: &BTreeMap<String, String>,
    ) -> bool {
        current.spec == *spec
            && self
                .secrets
                .unseal_all(&current.sealed_secrets)
                .is_ok_and(|s| s == *secrets)
    }

    /// In a cluster, makes or updates the after-publish queue of the
    /// function `spec` describes (before its record is written, so every
    /// node that runs it finds it), or deletes it when it has no
    /// after-publish bindings any more.
    async fn bind_after_publish(&self, spec: &FunctionSpec) -> Result<(), DeployError> {
        let Some(queues) = self.cluster_after.clone() else {
            return Ok(());
        };
        if !spec.has_after_publish() {
            queues.unbind(spec.name.clone()).await?;
        } else {
            let timeout = spec.timeout(self.sandbox.config().default_timeout());
            queues.bind(spec.clone(), timeout).await?;
        }
        Ok(())
    }

    /// Removes the function called `name`. Returns whether it existed.
    ///
    /// # Errors
    /// When the store fails; the function stays deployed then.
    pub async fn remove(&self, name: &str) -> Result<bool, DeployError> {
        let _change = self.changes.lock().await;
        if self.snapshot().get(name).is_none() {
            return Ok(false);
        }
        Arc::clone(&self.records).remove(name.to_owned()).await?;
        self.uninstall(name);
        self.remove_unused_artifacts().await;
        if let Some(queues) = self.cluster_after.clone()
            && let Err(e) = queues.unbind(name.to_owned()).await
        {
            tracing::warn!(function = name, error = %e, "the function's after-publish queue could not be deleted");
        }
        Ok(true)
    }

    /// Applies a deployment change made on another node of the cluster
    /// (`None`: removed): installs, replaces or removes the function here.
    /// A record this node already runs is left alone. The component is
    /// fetched and compiled without the deploy lock (a slow fetch holds up
    /// no local deploy or removal); if the function changed here meanwhile,
    /// the record is installed only when it is newer than what runs now.
    pub async fn apply_remote(&self, name: String, record: Option<Deployment>) {
        let Some(record) = record else {
            let _change = self.changes.lock().await;
            if self.snapshot().get(&name).is_some() {
                self.uninstall(&name);
                self.remove_unused_artifacts().await;
                tracing::info!(function = name, "function removed (by another node)");
            }
            return;
        };
        let running = || self.snapshot().get(&name).cloned();
        let before = running();
        if before
            .as_ref()
            .is_some_and(|f| f.deployment.same_record(&record))
        {
            return;
        }
        let before = before.map(|f| f.generation);
        let (component, secrets) = match self.load_stored(&record).await {
            Ok(loaded) => loaded,
            Err(e) => {
                tracing::error!(function = name, error = %e, "deployment from the cluster cannot be loaded");
                return;
            }
        };
        let _change = self.changes.lock().await;
        let now = running();
        let changed = now.as_ref().map(|f| f.generation) != before;
        if changed && !now.is_some_and(|f| record.newer_than(&f.deployment)) {
            tracing::info!(
                function = name,
                version = record.version,
                "deployment from the cluster skipped: the function changed here meanwhile"
            );
            return;
        }
        let version = record.version;
        self.install(record, component, secrets);
        tracing::info!(
            function = name,
            version,
            "function deployed (by another node)"
        );
        self.remove_unused_artifacts().await;
    }

    /// Queues after-publish copies of `published` for the functions bound to
    /// its channel in `registry` (alone: in a cluster, copies come from the
    /// cluster's work queues, on whichever node takes them).
    pub fn after_publish(&self, registry: &Registry, published: &Arc<Published>) {
        if self.cluster_after.is_some() {
            return;
        }
        let message = &published.message;
        for function in registry.after_publish(&message.channel, message.kind) {
            self.after.enqueue(function, published);
        }
    }

    /// Queues presence change `event` for the after-presence functions of
    /// `registry` bound to its channel. In a cluster too: the node that
    /// produced the event (and publishes it on `-pnpres`) is the only one
    /// that has it, so each runs once cluster-wide.
    pub fn after_presence(&self, registry: &Registry, event: &Arc<PresenceEvent>) {
        for function in registry.after_presence(&event.channel) {
            self.after.enqueue_presence(function, event);
        }
    }

    /// Lets queued after-publish copies and after-presence events run, for
    /// at most `grace`; returns how many were left.
    pub async fn drain(&self, grace: Duration) -> usize {
        self.after.drain(grace).await
    }

    /// The log of the function called `name`, if it is deployed here (a
    /// removed function's log goes with it; one deployed again starts a
    /// new one).
    pub fn logs(&self, name: &str) -> Option<Arc<FunctionLogs>> {
        self.logs.lock().get(name).cloned()
    }

    /// What function `name`'s after-publish queue holds cluster-wide (in a
    /// cluster, for a function with after-publish bindings).
    pub async fn after_publish_backlog(&self, name: &str) -> Option<Backlog> {
        Arc::clone(self.cluster_after.as_ref()?)
            .backlog(name.to_owned())
            .await
    }

    /// The sandbox functions run in.
    pub fn sandbox(&self) -> &Arc<Sandbox> {
        &self.sandbox
    }

    fn install(
        &self,
        deployment: Deployment,
        component: LoadedComponent,
        secrets: BTreeMap<String, String>,
    ) {
        let spec = &deployment.spec;
        let config = self.sandbox.config();
        let logs = Arc::clone(
            self.logs
                .lock()
                .entry(spec.name.clone())
                .or_insert_with(|| {
                    let lines = self.sandbox.config().log_lines_per_function;
                    Arc::new(FunctionLogs::new(spec.name.as_str().into(), lines))
                }),
        );
        let memory_mb = spec.memory_mb.unwrap_or(config.default_memory_mb);
        // No function may take more than half of the node's instance pool,
        // so a flood of slow calls to one leaves room for the others.
        let max_concurrency = spec
            .max_concurrency
            .unwrap_or(config.max_concurrency_per_function)
            .min(config.max_instances / 2)
            .max(1);
        let prepared = PreparedFunction {
            name: spec.name.as_str().into(),
            component,
            env: spec
                .config
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            memory_bytes: (memory_mb * MIB) as usize,
            outbound: spec.allow_outbound.clone().into(),
            logs,
            secrets: Arc::new(secrets),
            may_grant: spec.allow_token_grant,
            max_concurrency,
            slots: Arc::new(tokio::sync::Semaphore::new(max_concurrency as usize)),
            budgets: Budgets {
                http: spec.http_requests.unwrap_or(config.outbound.max_requests),
                kv: spec.kv_calls.unwrap_or(config.kv_calls),
                bus: spec.bus_calls.unwrap_or(config.bus_calls),
            },
        };
        let generation = self.generations.fetch_add(1, Ordering::Relaxed);
        let every = spec.every;
        let name = spec.name.clone();
        let timeout = spec.timeout(config.default_timeout());
        let function = Arc::new(Function {
            deployment,
            prepared: Arc::new(prepared),
            generation,
        });
        self.registry
            .rcu(|registry| registry.with(Arc::clone(&function)));
        if let Some(queues) = &self.cluster_after
            && function.deployment.spec.has_after_publish()
        {
            let (registry, name) = (Arc::clone(&self.registry), name.clone());
            let live = Box::new(move || registry.load().get(&name).cloned());
            Arc::clone(queues).serve(function, timeout, Arc::clone(&self.after), live);
        }
        if let Some(every) = every {
            interval::spawn(
                Arc::clone(&self.registry),
                Arc::clone(&self.sandbox),
                name,
                generation,
                every,
                Arc::clone(&self.records),
            );
        }
    }

    /// Takes the function called `name` out of the registry, with its log.
    /// Calls already running finish, logging to the log they hold.
    fn uninstall(&self, name: &str) {
        self.registry.rcu(|registry| registry.without(name));
        self.logs.lock().remove(name);
    }
}

fn check_exports(spec: &FunctionSpec, component: &LoadedComponent) -> Result<(), ComponentError> {
    let missing = |export, trigger| Err(ComponentError::MissingExport { export, trigger });
    if !spec.before_publish.is_empty() && component.before_publish.is_none() {
        return missing(exports::BEFORE_PUBLISH, "--before-publish");
    }
    if !spec.before_publish_file.is_empty() && component.before_publish.is_none() {
        return missing(exports::BEFORE_PUBLISH, "before_publish_file");
    }
    if spec.has_after_publish() && component.after_publish.is_none() {
        return missing(exports::AFTER_PUBLISH, "--after-publish");
    }
    if !spec.after_presence.is_empty() && component.after_presence.is_none() {
        return missing(exports::AFTER_PRESENCE, "--after-presence");
    }
    if spec.every.is_some() && component.interval.is_none() {
        return missing(exports::INTERVAL, "--every");
    }
    if spec.endpoint && component.http.is_none() {
        return missing(exports::HTTP, "--endpoint");
    }
    Ok(())
}
