//! Cluster mode: several nodes joined through one NATS server or cluster
//! (`edgefn serve --nats nats://HOST:PORT`). Without it nothing here runs
//! and the node keeps its embedded single-node path.
//!
//! What is shared, and where it lives in JetStream:
//! - messages: the stream `EDGEFN_MESSAGES`, one subject per channel, is the
//!   cluster's log: it orders every channel once for all nodes, holds the
//!   history, and every node applies it to its local copy and subscribers,
//!   giving each message the same timetoken ([`log`]); fires go through it
//!   too, on subjects of their own, for the after-publish work queues;
//! - deployments: the KV bucket `edgefn_deployments` and the object store
//!   `edgefn_components`, watched by every node ([`deployments`]);
//! - the functions' KV store (`edgefn_kv`), revocations
//!   (`edgefn_revoked`) and channel groups (`edgefn_groups`) ([`kv`],
//!   [`revocations`], [`shared`]);
//! - after-publish copies: one durable consumer per function on the log,
//!   shared by every node as a work queue, so each copy runs on one node
//!   and a dead node's copies go to another ([`after_publish`]);
//! - interval runs are claimed once per period in `edgefn_runs`
//!   ([`deployments`]);
//! - presence: one entry per member of a channel in `edgefn_presence`,
//!   mirrored on every node ([`presence`]);
//! - message actions: one entry per channel in `edgefn_actions`
//!   ([`actions`]);
//! - App Context objects: one entry per object in `edgefn_objects`
//!   ([`objects`]);
//! - shared files: one object per file in the object store `edgefn_files`
//!   ([`files`]);
//! - the node list for `edgefn cluster status` (`edgefn_nodes`) ([`nodes`]).

pub mod actions;
pub mod after_publish;
pub mod deployments;
pub mod files;
pub mod kv;
pub mod log;
pub mod nodes;
pub mod objects;
pub mod presence;
pub mod retry;
pub mod revocations;
pub mod shared;
pub mod stall;
pub mod subject;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::Context;
use async_nats::connection::State;
use async_nats::jetstream::{self, kv as nats_kv, object_store, stream};

use self::retry::Retry;
use crate::bus::sequencer::Progress;
use crate::config::NatsConfig;

/// How long a JetStream request may take before it counts as failed (and
/// the publish or call answers 503).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(3);

/// The node's connection to the cluster and the JetStream names it uses.
pub struct Cluster {
    /// The NATS connection (reconnects by itself).
    pub client: async_nats::Client,
    /// JetStream on it.
    pub js: jetstream::Context,
    /// This node's id in the cluster.
    pub node_id: String,
    /// Replicas for streams and buckets.
    replicas: usize,
    /// The cluster log's stream, as this node's configuration asks.
    log_stream: stream::Config,
    /// Counts reconnections to NATS: consumers and watchers start over on
    /// each (the server may have lost them), rather than waiting for a
    /// missed heartbeat.
    reconnects: Arc<tokio::sync::watch::Sender<u64>>,
    /// What this node's sequencer applied of the log (once it follows it):
    /// the timetokens log entries got here.
    progress: OnceLock<Arc<Progress>>,
    /// Until when starting up may wait for JetStream (see [`Cluster::opening`]).
    ready_by: tokio::time::Instant,
}

/// Why a cluster call failed: NATS unreachable, or JetStream refused.
#[derive(Debug, Clone, thiserror::Error)]
#[error("the cluster is unavailable: {0}")]
pub struct Unavailable(pub String);

impl Unavailable {
    /// Wraps any error.
    pub fn from(e: impl std::fmt::Display) -> Self {
        Self(e.to_string())
    }
}

impl Cluster {
    /// Connects to NATS (retrying for up to `connect_timeout`), and creates
    /// the streams and buckets the cluster uses if they do not exist.
    ///
    /// # Errors
    /// When NATS cannot be reached in time or JetStream is not enabled.
    pub async fn connect(config: &NatsConfig, node_id: String) -> anyhow::Result<Self> {
        let servers = config.servers()?;
        let name = node_id.clone();
        let reconnects = Arc::new(tokio::sync::watch::Sender::new(0u64));
        let counter = Arc::clone(&reconnects);
        // The client ignores credentials in server URLs: they are given
        // here.
        let options = match config.credentials()? {
            Some((user, password)) => {
                async_nats::ConnectOptions::with_user_and_password(user, password)
            }
            None => async_nats::ConnectOptions::new(),
        };
        let client = options
            .name(format!("edgefn {name}"))
            .retry_on_initial_connect()
            .retain_servers_order()
            .max_reconnects(None)
            .connection_timeout(Duration::from_secs(2))
            .event_callback(move |event| {
                let (name, counter) = (name.clone(), Arc::clone(&counter));
                async move {
                    match event {
                        async_nats::Event::Disconnected => {
                            tracing::warn!(node = name, "lost the connection to NATS; reconnecting")
                        }
                        async_nats::Event::Connected => {
                            tracing::info!(node = name, "connected to NATS");
                            counter.send_modify(|n| *n += 1);
                        }
                        other => tracing::info!(node = name, event = %other, "NATS"),
                    }
                }
            })
            .connect(servers)
            .await
            .with_context(|| format!("cannot connect to NATS at {}", config.url))?;
        let js = jetstream::ContextBuilder::new()
            .timeout(REQUEST_TIMEOUT)
            .build(client.clone());
        let cluster = Self {
            client,
            js,
            node_id,
            replicas: config.replicas.max(1),
            log_stream: log::stream_config(config.replicas.max(1), config),
            reconnects,
            progress: OnceLock::new(),
            ready_by: tokio::time::Instant::now()
                + Duration::from_secs(config.connect_timeout_secs),
        };
        cluster
            .opening(|| cluster.create_jetstream_state())
            .await
            .with_context(|| {
                format!(
                    "cannot set up JetStream on {} (is it started with -js?)",
                    config.url
                )
            })?;
        Ok(cluster)
    }

