//! Fan-out benchmark on loopback: edgefn next to nats-server core
//! publish/subscribe (a dedicated broker on the same machine), all in one
//! run, so that the ratios hold on a noisy machine where absolute figures
//! drift:
//! - fan-out: one publisher, N subscribers on one channel (N from
//!   `BENCH_FANOUT_SUBSCRIBERS`, default `4,100,500`), 128-byte JSON
//!   messages carrying their send time. nats-server without JetStream, one
//!   connection per subscriber; edgefn with WebSocket subscribers
//!   (`/v1/ws`), and with SSE subscribers (`/v1/subscribe`), its publisher
//!   one WebSocket keeping up to `BENCH_WS_WINDOW` (default 256) publish
//!   frames in flight. Modes: flat out for `BENCH_SECONDS` (default 3),
//!   then paced for as long at each rate of `BENCH_FANOUT_RATES` (default
//!   `1000,10000` msg/s, on a schedule). Each row: deliveries/s, send →
//!   receive latency p50/p99, both as a ratio to nats-server, and what
//!   went amiss: a publisher that fell behind its pace, subscribers cut off
//!   as slow (NATS: messages dropped as one) or disconnected, deliveries
//!   still missing when the run ended (once none came for 1 s, or 20 s
//!   after the last publish);
//! - idle subscribers: the node's RSS (`VmRSS`) before and after opening
//!   K idle WebSocket subscribers, then (on a fresh node) K idle SSE
//!   subscribers, each on its own channel; K from `BENCH_IDLE` (default
//!   `10000`). The node gets `[http] max_connections = K + 100`; sockets
//!   come from 16 loopback source addresses. A K beyond this process's
//!   open-files limit (which the node inherits) is skipped, saying so (one
//!   WebSocket and one SSE test at a time: about 19,000 at most under this
//!   sandbox's 20,000);
//! - publish rate on one WebSocket connection: `BENCH_WS_PUBLISH` (default
//!   20000) messages with one frame in flight and with the window, next to
//!   HTTP publish from `BENCH_CLIENTS` (default 32) connections for
//!   `BENCH_SECONDS`.
//!
//! Needs `target/release/edgefn` (or `EDGEFN_BIN`). The nats-server rows
//! need `EDGEFN_NATS_SERVER` or `target/tools/nats-server` (which
//! `scripts/test.sh` installs) and are skipped without one. Run with
//! `scripts/bench.sh` or `cargo bench -p edgefn --bench fanout`; a quick
//! check: `BENCH_SECONDS=1 BENCH_IDLE=1000 cargo bench -p edgefn --bench fanout`.

#[allow(dead_code)] // each benchmark uses part of it
mod support;

use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use support::{Node, env_or, repo, throughput};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message as Frame;

/// Bytes of each published message (its JSON).
const MESSAGE_BYTES: usize = 128;
/// Loopback source addresses the client sockets are spread over.
const SOURCES: usize = 16;
/// Subscribers being opened at once.
const OPENING: usize = 128;
/// How long a connection may take to be ready, or a publish to be answered.
const PATIENCE: Duration = Duration::from_secs(10);
/// After publishing, deliveries are waited for until none came for this long ...
const STALL: Duration = Duration::from_secs(1);
/// ... or for this long at most.
const DRAIN: Duration = Duration::from_secs(20);
/// The WebSocket close code of a subscriber cut off as slow.
const CLOSE_SLOW: u16 = 4008;

struct Knobs {
    seconds: u64,
    subscribers: Vec<usize>,
    rates: Vec<usize>,
    window: usize,
    idle: Vec<usize>,
    ws_publish: u64,
    clients: usize,
}

impl Knobs {
    fn from_env() -> Self {
        Self {
            seconds: env_or("BENCH_SECONDS", 3),
            subscribers: env_list("BENCH_FANOUT_SUBSCRIBERS", "4,100,500"),
            rates: env_list("BENCH_FANOUT_RATES", "1000,10000"),
            window: env_or("BENCH_WS_WINDOW", 256usize).max(1),
            idle: env_list("BENCH_IDLE", "10000"),
            ws_publish: env_or("BENCH_WS_PUBLISH", 20_000),
            clients: env_or("BENCH_CLIENTS", 32),
        }
    }
}

