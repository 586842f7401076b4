//! The hostile-guest report: for each case of tests/e2e/hostile, a fresh
//! node runs the hostile function a few times while a good function
//! (`moderate` on `good.*`) is published to in a loop, and prints a
//! markdown table: what the caller saw, how long the invocation ran before
//! it was cut off (median), and the good publishes' median latency before
//! and during.
//!
//! ```text
//! cargo build --release -p edgefn
//! scripts/build-guests.sh --manifest examples/Cargo.toml --manifest tests/guests/Cargo.toml
//! cargo run --release -p edgefn-e2e --bin hostile_report [CASE-SUBSTRING]
//! ```

use std::time::{Duration, Instant};

use edgefn_e2e::hostile::{GoodTraffic, median};
use edgefn_e2e::wait::{TIMEOUT, eventually};
use edgefn_e2e::{Node, Op, Recorder, Value, json};
use futures::future::join_all;
use tokio::net::TcpListener;

/// Deadline of the looping functions.
const DEADLINE_MS: u64 = 300;
/// How long the good traffic is measured alone, and at least how long
/// the hostile case is repeated.
const WINDOW: Duration = Duration::from_millis(1500);
/// Pause between good publishes.
const PAUSE: Duration = Duration::from_millis(5);

#[derive(Clone, Copy)]
enum Case {
    LoopBefore,
    LoopEndpoint,
    LoopAfter,
    LoopInterval,
    MemoryGrowth,
    HugeAlloc,
    TableGrowth,
    Recursion,
    Panic,
    Unreachable,
    BigResult,
    InvalidJson,
    OutboundFlood,
    OutboundHang,
    OutboundPrivate,
    OwnChannel,
    KvFlood,
    BusFlood,
    Stdout,
    LogInterface,
    Concurrency,
    AfterPool,
    InstancePool,
    MissingImport,
}

impl Case {
    const ALL: [Case; 24] = [
        Case::LoopBefore,
        Case::LoopEndpoint,
        Case::LoopAfter,
        Case::LoopInterval,
        Case::MemoryGrowth,
        Case::HugeAlloc,
        Case::TableGrowth,
        Case::Recursion,
        Case::Panic,
        Case::Unreachable,
        Case::BigResult,
        Case::InvalidJson,
        Case::OutboundFlood,
        Case::OutboundHang,
        Case::OutboundPrivate,
        Case::OwnChannel,
        Case::KvFlood,
        Case::BusFlood,
        Case::Stdout,
        Case::LogInterface,
        Case::Concurrency,
        Case::AfterPool,
        Case::InstancePool,
        Case::MissingImport,
    ];

    fn name(self) -> &'static str {
        match self {
            Case::LoopBefore => "infinite loop, before-publish (300 ms)",
            Case::LoopEndpoint => "infinite loop, endpoint (300 ms)",
            Case::LoopAfter => "infinite loop, after-publish (300 ms)",
            Case::LoopInterval => "infinite loop, interval (300 ms, every 1 s)",
            Case::MemoryGrowth => "memory growth past 16 MiB, before-publish",
            Case::HugeAlloc => "one 1 GiB allocation, endpoint",
            Case::TableGrowth => "table growth, before-publish",
            Case::Recursion => "unbounded recursion, endpoint",
            Case::Panic => "panic, before-publish",
            Case::Unreachable => "`unreachable`, endpoint",
            Case::BigResult => "result > 32 KiB, before-publish",
            Case::InvalidJson => "result not JSON, before-publish",
            Case::OutboundFlood => "200 outbound requests, endpoint",
            Case::OutboundHang => "outbound to a server that never answers",
            Case::OutboundPrivate => "outbound to 169.254.169.254 / localhost",
            Case::OwnChannel => "before-publish publishing to its own channel",
            Case::KvFlood => "1000 KV calls, endpoint",
            Case::BusFlood => "1000 publishes, endpoint",
            Case::Stdout => "16 MiB to stdout + stderr, endpoint",
            Case::LogInterface => "100 log lines of ~260 KiB, endpoint",
            Case::Concurrency => "8 concurrent 1.5 s calls, cap 2",
            Case::AfterPool => "150 slow after-publish copies vs another function",
            Case::InstancePool => "10 concurrent 2 s calls, default cap, max_instances = 8",
            Case::MissingImport => "component importing an unknown interface",
        }
    }
}

/// What one run showed: the caller's view, and how long it took.
struct Run {
    saw: String,
    took: Option<Duration>,
}

