//! Support for the hardening tests (tests/e2e/hostile) and the report
//! program (`hostile_report`): the `hostile` guest's deployments, a
//! well-behaved function published to in a loop while something hostile
//! happens ([`GoodTraffic`]), the node's metrics and resident memory, and
//! raw TCP clients for requests no well-behaved HTTP client would send.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

use crate::node::Node;
use crate::wait::{TIMEOUT, eventually, within};

/// The channel the good function guards (moderate on `good.*`).
pub const GOOD_CHANNEL: &str = "good.chat";

impl Node {
    /// Deploys the `hostile` guest as `name` misbehaving as `mode`, with
    /// `spec` for the rest of its deployment (triggers, limits) and `config`
    /// for the mode's settings.
    pub async fn deploy_hostile(&self, name: &str, mode: &str, spec: Value, config: Value) {
        let mut spec = spec;
        let mut all = config.as_object().cloned().unwrap_or_default();
        all.insert("mode".into(), mode.into());
        spec["config"] = Value::Object(all);
        self.deploy_ok(name, "hostile", &spec).await;
    }

    /// Deploys `moderate` as `good` on `good.*`, with a generous deadline so
    /// that a loaded test machine does not fail it (its latency is measured,
    /// not bounded).
    pub async fn deploy_good(&self) {
        let spec = json!({
            "before_publish": ["good.*"],
            "timeout_ms": 5000,
            "config": {"banned_words": "spam"},
        });
        self.deploy_ok("good", "moderate", &spec).await;
    }

    /// The node's metrics in Prometheus' text format.
    pub async fn metrics_text(&self) -> String {
        let response = self
            .http()
            .get(self.url("/metrics"))
            .send()
            .await
            .expect("the node did not answer /metrics");
        assert!(response.status().is_success(), "/metrics failed");
        response.text().await.expect("a metrics body")
    }

    /// The value of the sample `name` whose labels include every
    /// `label="value"` of `labels` (0 when there is none).
    pub async fn metric(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        metric_value(&self.metrics_text().await, name, labels)
    }

    /// `edgefn_function_invocations_total` for `function`, `trigger`
    /// (`BeforePublish`, `AfterPublish`, `Interval`, `Endpoint`) and
    /// `outcome` (`Ok`, `Rejected`, `Error`, `Timeout`, `Busy`).
    pub async fn invocations(&self, function: &str, trigger: &str, outcome: &str) -> u64 {
        self.metric(
            "edgefn_function_invocations_total",
            &[
                ("function", function),
                ("trigger", trigger),
                ("outcome", outcome),
            ],
        )
        .await as u64
    }

    /// Waits until [`Node::invocations`] reaches at least `n`.
    pub async fn wait_for_invocations(&self, function: &str, trigger: &str, outcome: &str, n: u64) {
        let what = format!("{n} {outcome} invocations of `{function}` by {trigger}");
        eventually(&what, TIMEOUT, || async {
            (self.invocations(function, trigger, outcome).await >= n).then_some(())
        })
        .await;
    }

    /// The node process's resident memory, in KiB (`VmRSS` of
    /// /proc/PID/status).
    pub fn rss_kib(&self) -> u64 {
        proc_status_kib(self.pid(), "VmRSS:")
    }

    /// Asserts the node still answers `/healthz`.
    pub async fn assert_up(&self) {
        let answer = self.get("/healthz").await;
        assert_eq!(answer.ok()["status"], "ok", "the node is not healthy");
    }

    /// The `hostile MODE in TRIGGER` line the guest logs when an invocation
    /// starts, and the host's line about how that invocation ended: the
    /// time between them in milliseconds, and the host's text.
    pub async fn cut_off(&self, function: &str, says: &str) -> (u64, String) {
        let end = self.wait_for_log(function, &[says], TIMEOUT).await;
        let lines = self.logs(function).await;
        let start = lines
            .iter()
            .find(|l| {
                l["invocation"] == end["invocation"]
                    && l["text"]
                        .as_str()
                        .is_some_and(|t| t.starts_with("hostile "))
            })
            .unwrap_or_else(|| panic!("no start line for the invocation of {end}"));
        let ms = end["time_ms"].as_u64().unwrap() - start["time_ms"].as_u64().unwrap();
        (ms, end["text"].as_str().unwrap().to_owned())
    }
}

/// The value of sample `name` with `labels` in `text` (0 when absent).
pub fn metric_value(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (metric, rest) = series.split_once('{').unwrap_or((series, ""));
            (metric == name
                && labels
                    .iter()
                    .all(|(k, v)| rest.contains(&format!("{k}=\"{v}\""))))
            .then(|| value.parse::<f64>().ok())
            .flatten()
        })
        .sum()
}

