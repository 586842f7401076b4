//! The node's configuration: every limit in one place, with its default and
//! what a client or a function sees when it is hit.
//!
//! Values come from defaults, then the config file (`serve --config`, see
//! [`file`]), then command-line flags.

pub mod file;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

/// Default listen address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// Default data directory.
pub const DEFAULT_DATA_DIR: &str = "./edgefn-data";

/// Everything a node needs to start.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// Where the HTTP API listens.
    pub listen: SocketAddr,
    /// Where durable state lives.
    pub data_dir: PathBuf,
    /// The admin API key; generated and stored in the data dir when absent.
    pub admin_key: Option<String>,
    /// The key that signs access tokens. When set, access control is on:
    /// every publish, subscribe and history request needs a token.
    pub secret_key: Option<String>,
    /// Bus limits.
    pub bus: BusConfig,
    /// Sandbox limits.
    pub wasm: WasmConfig,
    /// HTTP API limits.
    pub http: HttpConfig,
    /// The PubNub-compatible API.
    pub pubnub: PubNubConfig,
    /// Shared files (PubNub's Files API).
    pub files: FilesConfig,
    /// Cluster mode: the NATS server to join (none: a single node).
    pub nats: Option<NatsConfig>,
}

/// How a node joins a cluster.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NatsConfig {
    /// The NATS server, e.g. `nats://127.0.0.1:4222`, or servers of a NATS
    /// cluster, comma-separated, tried in that order (the node also learns
    /// the cluster's other servers from the one it reaches); needs
    /// JetStream (`nats-server -js`). The node's NATS user goes in the URL,
    /// `nats://USER:PASSWORD@HOST:4222` (percent-encoded; the first URL
    /// that has one names it for every server); the README's cluster
    /// section lists the permissions that user needs.
    pub url: String,
    /// Copies JetStream keeps of each stream and bucket (1 for one NATS
    /// server; 3 for a three-server NATS cluster).
    #[serde(default = "one")]
    pub replicas: usize,
    /// How long to keep trying to reach NATS at startup, in seconds.
    #[serde(default = "thirty")]
    pub connect_timeout_secs: u64,
    /// How long an after-publish copy taken by a node may stay
    /// unacknowledged before JetStream gives it to another node (the node
    /// died or was cut off), in seconds; never less than twice the
    /// function's timeout.
    #[serde(default = "thirty")]
    pub after_publish_ack_wait_secs: u64,
    /// How long the cluster log keeps an entry, in seconds (default a
    /// day). Each node keeps its own copy of history (bounded per channel
    /// by `[bus] history_per_channel`); the log only has to hold entries
    /// until every node has applied them, and a node that joins later
    /// builds its history from what the log still holds. A node that was
    /// away longer than this misses what the log dropped meanwhile (it
    /// says so in its log).
    #[serde(default = "a_day")]
    pub log_max_age_secs: u64,
    /// Most bytes the cluster log keeps (default 1 GiB); the oldest entries
    /// go first.
    #[serde(default = "a_gibibyte")]
    pub log_max_bytes: u64,
    /// The file holding the key every node seals function secrets with
    /// and signs file URLs with (relative to the config file;
    /// `--secrets-key-file` or `EDGEFN_SECRETS_KEY_FILE` wins): 32 bytes,
    /// raw or base64 (`openssl rand -base64 32 > secrets.key`), the same
    /// file on every node. Required in a cluster: the key is never kept in
    /// NATS, so whoever can read NATS still cannot open the secrets. A node
    /// without it refuses to start, saying so. Clusters of older versions
    /// kept it in NATS (`edgefn_deployments`, key `_secrets_key`): copy it
    /// out once (`nats kv get edgefn_deployments _secrets_key --raw >
    /// secrets.key`), give the file to every node, then delete the key
    /// from NATS (`nats kv del edgefn_deployments _secrets_key`); nodes warn
    /// while it is still there.
    #[serde(default)]
    pub secrets_key_file: Option<PathBuf>,
}

impl NatsConfig {
    /// The user and password the first of [`Self::url`]'s servers that
    /// has them names (percent-decoded).
    ///
    /// # Errors
    /// As [`Self::servers`].
    pub fn credentials(&self) -> anyhow::Result<Option<(String, String)>> {
        let decode = |text: &str| {
            percent_encoding::percent_decode_str(text)
                .decode_utf8_lossy()
                .into_owned()
        };
        Ok(self.servers()?.iter().find_map(|server| {
            let user = server.username()?;
            Some((decode(user), decode(server.password().unwrap_or_default())))
        }))
    }