/// A comma-separated list of positive numbers from the environment (`0`
/// or an empty list skips what it sizes).
fn env_list(name: &str, default: &str) -> Vec<usize> {
    std::env::var(name)
        .unwrap_or_else(|_| default.to_owned())
        .split(',')
        .filter_map(|v| v.trim().parse().ok())
        .filter(|&v| v > 0)
        .collect()
}

static EPOCH: LazyLock<Instant> = LazyLock::new(Instant::now);

/// Nanoseconds since this process started measuring.
fn now_ns() -> u64 {
    EPOCH.elapsed().as_nanos() as u64
}

/// A 128-byte JSON message carrying the time it is sent.
fn message() -> String {
    let head = format!(r#"{{"sent_ns":{},"pad":""#, now_ns());
    format!(r#"{head}{}"}}"#, "x".repeat(MESSAGE_BYTES - head.len() - 2))
}

/// The send time carried by a delivery (a whole frame or event), if it
/// holds one of our messages.
fn sent_ns(delivery: &[u8]) -> Option<u64> {
    const KEY: &[u8] = br#""sent_ns":"#;
    let start = find(delivery, KEY)? + KEY.len();
    let digits = delivery[start..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    std::str::from_utf8(&delivery[start..start + digits])
        .ok()?
        .parse()
        .ok()
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Latencies in microseconds, counted in log-linear buckets: exact below
/// 32 µs, then 32 buckets per power of two (about 3 % wide).
struct Histogram(Vec<u64>);

impl Histogram {
    fn new() -> Self {
        Self(vec![0; 28 * 32])
    }

    fn record(&mut self, micros: u64) {
        let micros = micros.min(u64::from(u32::MAX));
        let bucket = if micros < 32 {
            micros as usize
        } else {
            let exp = 63 - micros.leading_zeros() as usize;
            (exp - 4) * 32 + ((micros >> (exp - 5)) & 31) as usize
        };
        self.0[bucket] += 1;
    }

    fn merge(&mut self, other: &Histogram) {
        for (mine, theirs) in self.0.iter_mut().zip(&other.0) {
            *mine += theirs;
        }
    }

    /// The `p`-quantile in microseconds (a bucket's lower bound).
    fn quantile(&self, p: f64) -> Option<u64> {
        let total: u64 = self.0.iter().sum();
        let rank = ((p * total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        let bucket = self.0.iter().position(|count| {
            seen += count;
            seen >= rank
        })?;
        Some(if bucket < 32 {
            bucket as u64
        } else {
            ((32 + bucket % 32) as u64) << (bucket / 32 - 1)
        })
    }
}

/// Why a subscription ended before the run did (NATS: what happened to
/// it, since its client reconnects by itself).
enum Ended {
    /// Cut off as a slow consumer (NATS: messages dropped as one).
    Slow,
    /// Closed for another reason (NATS: disconnected).
    Closed,
}

/// What one subscriber received.
struct Tally {
    delivered: u64,
    latency: Histogram,
    /// When the last delivery arrived, in [`now_ns`] time.
    last_ns: u64,
    ended: Option<Ended>,
}

impl Tally {
    fn new() -> Self {
        Self {
            delivered: 0,
            latency: Histogram::new(),
            last_ns: 0,
            ended: None,
        }
    }

    fn record(&mut self, delivery: &[u8]) {
        if let Some(sent) = sent_ns(delivery) {
            let now = now_ns();
            self.delivered += 1;
            self.latency.record(now.saturating_sub(sent) / 1000);
            self.last_ns = now;
        }
    }
}

/// A `nats-server` (core only, no JetStream) on a free loopback port,
/// killed on drop.
struct NatsServer {
    child: Child,
    url: String,
}

impl NatsServer {
    fn binary() -> PathBuf {
        std::env::var("EDGEFN_NATS_SERVER")
            .map(PathBuf::from)
            .unwrap_or_else(|_| repo().join("target/tools/nats-server"))
    }

    /// Starts one, or `None` when there is no binary.
    fn start() -> Option<Self> {
        let port = TcpListener::bind("127.0.0.1:0")
            .ok()?
            .local_addr()
            .ok()?
            .port();
        let child = Command::new(Self::binary())
            .args(["-a", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed() < PATIENCE, "nats-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(Self {
            child,
            url: format!("nats://127.0.0.1:{port}"),
        })
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The node's address, from its base URL.
fn address(node: &Node) -> SocketAddr {
    node.base.trim_start_matches("http://").parse().unwrap()
}

/// A TCP connection to `server` from loopback source address `i % SOURCES`.
async fn connect(i: usize, server: SocketAddr) -> TcpStream {
    let source = Ipv4Addr::new(127, 0, 0, 1 + (i % SOURCES) as u8);
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::new(IpAddr::V4(source), 0)).unwrap();
    socket.set_nodelay(true).unwrap();
    socket
        .connect(server)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to {server} from {source}: {e}"))
}

async fn open_ws(i: usize, server: SocketAddr) -> WebSocketStream<TcpStream> {
    let stream = connect(i, server).await;
    let (ws, _) = tokio_tungstenite::client_async(format!("ws://{server}/v1/ws"), stream)
        .await
        .expect("WebSocket handshake failed");
    ws
}

/// A WebSocket subscribed to `channel`.
async fn ws_subscriber(i: usize, server: SocketAddr, channel: &str) -> WebSocketStream<TcpStream> {
    let mut ws = open_ws(i, server).await;
    let subscribe = format!(r#"{{"type":"subscribe","channels":["{channel}"]}}"#);
    ws.send(Frame::text(subscribe)).await.unwrap();
    match tokio::time::timeout(PATIENCE, ws.next()).await {
        Ok(Some(Ok(Frame::Text(answer)))) if answer.contains(r#""type":"subscribed""#) => ws,
        other => panic!("WebSocket subscribe failed: {other:?}"),
    }
}

/// An SSE subscription: hyper's HTTP/1.1 client on one of our sockets.
struct Sse {
    body: Incoming,
    /// Bytes received after the last complete event.
    buffer: Vec<u8>,
    _sender: SendRequest<Empty<Bytes>>,
    connection: JoinHandle<()>,
}

impl Drop for Sse {
    fn drop(&mut self) {
        self.connection.abort();
    }
}

impl Sse {
    /// Subscribes to `channel` and waits for the `ready` event.
    async fn open(i: usize, server: SocketAddr, channel: &str) -> Self {
        let io = TokioIo::new(connect(i, server).await);
        let (mut sender, connection) = hyper::client::conn::http1::handshake(io).await.unwrap();
        let connection = tokio::spawn(async move {
            let _ = connection.await;
        });
        let request = hyper::Request::get(format!("/v1/subscribe/{channel}"))
            .header(hyper::header::HOST, server.to_string())
            .body(Empty::new())
            .unwrap();
        let response = sender
            .send_request(request)
            .await
            .expect("SSE request failed");
        assert!(
            response.status().is_success(),
            "SSE subscribe answered {}",
            response.status()
        );
        let mut sse = Self {
            body: response.into_body(),
            buffer: Vec::new(),
            _sender: sender,
            connection,
        };
        let ready = tokio::time::timeout(PATIENCE, sse.until_ready()).await;
        assert!(
            matches!(ready, Ok(true)),
            "no `ready` event on the SSE stream"
        );
        sse
    }

    async fn until_ready(&mut self) -> bool {
        let mut ready = false;
        while !ready {
            if !self
                .read(|event| ready |= event.starts_with(b"event: ready"))
                .await
            {
                return false;
            }
        }
        true
    }

    /// Reads one chunk and records the messages it completes.
    async fn next(&mut self, tally: &mut Tally) -> Result<(), Ended> {
        let mut ended = None;
        let open = self
            .read(|event| {
                if event.starts_with(b"event: message") {
                    tally.record(event);
                } else if event.starts_with(b"event: error") {
                    let slow = find(event, b"slow_consumer").is_some();
                    ended = Some(if slow { Ended::Slow } else { Ended::Closed });
                }
            })
            .await;
        match ended {
            Some(ended) => Err(ended),
            None if open => Ok(()),
            None => Err(Ended::Closed),
        }
    }

    /// Reads one chunk and hands each event it completes to `each`; false
    /// once the stream has ended.
    async fn read(&mut self, mut each: impl FnMut(&[u8])) -> bool {
        let data = match self.body.frame().await {
            Some(Ok(frame)) => frame.into_data().unwrap_or_default(),
            _ => return false,
        };
        self.buffer.extend_from_slice(&data);
        let mut start = 0;
        while let Some(end) = find(&self.buffer[start..], b"\n\n") {
            each(&self.buffer[start..start + end]);
            start += end + 2;
        }
        self.buffer.drain(..start);
        true
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Transport {
    Nats,
    Ws,
    Sse,
}

impl Transport {
    fn system(self) -> &'static str {
        match self {
            Transport::Nats => "nats-server",
            Transport::Ws | Transport::Sse => "edgefn",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Transport::Nats => "nats",
            Transport::Ws => "ws",
            Transport::Sse => "sse",
        }
    }
}

/// Where the subscribers and publishers connect.
struct Servers {
    nats: Option<String>,
    node: SocketAddr,
}

/// One subscriber's connection, subscribed once built.
enum Subscriber {
    Nats {
        messages: async_nats::Subscriber,
        /// Set when the client dropped messages for want of room (a slow
        /// consumer), and when nats-server cut the connection (the client
        /// reconnects and subscribes again).
        dropped: Arc<AtomicBool>,
        disconnected: Arc<AtomicBool>,
        _client: async_nats::Client,
    },
    Ws(WebSocketStream<TcpStream>),
    Sse(Sse),
}

impl Subscriber {
    /// The `i`-th subscriber to `channel` over `transport`.
    async fn open(transport: Transport, i: usize, servers: &Servers, channel: &str) -> Self {
        match transport {
            Transport::Nats => Self::nats(servers.nats.as_deref().unwrap(), channel).await,
            Transport::Ws => Self::Ws(ws_subscriber(i, servers.node, channel).await),
            Transport::Sse => Self::Sse(Sse::open(i, servers.node, channel).await),
        }
    }

    async fn nats(url: &str, subject: &str) -> Self {
        let dropped = Arc::new(AtomicBool::new(false));
        let disconnected = Arc::new(AtomicBool::new(false));
        let flags = (Arc::clone(&dropped), Arc::clone(&disconnected));
        let client = async_nats::ConnectOptions::new()
            .event_callback(move |event| {
                let (dropped, disconnected) = (Arc::clone(&flags.0), Arc::clone(&flags.1));
                async move {
                    match event {
                        async_nats::Event::SlowConsumer(_) => {
                            dropped.store(true, Ordering::Relaxed)
                        }
                        async_nats::Event::Disconnected => {
                            disconnected.store(true, Ordering::Relaxed)
                        }
                        _ => {}
                    }
                }
            })
            .connect(url)
            .await
            .expect("cannot connect to nats-server");
        let messages = client.subscribe(subject.to_owned()).await.unwrap();
        client.flush().await.unwrap();
        Self::Nats {
            messages,
            dropped,
            disconnected,
            _client: client,
        }
    }

    /// Waits for the next frame, message or chunk and records what it delivers.
    async fn next(&mut self, tally: &mut Tally) -> Result<(), Ended> {
        match self {
            Self::Nats { messages, .. } => {
                let message = messages.next().await.ok_or(Ended::Closed)?;
                tally.record(&message.payload);
                Ok(())
            }
            Self::Ws(ws) => match ws.next().await {
                Some(Ok(Frame::Text(text))) => {
                    tally.record(text.as_bytes());
                    Ok(())
                }
                Some(Ok(Frame::Close(Some(close)))) if u16::from(close.code) == CLOSE_SLOW => {
                    Err(Ended::Slow)
                }
                Some(Ok(Frame::Close(_)) | Err(_)) | None => Err(Ended::Closed),
                Some(Ok(_)) => Ok(()),
            },
            Self::Sse(sse) => sse.next(tally).await,
        }
    }

    /// How a NATS subscription fared: messages dropped, or cut off (and
    /// subscribed again) at some point.
    fn nats_trouble(&self) -> Option<Ended> {
        match self {
            Self::Nats { dropped, .. } if dropped.load(Ordering::Relaxed) => Some(Ended::Slow),
            Self::Nats { disconnected, .. } if disconnected.load(Ordering::Relaxed) => {
                Some(Ended::Closed)
            }
            _ => None,
        }
    }
}

/// Receives until `stop` or until the subscription ends, adding each
/// delivery to `delivered` as it comes.
async fn receive(
    mut subscriber: Subscriber,
    mut stop: watch::Receiver<bool>,
    delivered: Arc<AtomicU64>,
) -> Tally {
    let mut tally = Tally::new();
    loop {
        let before = tally.delivered;
        let next = tokio::select! {
            _ = stop.changed() => break,
            next = subscriber.next(&mut tally) => next,
        };
        delivered.fetch_add(tally.delivered - before, Ordering::Relaxed);
        if let Err(ended) = next {
            tally.ended = Some(ended);
            break;
        }
    }
    if let Some(trouble) = subscriber.nats_trouble() {
        tally.ended = Some(trouble);
    }
    tally
}

/// When a publisher sends: flat out, or message `i` at `i / rate` seconds
/// after the start; at most `count` messages, none after `deadline`.
struct Plan {
    rate: Option<f64>,
    count: u64,
    started: Instant,
    deadline: Instant,
}

impl Plan {
    fn new(rate: Option<usize>, count: u64, seconds: u64) -> Self {
        let started = Instant::now();
        Self {
            rate: rate.map(|r| r as f64),
            count,
            started,
            deadline: started + Duration::from_secs(seconds),
        }
    }

    /// When message `i` is due.
    fn due(&self, i: u64) -> Instant {
        match self.rate {
            Some(rate) => self.started + Duration::from_secs_f64(i as f64 / rate),
            None => self.started,
        }
    }

    fn more(&self, i: u64) -> bool {
        i < self.count && Instant::now() < self.deadline
    }
}

/// What a publisher did.
struct Published {
    sent: u64,
    /// Acknowledged without error (NATS: every one sent).
    accepted: u64,
    took: Duration,
}

/// One connection publishing on a channel.
enum Publisher {
    Nats(async_nats::Client),
    Ws(WebSocketStream<TcpStream>),
}

impl Publisher {
    async fn open(transport: Transport, servers: &Servers) -> Self {
        match transport {
            Transport::Nats => {
                let url = servers.nats.as_deref().unwrap();
                Self::Nats(
                    async_nats::connect(url)
                        .await
                        .expect("cannot connect to nats-server"),
                )
            }
            Transport::Ws | Transport::Sse => Self::Ws(open_ws(0, servers.node).await),
        }
    }

    async fn publish(self, channel: &str, plan: &Plan, window: usize) -> Published {
        match self {
            Self::Nats(client) => publish_nats(&client, channel, plan).await,
            Self::Ws(ws) => publish_ws(ws, channel, plan, window).await,
        }
    }
}

async fn publish_nats(client: &async_nats::Client, subject: &str, plan: &Plan) -> Published {
    let subject = async_nats::Subject::from(subject.to_owned());
    let mut sent = 0;
    while plan.more(sent) {
        let due = plan.due(sent);
        if due > Instant::now() {
            tokio::time::sleep_until(due.into()).await;
        }
        client
            .publish(subject.clone(), message().into())
            .await
            .unwrap();
        sent += 1;
    }
    client.flush().await.unwrap();
    Published {
        sent,
        accepted: sent,
        took: plan.started.elapsed(),
    }
}

/// Publishes over one WebSocket with up to `window` frames unanswered,
/// sending whatever is due in one write; then waits for the answers.
async fn publish_ws(
    ws: WebSocketStream<TcpStream>,
    channel: &str,
    plan: &Plan,
    window: usize,
) -> Published {
    let window = window as u64;
    let (mut sink, mut answers) = ws.split();
    let (mut sent, mut answered, mut accepted) = (0, 0, 0);
    loop {
        let can_send = plan.more(sent) && sent - answered < window;
        if !can_send && sent == answered {
            break;
        }
        tokio::select! {
            answer = tokio::time::timeout(PATIENCE, answers.next()) => match answer {
                Ok(Some(Ok(Frame::Text(text)))) => {
                    answered += 1;
                    accepted += u64::from(text.contains(r#""type":"published""#));
                }
                Ok(Some(Ok(_))) => {}
                _ => break,
            },
            () = tokio::time::sleep_until(plan.due(sent).into()), if can_send => {
                while plan.more(sent) && sent - answered < window && plan.due(sent) <= Instant::now() {
                    let frame = format!(
                        r#"{{"type":"publish","channel":"{channel}","message":{},"id":{sent}}}"#,
                        message()
                    );
                    sink.feed(Frame::text(frame)).await.unwrap();
                    sent += 1;
                }
                sink.flush().await.unwrap();
            }
        }
    }
    Published {
        sent,
        accepted,
        took: plan.started.elapsed(),
    }
}

/// Waits until `expected` deliveries arrived, or none came for [`STALL`].
async fn drain(delivered: &AtomicU64, expected: u64) {
    let deadline = Instant::now() + DRAIN;
    let (mut last, mut since) = (0, Instant::now());
    while Instant::now() < deadline {
        let now = delivered.load(Ordering::Relaxed);
        if now >= expected || (now == last && since.elapsed() > STALL) {
            return;
        }
        if now != last {
            (last, since) = (now, Instant::now());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Flat,
    Paced(usize),
}

impl Mode {
    fn label(self) -> String {
        match self {
            Mode::Flat => "flat out".to_owned(),
            Mode::Paced(rate) => format!("{rate}/s"),
        }
    }
}

/// What one fan-out run came to.
struct Outcome {
    published: Published,
    /// Messages the publisher was to send (paced runs).
    planned: Option<u64>,
    delivered: u64,
    /// Deliveries per second, from the first publish to the last delivery.
    rate: f64,
    latency: Histogram,
    slow: usize,
    disconnected: usize,
}

/// One publisher and `n` subscribers on `channel` over `transport`.
async fn fan_out(
    transport: Transport,
    n: usize,
    mode: Mode,
    servers: &Servers,
    knobs: &Knobs,
    channel: &str,
) -> Outcome {
    let subscribers: Vec<Subscriber> = futures::stream::iter(0..n)
        .map(|i| Subscriber::open(transport, i, servers, channel))
        .buffer_unordered(OPENING)
        .collect()
        .await;
    let publisher = Publisher::open(transport, servers).await;
    let (stop, stopped) = watch::channel(false);
    let delivered = Arc::new(AtomicU64::new(0));
    let receivers: Vec<_> = subscribers
        .into_iter()
        .map(|s| tokio::spawn(receive(s, stopped.clone(), Arc::clone(&delivered))))
        .collect();
    let (rate, planned) = match mode {
        Mode::Flat => (None, None),
        Mode::Paced(rate) => (Some(rate), Some(rate as u64 * knobs.seconds)),
    };
    let started_ns = now_ns();
    let plan = Plan::new(rate, planned.unwrap_or(u64::MAX), knobs.seconds);
    let published = publisher.publish(channel, &plan, knobs.window).await;
    drain(&delivered, published.accepted * n as u64).await;
    stop.send_replace(true);
    let mut outcome = Outcome {
        published,
        planned,
        delivered: 0,
        rate: 0.0,
        latency: Histogram::new(),
        slow: 0,
        disconnected: 0,
    };
    let mut last_ns = started_ns;
    for receiver in receivers {
        let tally = receiver.await.unwrap();
        outcome.delivered += tally.delivered;
        outcome.latency.merge(&tally.latency);
        last_ns = last_ns.max(tally.last_ns);
        match tally.ended {
            Some(Ended::Slow) => outcome.slow += 1,
            Some(Ended::Closed) => outcome.disconnected += 1,
            None => {}
        }
    }
    let seconds = (last_ns - started_ns) as f64 / 1e9;
    outcome.rate = if seconds > 0.0 {
        outcome.delivered as f64 / seconds
    } else {
        0.0
    };
    outcome
}

/// Runs every fan-out case and prints a row for each as it finishes, with
/// ratios to the nats-server row of the same N and mode.
async fn fan_out_table(knobs: &Knobs) {
    let nats = NatsServer::start();
    let node = Node::start(&[]);
    let servers = Servers {
        nats: nats.as_ref().map(|n| n.url.clone()),
        node: address(&node),
    };
    println!(
        "fan-out: 1 publisher → N subscribers on one channel, {MESSAGE_BYTES}-byte messages, {} s per run (edgefn publisher: one WebSocket, {} frames in flight)",
        knobs.seconds, knobs.window
    );
    if nats.is_none() {
        println!(
            "  no nats-server at {}: its rows and the ratios are skipped (run scripts/test.sh once, or set EDGEFN_NATS_SERVER)",
            NatsServer::binary().display()
        );
    }
    println!(
        "  {:<12} {:<5} {:>4}  {:<9} {:>9} {:>13} {:>8} {:>8}  {:>10} {:>9}  notes",
        "system",
        "trans",
        "N",
        "mode",
        "pub/s",
        "deliveries/s",
        "p50 µs",
        "p99 µs",
        "rate ×nats",
        "p99 ×nats"
    );
    let transports = [Transport::Nats, Transport::Ws, Transport::Sse];
    let transports = transports
        .into_iter()
        .filter(|&t| t != Transport::Nats || nats.is_some());
    let transports: Vec<Transport> = transports.collect();
    let modes: Vec<Mode> = std::iter::once(Mode::Flat)
        .chain(knobs.rates.iter().map(|&r| Mode::Paced(r)))
        .collect();
    let mut run = 0;
    for &n in &knobs.subscribers {
        for &mode in &modes {
            let mut reference = None;
            for &transport in &transports {
                run += 1;
                let outcome =
                    fan_out(transport, n, mode, &servers, knobs, &format!("fan{run}")).await;
                print_row(transport, n, mode, &outcome, reference.as_ref());
                if transport == Transport::Nats {
                    reference = Some(outcome);
                }
            }
        }
    }
}

fn print_row(
    transport: Transport,
    n: usize,
    mode: Mode,
    outcome: &Outcome,
    nats: Option<&Outcome>,
) {
    let show = |v: Option<u64>| v.map_or("-".to_owned(), |v| v.to_string());
    let (p50, p99) = (
        outcome.latency.quantile(0.5),
        outcome.latency.quantile(0.99),
    );
    let ratio = |mine: Option<f64>, theirs: Option<f64>| match (mine, theirs) {
        (Some(mine), Some(theirs)) if theirs > 0.0 => format!("{:.2}", mine / theirs),
        _ => "-".to_owned(),
    };
    let rate_ratio = ratio(Some(outcome.rate), nats.map(|o| o.rate));
    let p99_of = |o: &Outcome| o.latency.quantile(0.99).map(|v| v.max(1) as f64);
    let p99_ratio = ratio(p99_of(outcome), nats.and_then(p99_of));
    let published = &outcome.published;
    println!(
        "  {:<12} {:<5} {n:>4}  {:<9} {:>9.0} {:>13.0} {:>8} {:>8}  {rate_ratio:>10} {p99_ratio:>9}  {}",
        transport.system(),
        transport.name(),
        mode.label(),
        published.sent as f64 / published.took.as_secs_f64(),
        outcome.rate,
        show(p50),
        show(p99),
        notes(n, outcome),
    )
}

/// What went amiss in a run: a publisher more than 1 % behind its pace,
/// publishes refused, subscribers cut off, deliveries that had not arrived
/// when the run ended.
fn notes(n: usize, outcome: &Outcome) -> String {
    let published = &outcome.published;
    let expected = published.accepted * n as u64;
    let mut notes = Vec::new();
    if let Some(planned) = outcome.planned.filter(|&p| published.sent * 100 < p * 99) {
        notes.push(format!("only {} of {planned} sent in time", published.sent));
    }
    if published.accepted < published.sent {
        notes.push(format!(
            "{} publishes refused",
            published.sent - published.accepted
        ));
    }
    if outcome.slow > 0 {
        notes.push(format!("{}/{n} cut as slow", outcome.slow));
    }
    if outcome.disconnected > 0 {
        notes.push(format!("{}/{n} disconnected", outcome.disconnected));
    }
    if outcome.delivered < expected {
        let missing = expected - outcome.delivered;
        let share = 100.0 * missing as f64 / expected as f64;
        notes.push(format!(
            "{missing} of {expected} deliveries missing ({share:.1} %)"
        ));
    }
    notes.join("; ")
}

/// The soft and hard open-files limits of this process.
fn open_files_limit() -> (u64, u64) {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    let mut values = line["Max open files".len()..]
        .split_whitespace()
        .map(|v| v.parse().unwrap_or(u64::MAX));
    (values.next().unwrap(), values.next().unwrap())
}

/// The resident set of process `pid`, in bytes.
fn rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().strip_suffix("kB"))
        .and_then(|v| v.trim().parse::<u64>().ok())
        .expect("no VmRSS in /proc/PID/status");
    kib * 1024
}

/// Extra open files a process needs besides its K sockets.
const SPARE_FILES: u64 = 100;

async fn idle_memory(knobs: &Knobs) {
    println!(
        "idle subscribers: node RSS before and after opening K, each on its own channel (node: max_connections = K + {SPARE_FILES})"
    );
    let (soft, hard) = open_files_limit();
    let used = std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count()) as u64;
    for &k in &knobs.idle {
        if k as u64 + used + SPARE_FILES > soft {
            println!(
                "  skipped K={k}: this process may open {soft} files (soft limit; hard {hard}), and K sockets need more (so would the node, which inherits the limit)"
            );
            continue;
        }
        for transport in [Transport::Ws, Transport::Sse] {
            idle(transport, k).await;
        }
    }
}

/// K idle subscribers over `transport` on a fresh node.
async fn idle(transport: Transport, k: usize) {
    let max = k as u64 + SPARE_FILES;
    let node = Node::start_with(&format!("max_connections = {max}\n"), &[]);
    let servers = Servers {
        nats: None,
        node: address(&node),
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = rss(node.pid());
    let started = Instant::now();
    let held: Vec<Subscriber> = futures::stream::iter(0..k)
        .map(|i| {
            let servers = &servers;
            async move { Subscriber::open(transport, i, servers, &format!("idle.{i}")).await }
        })
        .buffer_unordered(OPENING)
        .collect()
        .await;
    let opened = started.elapsed();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = rss(node.pid());
    let mib = |bytes: u64| bytes as f64 / (1024.0 * 1024.0);
    println!(
        "  {:<3} K={k:<6} RSS {:>7.1} MiB → {:>7.1} MiB: {:>6.0} bytes per subscriber (opened in {:.1} s)",
        transport.name(),
        mib(before),
        mib(after),
        after.saturating_sub(before) as f64 / held.len() as f64,
        opened.as_secs_f64(),
    );
}

/// Messages published one at a time on a WebSocket (each waits for its
/// answer, so a few thousand tell the rate).
const SEQUENTIAL_PUBLISH: u64 = 2000;

/// Publishes `count` messages on a new WebSocket with `window` in flight;
/// prints and returns the rate.
async fn ws_publish_rate(server: SocketAddr, count: u64, window: usize) -> f64 {
    let plan = Plan::new(None, count, 60);
    let published = publish_ws(open_ws(0, server).await, "rate.ws", &plan, window).await;
    let rate = published.accepted as f64 / published.took.as_secs_f64();
    let refused = published.sent - published.accepted;
    println!(
        "  ws, {window:>3} in flight  {rate:>9.0} msg/s ({count} messages, {refused} refused)"
    );
    rate
}

async fn publish_rate(knobs: &Knobs) {
    let node = Node::start(&[]);
    let server = address(&node);
    println!("publish rate: {MESSAGE_BYTES}-byte messages on one WebSocket, no subscribers");
    ws_publish_rate(server, knobs.ws_publish.min(SEQUENTIAL_PUBLISH), 1).await;
    let windowed = ws_publish_rate(server, knobs.ws_publish, knobs.window).await;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(knobs.clients)
        .build()
        .unwrap();
    let http = throughput(&client, &node, "rate.http", knobs.clients, knobs.seconds).await;
    println!(
        "  http, {} connections {http:>9.0} msg/s (~40-byte bodies, {} s; ws with {} in flight: {:.2}× this)",
        knobs.clients,
        knobs.seconds,
        knobs.window,
        windowed / http
    );
}

fn main() {
    // Multi-threaded: subscribers, publisher and the servers share the cores.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let knobs = Knobs::from_env();
    now_ns(); // starts the clock the messages carry
    runtime.block_on(async {
        fan_out_table(&knobs).await;
        publish_rate(&knobs).await;
        idle_memory(&knobs).await;
    });
}
