//! Cluster benchmark on loopback: one `nats-server -js` and two nodes
//! joined through it, next to a node running alone and to raw NATS
//! publish/subscribe (what the network layer alone allows):
//! - publish-to-SSE latency p50/p99: alone; in the cluster on the same
//!   node; from node A to a subscriber on node B; raw NATS between two
//!   processes, as the nodes are (the ratios' reference), and between two
//!   connections of this process;
//! - publish throughput: alone, and on a cluster node (with a subscriber
//!   on the other node);
//! - after-publish copies: a function (the `sleepy` test guest, not
//!   sleeping) bound to a channel published to at full speed; how many of
//!   its copies ran and how fast (alone: the node's bounded queue, which
//!   drops what does not fit; in the cluster: the function's work queue,
//!   run by both nodes, which drops nothing).
//!
//! Needs `target/release/edgefn` (or `EDGEFN_BIN`), `target/guests/
//! sleepy.wasm` (`scripts/build-guests.sh --manifest tests/guests/Cargo.toml`), and a nats-server 2.10 or newer (`EDGEFN_NATS_SERVER`,
//! default `target/tools/nats-server`, which `scripts/test.sh` installs).
//! Run with `scripts/bench.sh` or `cargo bench -p edgefn --bench cluster`.
//! Knobs: `BENCH_SECONDS`, `BENCH_CLIENTS`, `BENCH_LATENCY_MESSAGES`.

#[allow(dead_code)] // each benchmark uses part of it
mod support;

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures::StreamExt;
use support::{Node, deploy, env_or, latency, percentile, publish_for, repo, throughput};
use tokio::io::AsyncBufReadExt;

/// A `nats-server -js` on a free loopback port, killed on drop.
struct Nats {
    child: Child,
    url: String,
    store: PathBuf,
}

impl Nats {
    fn start() -> Self {
        let bin = std::env::var("EDGEFN_NATS_SERVER")
            .map(PathBuf::from)
            .unwrap_or_else(|_| repo().join("target/tools/nats-server"));
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let store = std::env::temp_dir().join(format!("edgefn-bench-nats-{}", std::process::id()));
        let child = Command::new(&bin)
            .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
            .arg(&store)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start {}: {e}; run scripts/test.sh once to install it",
                    bin.display()
                )
            });
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "nats-server did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Self {
            child,
            url: format!("nats://127.0.0.1:{port}"),
            store,
        }
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.store);
    }
}

/// Longest a raw NATS message may take to arrive: a benchmark that loses
/// one fails saying so instead of waiting for ever.
const DELIVERY_LIMIT: Duration = Duration::from_secs(10);

/// Sequential publish → receive over two NATS connections; sorted latencies.
async fn raw_nats(url: &str, count: usize) -> Vec<Duration> {
    let publisher = async_nats::connect(url).await.unwrap();
    let subscriber = async_nats::connect(url).await.unwrap();
    let mut messages = subscriber.subscribe("bench.raw").await.unwrap();
    subscriber.flush().await.unwrap();
    let mut samples = Vec::with_capacity(count);
    for i in 0..count + 50 {
        let sent = Instant::now();
        publisher
            .publish("bench.raw", format!("{i}").into())
            .await
            .unwrap();
        publisher.flush().await.unwrap();
        tokio::time::timeout(DELIVERY_LIMIT, messages.next())
            .await
            .expect("no delivery within the limit")
            .expect("the subscription ended");
        if i >= 50 {
            samples.push(sent.elapsed());
        }
    }
    samples.sort();
    samples
}

/// Sequential publish → receive between this process and a subscriber in
/// a process of its own (this benchmark run as [`raw_nats_subscriber`]),
/// as the nodes are two processes: each sample is from just before the
/// publish to the subscriber's receipt (both read the same wall clock);
/// sorted.
async fn raw_nats_between_processes(url: &str, count: usize) -> Vec<Duration> {
    let mut subscriber = tokio::process::Command::new(std::env::current_exe().unwrap())
        .env(RAW_SUBSCRIBER, url)
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the subscriber process starts");
    let mut receipts = tokio::io::BufReader::new(subscriber.stdout.take().unwrap()).lines();
    let ready = receipts.next_line().await.unwrap();
    assert_eq!(
        ready.as_deref(),
        Some("ready"),
        "the subscriber did not start"
    );
    let publisher = async_nats::connect(url).await.unwrap();
    let mut samples = Vec::with_capacity(count);
    for i in 0..count + 50 {
        let sent = wall_clock_micros();
        publisher
            .publish(RAW_SUBJECT, format!("{i}").into())
            .await
            .unwrap();
        publisher.flush().await.unwrap();
        let received: u64 = tokio::time::timeout(DELIVERY_LIMIT, receipts.next_line())
            .await
            .expect("no delivery within the limit")
            .unwrap()
            .expect("the subscriber ended")
            .parse()
            .unwrap();
        if i >= 50 {
            samples.push(Duration::from_micros(received.saturating_sub(sent)));
        }
    }
    samples.sort();
    samples
}

/// Set (to the NATS URL) when this benchmark runs as the subscriber of
/// [`raw_nats_between_processes`].
const RAW_SUBSCRIBER: &str = "BENCH_RAW_NATS_SUBSCRIBER";
const RAW_SUBJECT: &str = "bench.raw.processes";

