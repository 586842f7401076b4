//! After-publish work in a cluster: for each function with after-publish
//! bindings, one durable JetStream consumer on the cluster log
//! (`after_{function}`, filtered to the channels it is bound to, messages
//! and fires), shared by every node as a work queue.
//!
//! Each node takes copies from it only as fast as its lane for the function
//! can start them, runs each, and acknowledges it once it has run. So each
//! copy runs on one node; the copies a node took but did not finish (it
//! died, or lost NATS) go to another node once their acknowledgement is
//! `ack_wait` late; a node that stops hands back what it had not started.
//! Delivery is at least once: a copy that ran, but whose acknowledgement
//! was lost with its node, runs again.
//!
//! A copy carries the timetoken its appender proposed; the node that runs
//! it gives the function the one the entry got in the log's chain (as
//! subscribers and history see it), once it has applied that entry itself
//! (it waits at most [`STAMP_WAIT`] for that, and not again in a batch of
//! copies once it waited in vain).
//!
//! The consumer is made (delivering what is published from then on) or
//! updated by the node that deploys the function, before the deployment is
//! recorded, and deleted by the node that removes it.
//!
//! A copy is delivered at most [`MAX_DELIVER`] times: a copy whose node
//! died or handed it back that often is dropped by JetStream, which says
//! so in an advisory; one node (a queue group) counts each in
//! `edgefn_after_publish_dropped_total` and logs it. A function too busy to
//! start a copy (at its `max_concurrency`) does not use up a delivery: the
//! node keeps the copy, tells JetStream it is still working on it
//! (pushing back its acknowledgement deadline), and queues it again after
//! an exponential backoff with jitter, until it runs or the node stops or
//! loses the function.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::ErrorCode;
use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, PullConsumer, pull};
use async_nats::jetstream::stream::{self, ConsumerErrorKind};
use async_nats::jetstream::{self, AckKind};
use backon::{BackoffBuilder, ExponentialBuilder};
use futures::StreamExt;
use futures::future::BoxFuture;
use prometheus_client::metrics::counter::Counter;

use super::log::{FIRES, STREAM, SUBJECTS, read_entry};
use super::retry::Retry;
use super::subject::{self, covered};
use super::{Cluster, Unavailable};
use crate::bus::sequencer::NotApplied;
use crate::bus::{MessageKind, Published};
use crate::functions::after::AfterPublish;
use crate::functions::records::{Backlog, Live, SharedQueues, StorageError};
use crate::functions::{Function, FunctionSpec};

/// Times a copy is delivered before it is given up (one that kills every
/// node that runs it must not go round forever).
const MAX_DELIVER: i64 = 5;
/// Copies of one function taken and not yet acknowledged, cluster-wide.
const MAX_ACK_PENDING: i64 = 10_000;
/// How long one request for copies waits for them.
const PULL_EXPIRES: Duration = Duration::from_secs(5);
/// When a copy of a deployment this node has yet to install is given to a
/// node again.
const REDELIVER_AFTER: Duration = Duration::from_millis(500);
/// Longest a copy waits for this node to apply its entry (to learn the
/// timetoken it got).
const STAMP_WAIT: Duration = Duration::from_secs(1);
/// The first and the longest pause before a copy its function was too busy
/// to start is queued again (the longest also under a quarter of the
/// consumer's `ack_wait`).
const BUSY_PAUSES: (Duration, Duration) = (Duration::from_millis(20), Duration::from_secs(1));
/// JetStream's advisories of copies dropped after [`MAX_DELIVER`]
/// deliveries, for every after-publish consumer of the log.
const MAX_DELIVERIES: &str = "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.EDGEFN_MESSAGES.*";
/// The queue group that counts each advisory once, cluster-wide.
const DROP_COUNTERS: &str = "edgefn_after_publish_drops";

/// The cluster's after-publish work queues.
pub struct AfterPublishQueues {
    cluster: Arc<Cluster>,
    stream: stream::Stream,
    /// The least time a taken copy has before it is given to another node.
    ack_wait: Duration,
}