fn short(text: &str) -> String {
    let text = text.replace('|', "\\|").replace('\n', " ");
    if text.len() > 150 {
        let mut end = 150;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}…", &text[..end])
    } else {
        text
    }
}

/// `STATUS code: message` of an error answer, or the body.
fn seen(status: u16, body: &Value) -> String {
    match body["error"]["code"].as_str() {
        Some(code) => format!(
            "{status} {code}: {}",
            body["error"]["message"].as_str().unwrap_or("")
        ),
        None => format!("{status} {body}"),
    }
}

/// A silent TCP server (accepts, never answers); its port.
async fn silent_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    port
}

async fn setup(case: Case, node: &Node, silent: u16, recorder: u16) {
    let deadline = json!(DEADLINE_MS);
    let hostile = |name: &'static str, mode: &'static str, spec: Value, config: Value| async move {
        node.deploy_hostile(name, mode, spec, config).await
    };
    match case {
        Case::LoopBefore => {
            hostile(
                "h",
                "loop",
                json!({"before_publish": ["h.x"], "timeout_ms": deadline}),
                json!({}),
            )
            .await
        }
        Case::LoopEndpoint => {
            hostile(
                "h",
                "loop",
                json!({"endpoint": true, "timeout_ms": deadline}),
                json!({}),
            )
            .await
        }
        Case::LoopAfter => {
            hostile(
                "h",
                "loop",
                json!({"after_publish": ["h.x"], "timeout_ms": deadline}),
                json!({}),
            )
            .await
        }
        Case::LoopInterval => {
            hostile(
                "h",
                "loop",
                json!({"every": 1, "timeout_ms": deadline}),
                json!({}),
            )
            .await
        }
        Case::MemoryGrowth => {
            hostile(
                "h",
                "grow",
                json!({"before_publish": ["h.x"], "memory_mb": 16, "timeout_ms": 5000}),
                json!({}),
            )
            .await
        }
        Case::HugeAlloc => {
            hostile(
                "h",
                "huge",
                json!({"endpoint": true}),
                json!({"mb": "1024"}),
            )
            .await
        }
        Case::TableGrowth => {
            node.deploy_ok("h", "hostile-table", &json!({"before_publish": ["h.x"]}))
                .await;
        }
        Case::Recursion => hostile("h", "recurse", json!({"endpoint": true}), json!({})).await,
        Case::Panic => hostile("h", "panic", json!({"before_publish": ["h.x"]}), json!({})).await,
        Case::Unreachable => {
            hostile("h", "unreachable", json!({"endpoint": true}), json!({})).await
        }
        Case::BigResult => hostile("h", "big", json!({"before_publish": ["h.x"]}), json!({})).await,
        Case::InvalidJson => {
            node.deploy_ok(
                "h",
                "bad-output",
                &json!({"before_publish": ["h.x"], "config": {"mode": "invalid"}}),
            )
            .await;
        }
        Case::OutboundFlood => {
            let origin = format!("http://127.0.0.1:{recorder}");
            hostile(
                "h",
                "http-flood",
                json!({"endpoint": true, "allow_outbound": [origin.clone()]}),
                json!({"url": format!("{origin}/flood"), "count": "200"}),
            )
            .await
        }
        Case::OutboundHang => {
            let origin = format!("http://127.0.0.1:{silent}");
            hostile(
                "h",
                "http",
                json!({"endpoint": true, "allow_outbound": [origin]}),
                json!({"url": format!("{origin}/never")}),
            )
            .await
        }
        Case::OutboundPrivate => {
            hostile(
                "h",
                "http",
                json!({"endpoint": true, "allow_outbound": ["*://*:*"]}),
                json!({"url": "http://169.254.169.254/latest/meta-data/"}),
            )
            .await
        }
        Case::OwnChannel => {
            hostile(
                "h",
                "self-publish",
                json!({"before_publish": ["h.x"], "timeout_ms": 5000}),
                json!({}),
            )
            .await
        }
        Case::KvFlood => {
            hostile(
                "h",
                "kv-flood",
                json!({"endpoint": true}),
                json!({"count": "1000"}),
            )
            .await
        }
        Case::BusFlood => {
            hostile(
                "h",
                "bus-flood",
                json!({"endpoint": true}),
                json!({"count": "1000"}),
            )
            .await
        }
        Case::Stdout => hostile("h", "stdout", json!({"endpoint": true}), json!({"mb": "8"})).await,
        Case::LogInterface => {
            hostile(
                "h",
                "log-flood",
                json!({"endpoint": true}),
                json!({"count": "100"}),
            )
            .await
        }
        Case::Concurrency => {
            hostile(
                "h",
                "slow",
                json!({"endpoint": true, "max_concurrency": 2}),
                json!({"ms": "1500"}),
            )
            .await
        }
        Case::AfterPool => {
            hostile(
                "h",
                "slow",
                json!({"after_publish": ["h.x"], "timeout_ms": 5000}),
                json!({"ms": "2000"}),
            )
            .await;
            hostile(
                "watcher",
                "ok",
                json!({"after_publish": ["w.x"]}),
                json!({}),
            )
            .await;
        }
        Case::InstancePool => {
            hostile(
                "h",
                "slow",
                json!({"endpoint": true}),
                json!({"ms": "2000"}),
            )
            .await
        }
        Case::MissingImport => {}
    }
}