/// A `kB` field (such as `VmRSS:`) of /proc/PID/status.
pub fn proc_status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|e| panic!("cannot read /proc/{pid}/status: {e}"));
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

/// What [`GoodTraffic`] saw.
#[derive(Debug, Clone, Default)]
pub struct GoodStats {
    /// Latency of each successful publish, in microseconds, in order.
    pub latencies_us: Vec<u64>,
    /// The failed publishes: status and body.
    pub failures: Vec<(u16, String)>,
}

impl GoodStats {
    /// The median latency in microseconds (0 when there was none).
    pub fn median_us(&self) -> u64 {
        median(&self.latencies_us)
    }

    /// Asserts that it published at least `min` times and never failed.
    #[track_caller]
    pub fn assert_all_ok(&self, min: usize) {
        assert!(
            self.failures.is_empty(),
            "the good function's publishes failed while the hostile one ran: {:?}",
            &self.failures[..self.failures.len().min(5)]
        );
        assert!(
            self.latencies_us.len() >= min,
            "only {} good publishes went through (wanted at least {min})",
            self.latencies_us.len()
        );
    }
}

/// The median of `values` (0 when empty).
pub fn median(values: &[u64]) -> u64 {
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    sorted.get(sorted.len() / 2).copied().unwrap_or(0)
}

/// A well-behaved publisher: publishes `{"text": "hello   world"}` to
/// [`GOOD_CHANNEL`] (guarded by [`Node::deploy_good`]) one after another,
/// checking that each is moderated, until stopped.
pub struct GoodTraffic {
    stop: Arc<AtomicBool>,
    task: JoinHandle<GoodStats>,
}

impl GoodTraffic {
    /// Starts publishing on `node`, pausing `pause` between publishes.
    pub fn start(node: &Node, pause: Duration) -> GoodTraffic {
        let stop = Arc::new(AtomicBool::new(false));
        let (client, url) = (
            reqwest::Client::new(),
            node.url(&format!("/v1/publish/{GOOD_CHANNEL}")),
        );
        let stopped = Arc::clone(&stop);
        let task = tokio::spawn(async move {
            let mut stats = GoodStats::default();
            while !stopped.load(Ordering::SeqCst) {
                let started = Instant::now();
                let sent = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(r#"{"text":"hello   world"}"#)
                    .timeout(Duration::from_secs(20))
                    .send()
                    .await;
                match sent {
                    Ok(response) if response.status().is_success() => {
                        let _ = response.bytes().await;
                        stats
                            .latencies_us
                            .push(started.elapsed().as_micros() as u64);
                    }
                    Ok(response) => {
                        let status = response.status().as_u16();
                        let body = response.text().await.unwrap_or_default();
                        stats.failures.push((status, body));
                    }
                    Err(e) => stats.failures.push((0, e.to_string())),
                }
                if !pause.is_zero() {
                    tokio::time::sleep(pause).await;
                }
            }
            stats
        });
        GoodTraffic { stop, task }
    }

    /// Stops publishing and returns what it saw.
    pub async fn stop(self) -> GoodStats {
        self.stop.store(true, Ordering::SeqCst);
        within("the good publisher to stop", TIMEOUT, self.task)
            .await
            .expect("the good publisher panicked")
    }
}

/// A raw TCP connection to the node, for requests a proper client would
/// not send (half a request head, huge headers, a body that never comes).
pub struct RawClient {
    /// The connection.
    pub stream: TcpStream,
}

/// How a raw connection ended up.
#[derive(Debug)]
pub enum Outcome {
    /// The node answered (the text read until it closed or `limit` passed).
    Answered(String),
    /// The node closed the connection without answering.
    Closed,
    /// Still open, nothing received, when the wait ended.
    Open,
}

impl RawClient {
    /// Connects to the node.
    pub async fn connect(node: &Node) -> RawClient {
        let stream = TcpStream::connect(node.authority())
            .await
            .expect("cannot connect to the node");
        RawClient { stream }
    }

    /// Sends `bytes` (a write error, e.g. the node closed first, is ignored).
    pub async fn send(&mut self, bytes: &[u8]) {
        let _ = self.stream.write_all(bytes).await;
    }

    /// Reads until the node closes the connection or `limit` passes.
    pub async fn outcome_within(&mut self, limit: Duration) -> Outcome {
        let mut seen = Vec::new();
        let mut chunk = [0u8; 16 * 1024];
        let read = tokio::time::timeout(limit, async {
            loop {
                match self.stream.read(&mut chunk).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => seen.extend_from_slice(&chunk[..n]),
                }
            }
        })
        .await;
        match (read.is_ok(), seen.is_empty()) {
            (_, false) => Outcome::Answered(String::from_utf8_lossy(&seen).into_owned()),
            (true, true) => Outcome::Closed,
            (false, true) => Outcome::Open,
        }
    }
}