impl AfterPublishQueues {
    /// The queues on `cluster`'s log; copies JetStream drops after
    /// [`MAX_DELIVER`] deliveries are counted in `dropped` (on one node).
    ///
    /// # Errors
    /// When JetStream cannot be reached.
    pub async fn open(
        cluster: &Arc<Cluster>,
        ack_wait: Duration,
        dropped: Counter,
    ) -> Result<Arc<Self>, Unavailable> {
        let stream = cluster
            .js
            .get_stream(STREAM)
            .await
            .map_err(Unavailable::from)?;
        let advisories = cluster
            .client
            .queue_subscribe(MAX_DELIVERIES, DROP_COUNTERS.into())
            .await
            .map_err(Unavailable::from)?;
        tokio::spawn(count_drops(advisories, dropped));
        Ok(Arc::new(Self {
            cluster: Arc::clone(cluster),
            stream,
            ack_wait,
        }))
    }

    /// `consumer`, with the subjects of fires added when an older version
    /// made it without them (it is otherwise left as the deploying node
    /// made it).
    async fn upgraded(
        &self,
        consumer: PullConsumer,
        spec: &FunctionSpec,
        timeout: Duration,
    ) -> Result<PullConsumer, String> {
        let config = &consumer.cached_info().config;
        let mut held = config.filter_subjects.clone();
        if held.is_empty() && !config.filter_subject.is_empty() {
            held.push(config.filter_subject.clone());
        }
        held.sort();
        let mut old = subject::filters(SUBJECTS, &spec.after_publish);
        old.sort();
        if held != old || old.is_empty() {
            return Ok(consumer);
        }
        tracing::info!(
            function = spec.name,
            "adding fires to the after-publish queue"
        );
        self.stream
            .update_consumer(self.consumer_config(spec, timeout))
            .await
            .map_err(|e| e.to_string())
    }

    fn consumer_config(&self, spec: &FunctionSpec, timeout: Duration) -> pull::Config {
        pull::Config {
            durable_name: Some(consumer_name(&spec.name)),
            description: Some(format!("after-publish copies for function {}", spec.name)),
            deliver_policy: DeliverPolicy::New,
            ack_policy: AckPolicy::Explicit,
            ack_wait: self.ack_wait.max(timeout * 2),
            max_deliver: MAX_DELIVER,
            filter_subjects: filters(spec),
            max_ack_pending: MAX_ACK_PENDING,
            ..Default::default()
        }
    }
}

impl SharedQueues for AfterPublishQueues {
    /// Makes the queue of the function `spec` describes (taking what is
    /// published from now on), or updates its channels and timing.
    ///
    /// # Errors
    /// [`Unavailable`] when JetStream cannot take it.
    fn bind(
        self: Arc<Self>,
        spec: FunctionSpec,
        timeout: Duration,
    ) -> BoxFuture<'static, Result<(), StorageError>> {
        Box::pin(async move {
            self.stream
                .create_consumer(self.consumer_config(&spec, timeout))
                .await
                .map_err(Unavailable::from)?;
            Ok(())
        })
    }

    /// Deletes the queue of function `name`, if it has one.
    ///
    /// # Errors
    /// [`Unavailable`] when JetStream cannot be reached.
    fn unbind(self: Arc<Self>, name: String) -> BoxFuture<'static, Result<(), StorageError>> {
        Box::pin(async move {
            match self.stream.delete_consumer(&consumer_name(&name)).await {
                Ok(_) => Ok(()),
                Err(e) => match e.kind() {
                    ConsumerErrorKind::JetStream(e)
                        if e.error_code() == ErrorCode::CONSUMER_NOT_FOUND =>
                    {
                        Ok(())
                    }
                    _ => Err(Unavailable::from(e).into()),
                },
            }
        })
    }

    /// What the queue of function `name` holds (`None`: it has none, or
    /// JetStream cannot say).
    fn backlog(self: Arc<Self>, name: String) -> BoxFuture<'static, Option<Backlog>> {
        Box::pin(async move {
            let info = self.stream.consumer_info(consumer_name(&name)).await.ok()?;
            Some(Backlog {
                waiting: info.num_pending,
                running: info.num_ack_pending,
                redelivered: info.num_redelivered,
            })
        })
    }

    /// Takes `function`'s copies from its queue and runs them through
    /// `after` for as long as `live()` (the function of that name now
    /// deployed here) is this deployment, reconnecting after failures.
    fn serve(
        self: Arc<Self>,
        function: Arc<Function>,
        timeout: Duration,
        after: Arc<AfterPublish>,
        live: Live,
    ) {
        tokio::spawn(async move {
            let spec = &function.deployment.spec;
            let current = || live().is_some_and(|f| f.generation == function.generation);
            let mut retry = Retry::default();
            while current() {
                let consumer = self
                    .stream
                    .get_or_create_consumer::<pull::Config>(
                        &consumer_name(&spec.name),
                        self.consumer_config(spec, timeout),
                    )
                    .await;
                let consumer = match consumer {
                    Ok(consumer) => self.upgraded(consumer, spec, timeout).await,
                    Err(e) => Err(e.to_string()),
                };
                let ended = match consumer {
                    Ok(consumer) => {
                        // NATS answered: the next failure starts the
                        // pauses over.
                        retry.reset();
                        let longest = BUSY_PAUSES.1.min(self.ack_wait.max(timeout * 2) / 4);
                        let taking = Taking {
                            cluster: &self.cluster,
                            after: &after,
                            longest_busy_pause: longest,
                        };
                        take(&consumer, &taking, &current, &live).await
                    }
                    Err(e) => Err(e),
                };
                if let Err(e) = ended {
                    tracing::warn!(function = spec.name, error = %e, "taking after-publish copies failed; retrying");
                    retry.pause().await;
                }
            }
        });
    }
}

