//! What the end-to-end benchmarks share: a node process on loopback
//! (killed on drop), deploying `moderate`, publish throughput from
//! concurrent clients, publish-to-SSE latency, and the node's own
//! invocation-time histogram.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;

pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The node under test, killed on drop.
pub struct Node {
    child: Child,
    /// Its base URL.
    pub base: String,
    _data: PathBuf,
}

/// The `[http]` settings every benchmarked node runs with: no publish rate
/// limits, since the benchmarks publish flat out from one address, which
/// is what the default per-address limit is there to stop.
const HTTP_SETTINGS: &str = "publish_rate_per_address = 0\npublish_rate_per_token = 0\n";

impl Node {
    /// Starts a node with `extra` arguments (`--nats URL`, say).
    pub fn start(extra: &[&str]) -> Self {
        Self::start_with("", extra)
    }

    /// Starts a node whose config file's `[http]` table also holds `http`
    /// (lines of TOML), with `extra` arguments. A node joining NATS gets
    /// the benchmark's shared secrets key ([`secrets_key_file`]).
    pub fn start_with(http: &str, extra: &[&str]) -> Self {
        let bin = std::env::var("EDGEFN_BIN")
            .map(PathBuf::from)
            .unwrap_or_else(|_| repo().join("target/release/edgefn"));
        static STARTED: AtomicU64 = AtomicU64::new(0);
        let n = STARTED.fetch_add(1, Ordering::Relaxed);
        let data = std::env::temp_dir().join(format!("edgefn-bench-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&data);
        std::fs::create_dir_all(&data).expect("a data directory");
        let config = data.join("bench.toml");
        std::fs::write(&config, format!("[http]\n{HTTP_SETTINGS}{http}")).unwrap();
        let mut command = Command::new(&bin);
        command
            .args(["serve", "--listen", "127.0.0.1:0", "--admin-key", "bench"])
            .arg("--data-dir")
            .arg(&data)
            .arg("--config")
            .arg(&config)
            .args(extra);
        if extra.contains(&"--nats") {
            command.arg("--secrets-key-file").arg(secrets_key_file());
        }
        let mut child = command
            .env("EDGEFN_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let base = stdout
            .lines()
            .map_while(Result::ok)
            .find_map(|line| {
                line.strip_prefix("edgefn listening on ")
                    .map(|rest| rest.split(' ').next().unwrap().to_owned())
            })
            .expect("the node did not report its address");
        Node {
            child,
            base,
            _data: data,
        }
    }
}

/// The secrets key every node of a benchmarked cluster shares (a cluster
/// node needs one): 32 random bytes, written once per benchmark process.
fn secrets_key_file() -> PathBuf {
    static KEY: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    KEY.get_or_init(|| {
        let path =
            std::env::temp_dir().join(format!("edgefn-bench-secrets-{}.key", std::process::id()));
        let mut key = [0u8; 32];
        std::io::Read::read_exact(
            &mut std::fs::File::open("/dev/urandom").expect("/dev/urandom"),
            &mut key,
        )
        .expect("32 random bytes");
        std::fs::write(&path, key).expect("the secrets key file");
        path
    })
    .clone()
}

impl Node {
    /// Its process id.
    #[allow(dead_code)] // not every benchmark that includes this module uses it
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self._data);
    }
}

/// Deploys `target/guests/{guest}.wasm` as `name` with `spec` on `node`.
pub async fn deploy(client: &reqwest::Client, node: &Node, name: &str, guest: &str, spec: &str) {
    let wasm = std::fs::read(repo().join(format!("target/guests/{guest}.wasm")))
        .expect("run scripts/build-guests.sh first");
    let form = reqwest::multipart::Form::new()
        .text("spec", spec.to_owned())
        .part("component", reqwest::multipart::Part::bytes(wasm));
    let response = client
        .put(format!("{}/v1/admin/functions/{name}", node.base))
        .bearer_auth("bench")
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "deploy failed: {}",
        response.text().await.unwrap()
    );
}

/// Deploys the `moderate` example as a before-publish hook on `chat.*`.
pub async fn deploy_moderate(client: &reqwest::Client, node: &Node) {
    let spec = r#"{"before_publish":["chat.*"],"config":{"banned_words":"spam,scam"}}"#;
    deploy(client, node, "moderate", "moderate", spec).await;
}

/// Publishes from `clients` concurrent connections for `seconds`; returns messages per second.
pub async fn throughput(
    client: &reqwest::Client,
    node: &Node,
    channel: &str,
    clients: usize,
    seconds: u64,
) -> f64 {
    let (sent, took) = publish_for(client, node, channel, clients, seconds).await;
    sent as f64 / took.as_secs_f64()
}