    /// The servers of [`Self::url`], in order.
    ///
    /// # Errors
    /// When an entry is not a NATS URL.
    pub fn servers(&self) -> anyhow::Result<Vec<async_nats::ServerAddr>> {
        self.url
            .split(',')
            .map(|url| url.trim().parse::<async_nats::ServerAddr>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| {
                anyhow::anyhow!(
                    "`{}` is not a NATS URL or a comma-separated list of them (nats://HOST:PORT): {e}",
                    self.url
                )
            })
    }
}

fn one() -> usize {
    1
}

fn thirty() -> u64 {
    30
}

fn a_day() -> u64 {
    86_400
}

fn a_gibibyte() -> u64 {
    1 << 30
}

impl NatsConfig {
    /// Defaults for `url`.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            replicas: one(),
            connect_timeout_secs: thirty(),
            after_publish_ack_wait_secs: thirty(),
            log_max_age_secs: a_day(),
            log_max_bytes: a_gibibyte(),
            secrets_key_file: None,
        }
    }
}

impl NodeConfig {
    /// The defaults, listening on `listen` with state in `data_dir`.
    pub fn new(listen: SocketAddr, data_dir: PathBuf) -> Self {
        Self {
            listen,
            data_dir,
            admin_key: None,
            secret_key: None,
            bus: BusConfig::default(),
            wasm: WasmConfig::default(),
            http: HttpConfig::default(),
            pubnub: PubNubConfig::default(),
            files: FilesConfig::default(),
            nats: None,
        }
    }
}

/// The PubNub-compatible API: the keys clients must use, and its timings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PubNubConfig {
    /// The publish key clients must name (PubNub SDKs: `publishKey`).
    /// Requests naming another get 400 `Invalid Key`.
    pub publish_key: String,
    /// The subscribe key clients must name (`subscribeKey`). Requests naming
    /// another get 400 `Invalid Subscribe Key`.
    pub subscribe_key: String,
    /// How long a `/v2/subscribe` long-poll is held when nothing arrives, in
    /// seconds (PubNub holds about 280 s; clients time out at 310 s).
    pub subscribe_timeout_secs: u64,
    /// Most messages answered to one long-poll (PubNub: 100).
    pub subscribe_batch: usize,
    /// Most channels one long-poll may cover, counting those of its channel
    /// groups (PubNub: 10 groups of 2,000). Past it the poll gets 400 naming
    /// this limit.
    pub max_subscribed_channels: usize,
    /// Presence timeout when a client names none, in seconds (PubNub: 300).
    pub presence_timeout_secs: u64,
    /// Most presence members this node keeps, counting one per channel and
    /// uuid (a client picks its uuid and keeps it present for up to an
    /// hour per heartbeat). A heartbeat or set-state that would add more
    /// gets 400 naming this limit (payload `{"limit": "presence_members"}`)
    /// and changes nothing; a subscribe poll past it still gets its
    /// messages but does not make its uuid present. Refusals are counted in
    /// `edgefn_limit_refusals_total{limit="presence_members"}`; members
    /// that leave or time out make room.
    pub max_presence_members: usize,
    /// Most channel groups (PubNub's channel registration). Adding
    /// channels to a new group past it gets 400 naming this limit (payload
    /// `{"limit": "channel_groups"}`), counted in
    /// `edgefn_limit_refusals_total{limit="channel_groups"}`; existing
    /// groups may still change, and deleting one makes room.
    pub max_channel_groups: usize,
    /// Most message actions on one message (PubNub: 25,000). Adding another
    /// gets 400 naming this limit.
    pub max_actions_per_message: usize,
    /// Message actions kept per channel; past it the oldest (by action
    /// timetoken) are dropped, as history drops old messages. A channel's
    /// actions are one record: in a cluster it must fit in a NATS message
    /// (1 MiB by default), about this many times (value + 250 bytes).
    pub max_actions_per_channel: usize,
    /// Longest message-action `value`, in bytes; a longer one gets 400
    /// naming this limit. (`type` is at most 15 characters, as PubNub's.)
    pub max_action_value_bytes: usize,
    /// How many seconds one hour of a publish's `ttl` lasts: 3600. Tests
    /// shorten it to see messages expire.
    pub ttl_hour_secs: u64,
    /// Most App Context objects of each kind (uuid metadata, channel
    /// metadata). Setting a new one past it gets 400 naming this limit;
    /// changing existing ones still works.
    pub max_objects: usize,
    /// Most `custom` fields on one App Context object; more get 400 naming
    /// this limit.
    pub max_object_custom_fields: usize,
    /// Largest `custom` of one App Context object, in bytes of JSON; a
    /// larger one gets 400 naming this limit. Both `custom` limits also
    /// hold for memberships.
    pub max_object_custom_bytes: usize,
    /// Most App Context memberships of one uuid (PubNub: 50,000). A set
    /// adding one past it gets 400 naming this limit.
    pub max_memberships_per_uuid: usize,
    /// Most App Context members of one channel (PubNub: 5,000). A set
    /// adding one past it gets 400 naming this limit.
    pub max_members_per_channel: usize,
}