/// The subjects of the log that `spec`'s after-publish bindings select:
/// messages (file messages too), and fires.
fn filters(spec: &FunctionSpec) -> Vec<String> {
    let messages: Vec<_> = (spec.after_publish.iter())
        .chain(&spec.after_publish_file)
        .cloned()
        .collect();
    let mut filters = subject::filters(SUBJECTS, &messages);
    filters.extend(subject::filters(FIRES, &spec.after_publish));
    filters
}

/// The consumer of function `name` (function names are consumer-safe:
/// lowercase letters, digits, `-` and `_`).
fn consumer_name(name: &str) -> String {
    format!("after_{name}")
}

/// What [`take`] runs copies with.
#[derive(Clone, Copy)]
struct Taking<'a> {
    cluster: &'a Cluster,
    after: &'a Arc<AfterPublish>,
    /// The longest pause before a busy copy is queued again: under a
    /// quarter of the consumer's `ack_wait`, so the copy stays this node's.
    longest_busy_pause: Duration,
}

/// Takes copies while `current()` holds, as many at a time as the
/// function's lane can start soon, and runs each with the deployment
/// `live()` gives then (a redeploy meanwhile leaves nothing to redeliver).
/// Each copy is acknowledged once it has run ([`run_taken`]); handed back
/// at once when this node could not queue it or the function is gone, and
/// a little later when this node has not yet installed the deployment the
/// queue was made for.
async fn take(
    consumer: &PullConsumer,
    taking: &Taking<'_>,
    current: &impl Fn() -> bool,
    live: &impl Fn() -> Option<Arc<Function>>,
) -> Result<(), String> {
    let Taking {
        cluster,
        after,
        longest_busy_pause,
    } = *taking;
    while let Some(function) = live().filter(|_| current()) {
        let room = after.room(&function).await;
        let mut copies = consumer
            .batch()
            .max_messages(room)
            .expires(PULL_EXPIRES)
            .messages()
            .await
            .map_err(|e| e.to_string())?;
        // Whether to wait for this node to apply a copy's entry: not again
        // in this batch once it did not in time (this node is behind).
        let mut patient = true;
        while let Some(copy) = copies.next().await {
            let copy = copy.map_err(|e| e.to_string())?;
            let Some(function) = live() else {
                answer(&copy, AckKind::Nak(None)).await;
                continue;
            };
            let spec = &function.deployment.spec;
            let mut published = match read_entry(&copy.payload) {
                Ok(published) => published,
                Err(e) => {
                    tracing::error!(function = spec.name, error = %e, "skipping an unreadable cluster-log entry");
                    answer(&copy, AckKind::Term).await;
                    continue;
                }
            };
            if matches!(
                published.message.kind,
                MessageKind::Action | MessageKind::Delete | MessageKind::Object
            ) {
                // Message-action and object events and deletions are no
                // function's work.
                answer(&copy, AckKind::Ack).await;
                continue;
            }
            let (channel, kind) = (&published.message.channel, published.message.kind);
            if !spec.after_patterns(kind).iter().any(|p| p.matches(channel)) {
                // Selected by the deployment's filters but not its bindings
                // (presence channels under a wildcard, a file message for a
                // function of publishes): not its work.
                // Otherwise the queue follows a deployment this node has
                // yet to install.
                let kind = if covered(&filters(spec), &copy.subject) {
                    AckKind::Ack
                } else {
                    AckKind::Nak(Some(REDELIVER_AFTER))
                };
                answer(&copy, kind).await;
                continue;
            }
            patient &= stamp(&copy, &mut published, cluster, patient).await;
            let after = Arc::clone(after);
            tokio::spawn(async move {
                let published = Arc::new(published);
                let kind = run_taken(&after, &function, published, &copy, longest_busy_pause).await;
                answer(&copy, kind).await;
            });
        }
    }
    Ok(())
}

