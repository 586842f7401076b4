//! Prometheus metrics for the node, served at `GET /metrics`.

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::bounds::Limit;
use crate::bus::MessageKind;

/// Which trigger ran a function.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(missing_docs)]
pub enum Trigger {
    BeforePublish,
    AfterPublish,
    AfterPresence,
    Interval,
    Endpoint,
}

/// How an invocation ended.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(missing_docs)]
pub enum Outcome {
    Ok,
    Rejected,
    Error,
    Timeout,
    Busy,
}

/// Labels of [`Metrics::invocations`].
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct InvocationLabels {
    /// The function's name.
    pub function: String,
    /// The trigger that ran it.
    pub trigger: Trigger,
    /// How it ended.
    pub outcome: Outcome,
}

/// Labels of [`Metrics::published`].
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabels {
    /// Publish, fire, signal or message action.
    pub kind: KindLabel,
}

/// [`MessageKind`] as a label value.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(missing_docs)]
pub enum KindLabel {
    Publish,
    Fire,
    Signal,
    Action,
    Delete,
    Object,
    File,
}

impl From<MessageKind> for KindLabels {
    fn from(kind: MessageKind) -> Self {
        let kind = match kind {
            MessageKind::Publish => KindLabel::Publish,
            MessageKind::Fire => KindLabel::Fire,
            MessageKind::Signal => KindLabel::Signal,
            MessageKind::Action => KindLabel::Action,
            MessageKind::Delete => KindLabel::Delete,
            MessageKind::Object => KindLabel::Object,
            MessageKind::File => KindLabel::File,
        };
        Self { kind }
    }
}

/// Labels of [`Metrics::limit_refusals`].
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LimitLabels {
    /// The limit's name ([`Limit::name`]).
    pub limit: &'static str,
}

/// Labels of [`Metrics::rate_limit_refusals`].
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RateLabels {
    /// What the publish counted against: `user`, `token` or `address`.
    pub key: &'static str,
}

/// Labels of [`Metrics::invocation_seconds`].
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TriggerLabels {
    /// The trigger.
    pub trigger: Trigger,
}

/// Every metric the node keeps.
pub struct Metrics {
    registry: Registry,
    /// Messages accepted onto the bus, by kind.
    pub published: Family<KindLabels, Counter>,
    /// Messages refused by a before-publish hook (rejections and failures).
    pub hook_refusals: Counter,
    /// Messages handed to local subscribers.
    pub deliveries: Counter,
    /// Subscribers cut off because their queue was full.
    pub slow_subscribers: Counter,
    /// Subscribers connected to this node.
    pub subscribers: Gauge,
    /// Function invocations by function, trigger and outcome.
    pub invocations: Family<InvocationLabels, Counter>,
    /// Invocation time by trigger, in seconds.
    pub invocation_seconds: Family<TriggerLabels, Histogram>,
    /// After-publish copies dropped: the node's queue was full, or (in a
    /// cluster) a copy was delivered the most times without being
    /// acknowledged (its nodes died or handed it back).
    pub after_publish_dropped: Counter,
    /// After-presence events dropped because the queue was full.
    pub after_presence_dropped: Counter,
    /// Outbound HTTP calls refused by a function's policy.
    pub outbound_denied: Counter,
    /// File uploads refused because the files kept would pass
    /// `[files] max_total_bytes`.
    pub files_quota_refusals: Counter,
    /// Expired files this node removed.
    pub files_expired: Counter,
    /// What was refused because the node keeps as much as a limit allows
    /// (see [`crate::bounds`]), by limit.
    pub limit_refusals: Family<LimitLabels, Counter>,
    /// Publishes refused (429) by the publish rate limits, by what they
    /// counted against.
    pub rate_limit_refusals: Family<RateLabels, Counter>,
}

impl Metrics {
    /// A fresh set of metrics, registered and zeroed.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("edgefn");
        let published = Family::<KindLabels, Counter>::default();
        let hook_refusals = Counter::default();
        let deliveries = Counter::default();
        let slow_subscribers = Counter::default();
        let subscribers = Gauge::default();
        let invocations = Family::<InvocationLabels, Counter>::default();
        let invocation_seconds = Family::<TriggerLabels, Histogram>::new_with_constructor(|| {
            // 1 µs to 8 s, doubling: fine enough to tell a 10 µs hook
            // from a 20 µs one.
            Histogram::new(exponential_buckets(0.000_001, 2.0, 24))
        });
        let after_publish_dropped = Counter::default();
        let after_presence_dropped = Counter::default();
        let outbound_denied = Counter::default();
        let files_quota_refusals = Counter::default();
        let files_expired = Counter::default();
        let limit_refusals = Family::<LimitLabels, Counter>::default();
        let rate_limit_refusals = Family::<RateLabels, Counter>::default();
        registry.register(
            "messages_published",
            "Messages accepted onto the bus",
            published.clone(),
        );
        registry.register(
            "hook_refusals",
            "Messages refused by before-publish hooks",
            hook_refusals.clone(),
        );
        registry.register(
            "deliveries",
            "Messages handed to local subscribers",
            deliveries.clone(),
        );
        registry.register(
            "slow_subscribers",
            "Subscribers disconnected because they did not keep up",
            slow_subscribers.clone(),
        );
        registry.register(
            "subscribers",
            "Subscribers connected to this node",
            subscribers.clone(),
        );
        registry.register(
            "function_invocations",
            "Function invocations",
            invocations.clone(),
        );
        registry.register(
            "function_invocation_seconds",
            "Function invocation time",
            invocation_seconds.clone(),
        );
        registry.register(
            "after_publish_dropped",
            "After-publish copies dropped: the queue was full, or (cluster) a copy reached its most deliveries",
            after_publish_dropped.clone(),
        );
        registry.register(
            "after_presence_dropped",
            "After-presence events dropped because the queue was full",
            after_presence_dropped.clone(),
        );
        registry.register(
            "outbound_http_denied",
            "Outbound HTTP calls refused by a function's policy",
            outbound_denied.clone(),
        );
        registry.register(
            "files_quota_refusals",
            "File uploads refused because the files kept would pass [files] max_total_bytes",
            files_quota_refusals.clone(),
        );
        registry.register(
            "files_expired",
            "Expired files removed by this node",
            files_expired.clone(),
        );
        registry.register(
            "limit_refusals",
            "Requests refused because the node keeps as much as a limit allows",
            limit_refusals.clone(),
        );
        registry.register(
            "rate_limit_refusals",
            "Publishes refused by the publish rate limits, by what they counted against",
            rate_limit_refusals.clone(),
        );
        Self {
            registry,
            published,
            hook_refusals,
            deliveries,
            slow_subscribers,
            subscribers,
            invocations,
            invocation_seconds,
            after_publish_dropped,
            after_presence_dropped,
            outbound_denied,
            files_quota_refusals,
            files_expired,
            limit_refusals,
            rate_limit_refusals,
        }
    }

    /// Counts one refusal by `limit`.
    pub fn refused(&self, limit: Limit) {
        self.limit_refusals
            .get_or_create(&LimitLabels {
                limit: limit.name(),
            })
            .inc();
    }

    /// Counts one invocation and its duration.
    pub fn invocation(&self, function: &str, trigger: Trigger, outcome: Outcome, seconds: f64) {
        let labels = InvocationLabels {
            function: function.to_owned(),
            trigger,
            outcome,
        };
        self.invocations.get_or_create(&labels).inc();
        self.invocation_seconds
            .get_or_create(&TriggerLabels { trigger })
            .observe(seconds);
    }

    /// The metrics in Prometheus' text format.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .expect("writing to a String cannot fail");
        text
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