/// Publishes from `clients` concurrent connections for `seconds`; returns
/// how many were acknowledged, and how long that took.
pub async fn publish_for(
    client: &reqwest::Client,
    node: &Node,
    channel: &str,
    clients: usize,
    seconds: u64,
) -> (u64, Duration) {
    let sent = Arc::new(AtomicU64::new(0));
    let until = Instant::now() + Duration::from_secs(seconds);
    let url = format!("{}/v1/publish/{channel}", node.base);
    let tasks: Vec<_> = (0..clients)
        .map(|i| {
            let (client, url, sent) = (client.clone(), url.clone(), Arc::clone(&sent));
            tokio::spawn(async move {
                let body = format!(r#"{{"text":"  hello   from client {i} ","n":1}}"#);
                while Instant::now() < until {
                    let response = client.post(&url).body(body.clone()).send().await.unwrap();
                    assert!(response.status().is_success());
                    response.bytes().await.unwrap();
                    sent.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    let started = Instant::now();
    for task in tasks {
        task.await.unwrap();
    }
    (sent.load(Ordering::Relaxed), started.elapsed())
}

/// Publishes `count` messages one at a time on `channel` of `publisher` and
/// measures how long each takes to arrive on an SSE subscription on
/// `subscriber`;
/// returns sorted latencies.
pub async fn latency(
    client: &reqwest::Client,
    publisher: &Node,
    subscriber: &Node,
    channel: &str,
    count: usize,
) -> Vec<Duration> {
    let response = client
        .get(format!("{}/v1/subscribe/{channel}", subscriber.base))
        .send()
        .await
        .unwrap();
    let mut body = response.bytes_stream();
    let mut buffer = String::new();
    let mut next_data = async move || loop {
        if let Some(end) = buffer.find("\n\n") {
            let event: String = buffer.drain(..end + 2).collect();
            let data = event.lines().find_map(|l| l.strip_prefix("data:"));
            if let Some(data) = data.filter(|_| event.contains("event: message")) {
                return data.trim().to_owned();
            }
            continue;
        }
        let chunk = body.next().await.expect("stream ended").unwrap();
        buffer.push_str(std::str::from_utf8(&chunk).unwrap());
    };
    // The `ready` event is not a message: wait for it by publishing a warm-up.
    let url = format!("{}/v1/publish/{channel}", publisher.base);
    let mut samples = Vec::with_capacity(count);
    for i in 0..count + 50 {
        // Timed to the delivery, not to the publisher's answer (which waits
        // until the message is durable); both are awaited before the next.
        let sent = Instant::now();
        let (answered, data) = tokio::join!(client.post(&url).body(format!("{i}")).send(), async {
            let data = next_data().await;
            (data, sent.elapsed())
        });
        answered.unwrap();
        let (data, delivered) = data;
        assert!(
            data.contains(&format!("\"message\":{i},")),
            "out of order: {data}"
        );
        if i >= 50 {
            samples.push(delivered);
        }
    }
    samples.sort();
    samples
}

/// The `p`-quantile of sorted `samples`, in microseconds.
pub fn percentile(samples: &[Duration], p: f64) -> f64 {
    samples[((samples.len() as f64 - 1.0) * p) as usize].as_secs_f64() * 1e6
}

/// The node's `/metrics` text.
pub async fn metrics(client: &reqwest::Client, node: &Node) -> String {
    let response = client.get(format!("{}/metrics", node.base)).send().await;
    response.unwrap().text().await.unwrap()
}

/// The node's before-publish invocation-time histogram: cumulative counts
/// by upper bound in seconds, from its `/metrics`.
pub async fn before_publish_histogram(client: &reqwest::Client, node: &Node) -> Vec<(f64, u64)> {
    metrics(client, node)
        .await
        .lines()
        .filter(|line| {
            line.starts_with("edgefn_function_invocation_seconds_bucket")
                && line.contains(r#"trigger="BeforePublish""#)
        })
        .map(|line| {
            let le = line
                .split(r#"le=""#)
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap();
            let bound = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().unwrap()
            };
            let count = line.rsplit(' ').next().unwrap().parse().unwrap();
            (bound, count)
        })
        .collect()
}

/// The `p`-quantile, in microseconds, of what was counted between the
/// cumulative histograms `before` and `after` (interpolated within its
/// bucket, as Prometheus's `histogram_quantile` does).
pub fn histogram_quantile(before: &[(f64, u64)], after: &[(f64, u64)], p: f64) -> f64 {
    let counts: Vec<(f64, u64)> = after
        .iter()
        .map(|&(bound, count)| {
            let earlier = before
                .iter()
                .find(|(b, _)| *b == bound)
                .map_or(0, |(_, c)| *c);
            (bound, count - earlier)
        })
        .collect();
    let total = counts.last().map_or(0, |(_, c)| *c) as f64;
    let rank = total * p;
    let (mut lower, mut below) = (0.0, 0.0);
    for (bound, count) in counts {
        let count = count as f64;
        if count >= rank {
            let upper = if bound.is_finite() { bound } else { lower };
            let share = if count > below {
                (rank - below) / (count - below)
            } else {
                0.0
            };
            return (lower + (upper - lower) * share) * 1e6;
        }
        (lower, below) = (bound, count);
    }
    lower * 1e6
}

/// Publishes `count` messages `moderate` rewrites on `channel`, one at a
/// time; returns the p50 and p99 of the hook's time as the node measured
/// it on its publish path, in microseconds.
pub async fn hook_in_situ(
    client: &reqwest::Client,
    node: &Node,
    channel: &str,
    count: usize,
) -> (f64, f64) {
    let url = format!("{}/v1/publish/{channel}", node.base);
    let before = before_publish_histogram(client, node).await;
    for i in 0..count {
        let body = format!(r#"{{"text":"  hello   there {i} ","user":"ann"}}"#);
        let response = client.post(&url).body(body).send().await.unwrap();
        assert!(response.status().is_success());
        response.bytes().await.unwrap();
    }
    let after = before_publish_histogram(client, node).await;
    (
        histogram_quantile(&before, &after, 0.5),
        histogram_quantile(&before, &after, 0.99),
    )
}