    /// Runs `open` (which makes or opens streams and buckets) until it
    /// succeeds or the startup deadline (`connect_timeout_secs` after the
    /// node began to connect) passes: while a NATS cluster forms or elects
    /// its JetStream leaders, such requests time out for a few seconds.
    ///
    /// # Errors
    /// `open`'s last error, once the deadline has passed.
    pub async fn opening<T, E, F>(&self, mut open: impl FnMut() -> F) -> Result<T, E>
    where
        F: Future<Output = Result<T, E>>,
        E: std::fmt::Display,
    {
        let mut retry = Retry::default();
        loop {
            match open().await {
                Ok(opened) => return Ok(opened),
                Err(e) if tokio::time::Instant::now() < self.ready_by => {
                    tracing::warn!(error = %e, "NATS not ready yet; retrying");
                    retry.pause().await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Changes each time the connection to NATS is made again.
    pub fn reconnected(&self) -> tokio::sync::watch::Receiver<u64> {
        self.reconnects.subscribe()
    }

    /// What this node has applied of the cluster log, once it follows it.
    pub fn progress(&self) -> Option<&Arc<Progress>> {
        self.progress.get()
    }

    /// Notes what this node's sequencer applies of the log (the first call
    /// counts).
    pub(crate) fn set_progress(&self, progress: Arc<Progress>) {
        let _ = self.progress.set(progress);
    }

    /// Whether the connection to NATS is up.
    pub fn connected(&self) -> bool {
        self.client.connection_state() == State::Connected
    }

    /// Refuses at once when NATS is down, rather than letting a call hang.
    ///
    /// # Errors
    /// [`Unavailable`] while disconnected.
    pub fn ensure_connected(&self) -> Result<(), Unavailable> {
        if self.connected() {
            Ok(())
        } else {
            Err(Unavailable(
                "NATS is unreachable; retry when the node reports healthy".into(),
            ))
        }
    }

    async fn create_jetstream_state(&self) -> anyhow::Result<()> {
        let wanted = &self.log_stream;
        let stream = self.js.get_or_create_stream(wanted.clone()).await?;
        // Made by an older version (without the subjects of fires, or
        // bounded per channel), or with other limits configured.
        let mut config = stream.cached_info().config.clone();
        let missing: Vec<String> = (wanted.subjects.iter())
            .filter(|s| !config.subjects.contains(s))
            .cloned()
            .collect();
        let limits = |c: &stream::Config| {
            (
                c.max_messages_per_subject,
                c.max_age,
                c.max_bytes,
                c.discard,
            )
        };
        if !missing.is_empty() || limits(&config) != limits(wanted) {
            config.subjects.extend(missing);
            config.max_messages_per_subject = wanted.max_messages_per_subject;
            config.max_age = wanted.max_age;
            config.max_bytes = wanted.max_bytes;
            config.discard = wanted.discard;
            self.js.update_stream(config).await?;
        }
        for bucket in [
            kv::BUCKET,
            deployments::BUCKET,
            shared::REVOKED,
            shared::GROUPS,
            actions::BUCKET,
            objects::BUCKET,
        ] {
            self.bucket(bucket, Duration::ZERO).await?;
        }
        self.bucket(deployments::RUNS, deployments::RUNS_MAX_AGE)
            .await?;
        self.bucket(nodes::BUCKET, nodes::MAX_AGE).await?;
        self.bucket(presence::BUCKET, presence::MAX_AGE).await?;
        if self
            .js
            .get_object_store(deployments::COMPONENTS)
            .await
            .is_err()
        {
            let components = object_store::Config {
                bucket: deployments::COMPONENTS.into(),
                num_replicas: self.replicas,
                ..Default::default()
            };
            self.js.create_object_store(components).await?;
        }
        Ok(())
    }

    /// The KV bucket `name`, created with `max_age` (zero: keep forever)
    /// when missing.
    async fn bucket(&self, name: &str, max_age: Duration) -> anyhow::Result<nats_kv::Store> {
        if let Ok(store) = self.js.get_key_value(name).await {
            return Ok(store);
        }
        let config = nats_kv::Config {
            bucket: name.into(),
            history: 1,
            max_age,
            storage: stream::StorageType::File,
            num_replicas: self.replicas,
            ..Default::default()
        };
        Ok(self.js.create_key_value(config).await?)
    }

    /// The KV bucket `name` (created at connect).
    ///
    /// # Errors
    /// [`Unavailable`] when JetStream cannot be reached.
    pub async fn kv(&self, name: &str) -> Result<nats_kv::Store, Unavailable> {
        self.js.get_key_value(name).await.map_err(Unavailable::from)
    }
}