/// Times one HTTP exchange; its answer as text.
async fn timed(node: &Node, request: reqwest::RequestBuilder) -> Run {
    let started = Instant::now();
    let answer = node.send(request).await;
    let took = started.elapsed();
    let saw = if answer.status == 200 && answer.body.get("report").is_some() {
        format!("200 {}", answer.body["report"])
    } else {
        seen(answer.status, &answer.body)
    };
    Run {
        saw,
        took: Some(took),
    }
}

async fn run_once(case: Case, node: &Node, round: usize) -> Run {
    let publish = || {
        node.http()
            .post(node.url("/v1/publish/h.x"))
            .body(r#"{"hop":0}"#)
    };
    let call = || node.http().get(node.url("/v1/fn/h/go"));
    match case {
        Case::LoopBefore
        | Case::MemoryGrowth
        | Case::TableGrowth
        | Case::Panic
        | Case::BigResult
        | Case::InvalidJson => timed(node, publish()).await,
        Case::OwnChannel => {
            let mut run = timed(node, publish()).await;
            let stored = node.history("h.x", "limit=4").await;
            let refused = stored
                .iter()
                .find_map(|m| m["message"]["hostile"]["error"].as_str())
                .unwrap_or("no refusal");
            run.saw = format!(
                "{}; {} messages stored; innermost hook saw: {refused}",
                run.saw,
                stored.len()
            );
            run
        }
        Case::LoopEndpoint
        | Case::HugeAlloc
        | Case::Recursion
        | Case::Unreachable
        | Case::OutboundFlood
        | Case::OutboundHang
        | Case::OutboundPrivate
        | Case::KvFlood
        | Case::BusFlood => timed(node, call()).await,
        Case::Stdout | Case::LogInterface => {
            let mut run = timed(node, call()).await;
            let lines = node.logs("h").await;
            let last = lines
                .last()
                .map(|l| l["invocation"].clone())
                .unwrap_or_default();
            let kept: usize = lines
                .iter()
                .filter(|l| l["invocation"] == last && l["source"] != "host")
                .map(|l| l.to_string().len())
                .sum();
            let truncated = lines
                .iter()
                .rev()
                .find(|l| l["source"] == "host")
                .and_then(|l| l["text"].as_str())
                .unwrap_or("no truncation line");
            run.saw = format!(
                "{}; {kept} bytes kept in the log for the invocation; {truncated}",
                run.saw
            );
            run
        }
        Case::LoopAfter | Case::LoopInterval => {
            if matches!(case, Case::LoopAfter) {
                node.post_message(Op::Publish, "h.x", "{}", &[]).await;
            }
            let (ms, text) = nth_cut_off(node, round).await;
            Run {
                saw: format!("log: {text}"),
                took: Some(Duration::from_millis(ms)),
            }
        }
        Case::Concurrency | Case::InstancePool => {
            let calls = if matches!(case, Case::Concurrency) {
                8
            } else {
                10
            };
            let started = Instant::now();
            let answers = join_all((0..calls).map(|_| async {
                let answer = node.send(call()).await;
                (answer, started.elapsed())
            }))
            .await;
            let ok = answers.iter().filter(|(a, _)| a.status == 200).count();
            let refused: Vec<_> = answers.iter().filter(|(a, _)| a.status == 503).collect();
            let slowest = refused.iter().map(|(_, t)| *t).max();
            let example = refused
                .first()
                .map(|(a, _)| seen(a.status, &a.body))
                .unwrap_or_default();
            Run {
                saw: format!("{ok} × 200, {} × {example}", refused.len()),
                took: slowest,
            }
        }
        Case::AfterPool => {
            let messages: Vec<Value> = (0..150).map(|i| json!({"i": i})).collect();
            join_all(messages.iter().map(|m| node.publish("h.x", m))).await;
            let before = node.invocations("watcher", "AfterPublish", "Ok").await;
            let started = Instant::now();
            node.publish("w.x", &json!({"watch": 1})).await;
            node.wait_for_invocations("watcher", "AfterPublish", "Ok", before + 1)
                .await;
            let waited = started.elapsed();
            // Let the slow copies drain before the next round.
            eventually("the slow copies to finish", TIMEOUT, || async {
                let done = node.invocations("h", "AfterPublish", "Ok").await;
                (done >= 150 * (round as u64 + 1)).then_some(())
            })
            .await;
            Run {
                saw: format!("the other function's copy waited {} ms", waited.as_millis()),
                took: Some(waited),
            }
        }
        Case::MissingImport => {
            let started = Instant::now();
            let answer = node
                .deploy("h", "hostile-import", &json!({"before_publish": ["h.x"]}))
                .await;
            Run {
                saw: seen(answer.status, &answer.body),
                took: Some(started.elapsed()),
            }
        }
    }
}

/// The cut-off time and host text of the `round`-th (from 0) failed
/// invocation of `h` in its log.
async fn nth_cut_off(node: &Node, round: usize) -> (u64, String) {
    let lines = eventually("the invocation's end in the log", TIMEOUT, || async {
        let lines = node.logs("h").await;
        let ends = lines
            .iter()
            .filter(|l| {
                l["source"] == "host" && l["text"].as_str().is_some_and(|t| t.contains("`h`"))
            })
            .count();
        (ends > round).then_some(lines)
    })
    .await;
    let end = lines
        .iter()
        .filter(|l| l["source"] == "host" && l["text"].as_str().is_some_and(|t| t.contains("`h`")))
        .nth(round)
        .unwrap();
    let start = lines
        .iter()
        .find(|l| l["invocation"] == end["invocation"] && l["source"] == "log")
        .unwrap();
    let ms = end["time_ms"].as_u64().unwrap() - start["time_ms"].as_u64().unwrap();
    (ms, end["text"].as_str().unwrap().to_owned())
}

async fn report(case: Case) -> String {
    let pool = if matches!(case, Case::InstancePool) {
        "[wasm]\nmax_instances = 8\n"
    } else {
        ""
    };
    let node = Node::start_with_config(&format!(
        "{pool}[wasm.outbound]\nfirst_byte_timeout_ms = 300\n"
    ))
    .await;
    let silent = silent_server().await;
    let recorder = Recorder::start().await;
    node.deploy_good().await;
    setup(case, &node, silent, recorder.port()).await;
    // Warm up the good function, then measure it alone.
    for _ in 0..5 {
        node.publish(edgefn_e2e::hostile::GOOD_CHANNEL, &json!({"text": "warm"}))
            .await;
    }
    let alone = GoodTraffic::start(&node, PAUSE);
    tokio::time::sleep(WINDOW).await;
    let before = alone.stop().await;

    let during = GoodTraffic::start(&node, PAUSE);
    let started = Instant::now();
    let mut runs = Vec::new();
    let min_runs = match case {
        Case::AfterPool | Case::MissingImport | Case::InstancePool => 1,
        _ => 3,
    };
    while runs.len() < min_runs || (started.elapsed() < WINDOW && runs.len() < 50) {
        runs.push(run_once(case, &node, runs.len()).await);
    }
    let during = during.stop().await;
    let up = node.get("/healthz").await.status == 200;

    let times: Vec<u64> = runs
        .iter()
        .filter_map(|r| r.took)
        .map(|t| t.as_millis() as u64)
        .collect();
    let cut_off = if times.is_empty() {
        "–".to_owned()
    } else {
        format!("{}", median(&times))
    };
    let failed = if during.failures.is_empty() {
        String::new()
    } else {
        format!(
            " ({} failed: {})",
            during.failures.len(),
            short(&during.failures[0].1)
        )
    };
    format!(
        "| {} | {} | {} ({} runs) | {} / {}{}{} |",
        case.name(),
        short(&runs[0].saw),
        cut_off,
        runs.len(),
        before.median_us(),
        during.median_us(),
        failed,
        if up { "" } else { " NODE DOWN" },
    )
}

#[tokio::main]
async fn main() {
    let filter = std::env::args().nth(1).unwrap_or_default();
    println!(
        "| case | what the caller saw | time to cut off, ms (median) | good publish median before / during, µs |"
    );
    println!("|---|---|---|---|");
    for case in Case::ALL {
        if !case.name().contains(filter.as_str()) {
            continue;
        }
        println!("{}", report(case).await);
    }
}