/// The subscriber process: says `ready` once subscribed, then prints the
/// wall-clock time each message arrived, one line each.
async fn raw_nats_subscriber(url: &str) {
    use std::io::Write;
    let client = async_nats::connect(url).await.unwrap();
    let mut messages = client.subscribe(RAW_SUBJECT).await.unwrap();
    client.flush().await.unwrap();
    let mut out = std::io::stdout().lock();
    writeln!(out, "ready").unwrap();
    out.flush().unwrap();
    while messages.next().await.is_some() {
        let received = wall_clock_micros();
        if writeln!(out, "{received}")
            .and_then(|()| out.flush())
            .is_err()
        {
            return;
        }
    }
}

fn wall_clock_micros() -> u64 {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    u64::try_from(now.unwrap().as_micros()).unwrap()
}

/// What an after-publish flood came to.
struct AfterPublishRun {
    /// Messages acknowledged (each with one copy to run).
    sent: u64,
    /// Their publish rate, msg/s.
    published: f64,
    /// Copies run (whatever their outcome), and dropped for want of room.
    ran: u64,
    dropped: u64,
    /// Copies run per second, from the first publish to the last copy.
    rate: f64,
}

/// Publishes to `after.x` through `nodes[0]` for `seconds` with the `sleepy`
/// guest (no sleep) bound to it; waits until every copy has run (on any of
/// `nodes`) or was dropped.
async fn after_publish(
    client: &reqwest::Client,
    nodes: &[&Node],
    clients: usize,
    seconds: u64,
) -> AfterPublishRun {
    let spec = r#"{"after_publish":["after.*"],"config":{"after_sleep_ms":"0"}}"#;
    deploy(client, nodes[0], "sleepy", "sleepy", spec).await;
    let started = Instant::now();
    let (sent, took) = publish_for(client, nodes[0], "after.x", clients, seconds).await;
    let deadline = Instant::now() + Duration::from_secs(120);
    let (ran, dropped) = loop {
        let ran = metric(
            client,
            nodes,
            "edgefn_function_invocations_total{",
            "function=\"sleepy\"",
        )
        .await;
        let dropped = metric(client, nodes, "edgefn_after_publish_dropped_total", "").await;
        if ran + dropped >= sent || Instant::now() > deadline {
            break (ran, dropped);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    AfterPublishRun {
        sent,
        published: sent as f64 / took.as_secs_f64(),
        ran,
        dropped,
        rate: ran as f64 / started.elapsed().as_secs_f64(),
    }
}

/// The sum over `nodes` of the `/metrics` samples whose line starts with
/// `name` and contains `label`.
async fn metric(client: &reqwest::Client, nodes: &[&Node], name: &str, label: &str) -> u64 {
    let mut sum = 0;
    for node in nodes {
        sum += support::metrics(client, node)
            .await
            .lines()
            .filter(|line| line.starts_with(name) && line.contains(label))
            .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>() as u64;
    }
    sum
}

fn main() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let seconds = env_or("BENCH_SECONDS", 5);
    let clients = env_or("BENCH_CLIENTS", 32);
    let messages = env_or("BENCH_LATENCY_MESSAGES", 2000);
    if let Ok(url) = std::env::var(RAW_SUBSCRIBER) {
        runtime.block_on(raw_nats_subscriber(&url));
        return;
    }
    runtime.block_on(async {
        let nats = Nats::start();
        let alone = Node::start(&[]);
        let a = Node::start(&["--nats", &nats.url]);
        let b = Node::start(&["--nats", &nats.url]);
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(clients)
            .build()
            .unwrap();
        let rows = [
            (
                "alone",
                latency(&client, &alone, &alone, "lat.alone", messages).await,
            ),
            (
                "cluster, same node",
                latency(&client, &a, &a, "lat.same", messages).await,
            ),
            (
                "cluster, node A → node B",
                latency(&client, &a, &b, "lat.cross", messages).await,
            ),
            (
                "raw NATS, two processes",
                raw_nats_between_processes(&nats.url, messages).await,
            ),
            ("raw NATS, one process", raw_nats(&nats.url, messages).await),
        ];
        let raw_p50 = percentile(&rows[3].1, 0.5);
        println!("publish-to-delivery latency, sequential ({messages} messages):");
        for (what, samples) in &rows {
            let (p50, p99) = (percentile(samples, 0.5), percentile(samples, 0.99));
            println!(
                "  {what:<26} p50 {p50:>7.0} µs  p99 {p99:>7.0} µs  (p50 {:.1}× raw NATS)",
                p50 / raw_p50
            );
        }
        let single = throughput(&client, &alone, "plain.x", clients, seconds).await;
        let clustered = throughput(&client, &a, "plain.x", clients, seconds).await;
        println!("publish throughput ({clients} clients, {seconds} s):");
        println!("  alone                      {single:>9.0} msg/s");
        println!(
            "  cluster node               {clustered:>9.0} msg/s  ({:.2}× alone)",
            clustered / single
        );
        let single = after_publish(&client, &[&alone], clients, seconds).await;
        let clustered = after_publish(&client, &[&a, &b], clients, seconds).await;
        println!("after-publish copies (one function on the published channel, {clients} clients, {seconds} s):");
        for (what, run) in [("alone", &single), ("cluster, 2 nodes", &clustered)] {
            println!(
                "  {what:<26} {:>9.0} msg/s published; {} of {} copies ran ({} dropped), {:>7.0} copies/s",
                run.published, run.ran, run.sent, run.dropped, run.rate
            );
        }
    });
}