impl Default for PubNubConfig {
    fn default() -> Self {
        Self {
            publish_key: "demo".into(),
            subscribe_key: "demo".into(),
            subscribe_timeout_secs: 280,
            subscribe_batch: 100,
            max_subscribed_channels: 20_000,
            presence_timeout_secs: 300,
            max_presence_members: 100_000,
            max_channel_groups: 10_000,
            max_actions_per_message: 100,
            max_actions_per_channel: 1000,
            max_action_value_bytes: 512,
            ttl_hour_secs: 3600,
            max_objects: 100_000,
            max_object_custom_fields: 100,
            max_object_custom_bytes: 8 * 1024,
            max_memberships_per_uuid: 50_000,
            max_members_per_channel: 5_000,
        }
    }
}

/// Shared files (PubNub's Files API, see [`crate::files`]). Alone a node
/// keeps them in `files/` in its data dir; in a cluster, in the JetStream
/// object store `edgefn_files`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FilesConfig {
    /// Largest file accepted, in bytes (PubNub: 5 MiB). A larger upload gets
    /// 413 naming this limit. In a cluster, files are kept in NATS's object
    /// store, in chunks, so any size the NATS server can store works.
    pub max_file_bytes: usize,
    /// How long the upload URL that `generate-upload-url` answers stays
    /// valid, in seconds (PubNub: 60); a later upload gets 403.
    pub upload_url_ttl_secs: u64,
    /// How long the download link a file's URL redirects to stays valid, in
    /// seconds; a later download gets 403 (ask for the URL again).
    pub download_url_ttl_secs: u64,
    /// How many days a file is kept after its upload URL was made (at least
    /// 1; default 7: PubNub keeps files as long as the keyset's message
    /// retention, which is set per keyset, and 7 days is a common one). Then
    /// listings leave it out and its download and delete get 404 (`File
    /// Not Found`), like a file never stored; a node alone removes its bytes
    /// in the background, a cluster's object store (its `max_age`) removes
    /// them itself.
    pub retention_days: u64,
    /// How many seconds one day of `retention_days` lasts: 86400. Tests
    /// shorten it to see files expire.
    pub day_secs: u64,
    /// Most bytes of files kept at once (default 1 GiB): on a node alone,
    /// the files' sizes; in a cluster, what the JetStream object store
    /// takes for them (its `max_bytes`, shared by the nodes). An upload
    /// that does not fit gets 413 naming this limit, counted in
    /// `edgefn_files_quota_refusals_total`; expired and deleted files free
    /// their room.
    pub max_total_bytes: u64,
}

impl Default for FilesConfig {
    fn default() -> Self {
        Self {
            max_file_bytes: 5 * 1024 * 1024,
            upload_url_ttl_secs: 60,
            download_url_ttl_secs: 3600,
            retention_days: 7,
            day_secs: 86_400,
            max_total_bytes: 1024 * 1024 * 1024,
        }
    }
}

/// Limits of the bus.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BusConfig {
    /// Messages kept per channel in history; older ones are dropped. Also
    /// caps `limit` on history reads.
    pub history_per_channel: usize,
    /// Most channels with history on this node. A message to be stored on
    /// a channel with none, past it, is refused rather than an old
    /// channel's history evicted (so a client publishing to many new
    /// channels cannot erase everyone's history): the publisher gets 400
    /// naming this limit (native API: code `limit_reached`; PubNub API:
    /// `[0, "limit reached: ..."]`), nothing is delivered, and it is
    /// counted in `edgefn_limit_refusals_total{limit="history_channels"}`.
    /// Channels that have history still take messages, signals and
    /// `store=0` publishes are never refused, and a channel whose history
    /// was deleted or expired makes room. Publishes in flight together may
    /// pass it by a few.
    pub max_history_channels: usize,
    /// Messages queued per subscriber. A subscriber whose queue is full is
    /// disconnected as slow (SSE: an `error` event with code `slow_consumer`;
    /// WebSocket: close code 4008) and may resume with `since`.
    pub subscriber_queue: usize,
    /// Most messages read from history at once when a subscribe with
    /// `since` replays what it missed (it reads page after page).
    pub replay_limit: usize,
    /// Publishes waiting to be committed; publishers wait when it is full.
    pub publish_queue: usize,
    /// Recent deliveries kept for long-poll subscribers to catch up from
    /// between polls (PubNub's `/v2/subscribe`), by count ...
    pub recent_messages: usize,
    /// ... and by bytes. A poll whose cursor fell out of the window gets
    /// what is left, from the oldest kept.
    pub recent_bytes: usize,
}