/// Runs `copy` (holding `published`) through `after`, and says how to
/// answer it: acknowledged once it ran, handed back when this node could
/// not queue it (it is full or stopping). While the function is too busy
/// to start it, the copy stays taken here (JetStream told it is in
/// progress, which uses up none of its deliveries) and is queued again
/// after a growing, jittered pause.
async fn run_taken(
    after: &AfterPublish,
    function: &Arc<Function>,
    published: Arc<Published>,
    copy: &jetstream::Message,
    longest: Duration,
) -> AckKind {
    let mut pauses = ExponentialBuilder::default()
        .with_min_delay(BUSY_PAUSES.0.min(longest))
        .with_max_delay(longest)
        .with_jitter()
        .without_max_times()
        .build();
    loop {
        match after.enqueue_taken(function, Arc::clone(&published)).await {
            Ok(true) => return AckKind::Ack,
            Ok(false) => {
                answer(copy, AckKind::Progress).await;
                tokio::time::sleep(pauses.next().unwrap_or(longest)).await;
            }
            Err(_) => return AckKind::Nak(None),
        }
    }
}

/// Counts (in `dropped`) and logs each copy JetStream dropped after
/// [`MAX_DELIVER`] deliveries, as its advisories say.
async fn count_drops(mut advisories: async_nats::Subscriber, dropped: Counter) {
    while let Some(advisory) = advisories.next().await {
        let what: serde_json::Value = serde_json::from_slice(&advisory.payload).unwrap_or_default();
        let consumer = what["consumer"].as_str().unwrap_or_default();
        let Some(function) = consumer.strip_prefix("after_") else {
            continue;
        };
        dropped.inc();
        tracing::warn!(
            function,
            sequence = %what["stream_seq"],
            "after-publish copy dropped: delivered {MAX_DELIVER} times without being acknowledged"
        );
    }
}

/// Gives `published` (read from `copy`) the timetoken its entry got here,
/// waiting (at most [`STAMP_WAIT`], when `patient`) for this node to apply
/// it; it keeps the proposed one otherwise. Returns false when it waited
/// in vain.
async fn stamp(
    copy: &jetstream::Message,
    published: &mut Published,
    cluster: &Cluster,
    patient: bool,
) -> bool {
    let (Some(progress), Ok(info)) = (cluster.progress(), copy.info()) else {
        return true;
    };
    let sequence = info.stream_sequence;
    let limit = if patient { STAMP_WAIT } else { Duration::ZERO };
    match progress.timetoken_at(sequence, limit).await {
        Ok(timetoken) => published.timetoken = timetoken,
        Err(why) => {
            tracing::debug!(
                sequence,
                ?why,
                "an after-publish copy runs with its proposed timetoken"
            );
            return why != NotApplied::Late;
        }
    }
    true
}

/// Acknowledges `copy` with `kind`; a lost acknowledgement means the copy
/// is delivered again (once `ack_wait` is up).
async fn answer(copy: &jetstream::Message, kind: AckKind) {
    if let Err(e) = copy.ack_with(kind).await {
        tracing::debug!(error = %e, "an after-publish copy was not acknowledged; it will be delivered again");
    }
}