impl Default for BusConfig {
    fn default() -> Self {
        Self {
            history_per_channel: 1000,
            max_history_channels: 100_000,
            subscriber_queue: 1024,
            replay_limit: 1000,
            publish_queue: 10_000,
            recent_messages: 50_000,
            recent_bytes: 64 * 1024 * 1024,
        }
    }
}

/// Limits of the function sandbox. Each function may override the deadline
/// and the memory limit in its deployment.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WasmConfig {
    /// Deadline of a before-publish invocation, in milliseconds. Missing it
    /// fails the invocation (HTTP 504 to the publisher by default).
    pub before_publish_timeout_ms: u64,
    /// Deadline of after-publish, after-presence, interval and endpoint
    /// invocations, in milliseconds.
    pub default_timeout_ms: u64,
    /// Memory per instance, in MiB, unless the function asks for another
    /// amount. Growing past it fails the allocation inside the guest.
    pub default_memory_mb: u64,
    /// The most memory a function may ask for, in MiB. Also sizes the
    /// pooling allocator's slots.
    pub max_memory_mb: u64,
    /// Wasm stack per invocation, in KiB. Deeper recursion traps.
    pub max_stack_kb: usize,
    /// Instances that may exist at once on this node (the pool size).
    /// Invocations beyond it fail with "too many concurrent invocations".
    pub max_instances: u32,
    /// Bytes of stdout plus stderr kept per invocation; the rest is dropped
    /// and the log says how much.
    pub max_log_bytes: usize,
    /// Log lines kept per function for `GET /v1/admin/functions/{name}/logs`
    /// (kept across redeploys; a removed function's log goes with it).
    pub log_lines_per_function: usize,
    /// After-publish copies and after-presence events waiting to run (one
    /// function may hold half of them); more are dropped and counted
    /// (`edgefn_after_publish_dropped`, `edgefn_after_presence_dropped`).
    pub after_publish_queue: usize,
    /// After-publish and after-presence invocations running at once (one
    /// function may run half of them).
    pub after_publish_concurrency: usize,
    /// KV calls per invocation, unless the function says otherwise (PubNub
    /// allows 10). Past it, the call fails in the guest with
    /// `budget-exhausted`.
    pub kv_calls: u32,
    /// Publish, fire and signal calls per invocation, unless the function
    /// says otherwise (PubNub allows 10).
    pub bus_calls: u32,
    /// Invocations one function may run at once, unless it says otherwise;
    /// never more than half of `max_instances`. More fail at once with
    /// `function_busy` (503 on the publish or request that needed them)
    /// instead of queueing without bound.
    pub max_concurrency_per_function: u32,
    /// Outbound HTTP limits.
    pub outbound: OutboundConfig,
}

impl WasmConfig {
    /// [`Self::before_publish_timeout_ms`] as a duration.
    pub fn before_publish_timeout(&self) -> Duration {
        Duration::from_millis(self.before_publish_timeout_ms)
    }

    /// [`Self::default_timeout_ms`] as a duration.
    pub fn default_timeout(&self) -> Duration {
        Duration::from_millis(self.default_timeout_ms)
    }
}

impl Default for WasmConfig {
    fn default() -> Self {
        Self {
            before_publish_timeout_ms: 50,
            default_timeout_ms: 10_000,
            default_memory_mb: 32,
            max_memory_mb: 256,
            max_stack_kb: 512,
            max_instances: 1000,
            max_log_bytes: 64 * 1024,
            log_lines_per_function: 1000,
            after_publish_queue: 10_000,
            after_publish_concurrency: 64,
            kv_calls: 10,
            bus_calls: 10,
            max_concurrency_per_function: 256,
            outbound: OutboundConfig::default(),
        }
    }
}

/// Limits of outbound HTTP from functions.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OutboundConfig {
    /// Outbound requests per invocation, unless the function says otherwise
    /// (PubNub allows 5). Past it, the call fails in the guest with an error
    /// naming the budget.
    pub max_requests: u32,
    /// Time to connect, in milliseconds.
    pub connect_timeout_ms: u64,
    /// Time to the first byte of the response, in milliseconds (kept under
    /// the 10 s default deadline so the guest sees the timeout itself).
    pub first_byte_timeout_ms: u64,
}

impl Default for OutboundConfig {
    fn default() -> Self {
        Self {
            max_requests: 5,
            connect_timeout_ms: 5_000,
            first_byte_timeout_ms: 5_000,
        }
    }
}

/// Limits of the HTTP API.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// Largest request body on the publish endpoints, in bytes (413 beyond).
    pub max_publish_body: usize,
    /// Largest deploy upload, in bytes (413 beyond).
    pub max_deploy_body: usize,
    /// Largest request body passed to an endpoint function, in bytes.
    pub max_endpoint_body: usize,
    /// Interval between SSE keep-alive comments, in seconds.
    pub sse_keepalive_secs: u64,
    /// Largest WebSocket frame accepted, in bytes.
    pub max_ws_frame: usize,
    /// Patterns per subscribe request and per WebSocket connection.
    pub max_patterns_per_subscriber: usize,
    /// Connections open at once; more are closed as soon as accepted.
    pub max_connections: usize,
    /// Largest request head (request line plus headers), in bytes; beyond it
    /// the request gets 431 and the connection closes.
    pub max_header_bytes: usize,
    /// Time a client has to send a request's head, in seconds (also how long
    /// an idle keep-alive connection stays open); slower clients are
    /// disconnected.
    pub header_timeout_secs: u64,
    /// Longest pause while a client sends a request body, in seconds; a
    /// client that stops sending mid-body gets 400 and is disconnected.
    pub body_timeout_secs: u64,
    /// Time a write to a client may stay blocked, in seconds; a client that
    /// stops reading is disconnected after it.
    pub write_timeout_secs: u64,
    /// On shutdown, how long in-flight requests and hooks may take to finish,
    /// in seconds.
    pub shutdown_grace_secs: u64,
    /// Publishes per second allowed per client address, for clients that
    /// present no token that verifies (0: no limit). Past it, 429 with
    /// `Retry-After` (also over WebSocket: an error frame
    /// `rate_limited`); checked before the body is read; counted in
    /// `edgefn_rate_limit_refusals_total{key="address"}` (a token's user:
    /// `key="user"`, a token naming none: `key="token"`). Default 1,000: a
    /// real app's client publishes a few per second, but one address may
    /// front many clients (a NAT, a server without tokens).
    pub publish_rate_per_address: u32,
    /// Publishes per second allowed per client presenting a token that
    /// verifies, counted per the token's authorized uuid (or per token when
    /// it names none), whatever its address (0: no limit). Default 200.
    pub publish_rate_per_token: u32,
    /// How many seconds' worth of publishes a client may send at once
    /// before its rate applies (the bucket size; default 10, so 10,000 from
    /// an address and 2,000 from a token's user in a burst).
    pub publish_burst_secs: u32,
    /// The node's address as clients reach it (e.g.
    /// `https://edgefn.example.com`), for the URLs it hands out: file upload
    /// URLs and download links. Unset, they are made from the request's
    /// `Host` header over plain HTTP, which fits a node reached directly.
    pub public_url: Option<String>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            max_publish_body: 64 * 1024,
            max_deploy_body: 64 * 1024 * 1024,
            max_endpoint_body: 1024 * 1024,
            sse_keepalive_secs: 15,
            max_ws_frame: 64 * 1024,
            max_patterns_per_subscriber: 128,
            max_connections: 10_000,
            max_header_bytes: 16 * 1024,
            header_timeout_secs: 30,
            body_timeout_secs: 30,
            write_timeout_secs: 30,
            shutdown_grace_secs: 10,
            publish_rate_per_address: 1000,
            publish_rate_per_token: 200,
            publish_burst_secs: 10,
            public_url: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nats_credentials_come_from_the_first_url_that_has_them() {
        let config = NatsConfig::new("nats://h1:4222, nats://a%40b:p%3Aw@h2:4222");
        let credentials = config.credentials().unwrap();
        assert_eq!(credentials, Some(("a@b".to_owned(), "p:w".to_owned())));
        assert_eq!(
            NatsConfig::new("nats://h1:4222").credentials().unwrap(),
            None
        );
    }
}
