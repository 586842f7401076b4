//! SIGTERM: stop accepting, drain hooks and after-publish work, exit 0.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use edgefn_e2e::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::client::*;

/// What a connection attempt made during shutdown met.
#[derive(Debug, PartialEq, Eq)]
enum Probe {
    /// The connection was refused: the node stopped accepting.
    Refused,
    /// Connected, then closed without an answer.
    ClosedUnanswered,
    /// Connected (the kernel accepted it for the node), but no answer came
    /// within the probe's patience: a client would hang.
    Hung,
}

/// How long a probe waits for an answer before calling the connection hung
/// (generous: a node that is still serving may be slow on a busy machine).
const PATIENCE: Duration = Duration::from_secs(1);

/// One connection attempt: what it met.
async fn probe_once(authority: &str) -> Option<Probe> {
    let mut stream = match TcpStream::connect(authority).await {
        Ok(stream) => stream,
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => return Some(Probe::Refused),
        // The listener closed with this connection still in its backlog:
        // the kernel resets it, which a client sees at once (not a hang).
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
            return Some(Probe::ClosedUnanswered);
        }
        Err(e) => panic!("connecting to {authority}: {e}"),
    };
    let request = "GET /healthz HTTP/1.1\r\nhost: edgefn\r\nconnection: close\r\n\r\n";
    if stream.write_all(request.as_bytes()).await.is_err() {
        return Some(Probe::ClosedUnanswered);
    }
    let mut answer = Vec::new();
    match tokio::time::timeout(PATIENCE, stream.read_to_end(&mut answer)).await {
        Err(_) => Some(Probe::Hung),
        // Served: not shutting down yet.
        Ok(_) if answer.starts_with(b"HTTP/1.1 200") => None,
        Ok(_) => Some(Probe::ClosedUnanswered),
    }
}

/// Tries new connections to `authority` until one is not served (the node
/// stopped serving new clients), then a few more: what each of those met,
/// and when the first was made.
async fn probe_new_connections(authority: &str) -> (Vec<Probe>, Instant) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let first = loop {
        assert!(
            Instant::now() < deadline,
            "the node kept serving new connections after SIGTERM"
        );
        let at = Instant::now();
        match probe_once(authority).await {
            Some(probe) => break (probe, at),
            None => tokio::time::sleep(Duration::from_millis(5)).await,
        }
    };
    let mut probes = vec![first.0];
    for _ in 0..2 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        probes.push(probe_once(authority).await.unwrap_or_else(|| {
            panic!("a new connection was served again after one was turned away")
        }));
    }
    (probes, first.1)
}

#[tokio::test]
async fn sigterm_drains_hooks_and_after_publish_work_then_exits_0() {
    let recorder = Recorder::start().await;
    let started = Recorder::start().await;
    let mut node = Node::start().await;
    // A hook that takes 2.5 s (and says when it starts), and an after-publish
    // handler that takes 0.7 s and then reports to the recorder.
    node.deploy_ok(
        "slow",
        "sleepy",
        &json!({
            "before_publish": ["slow.*"],
            "timeout_ms": 10000,
            "allow_outbound": [started.url("")],
            "config": {"sleep_ms": "2500", "started_url": started.url("/started")}
        }),
    )
    .await;
    node.deploy_ok(
        "later",
        "sleepy",
        &json!({
            "after_publish": ["slow.*", "later.*"],
            "allow_outbound": [recorder.url("")],
            "config": {"after_sleep_ms": "700", "forward_url": recorder.url("/got")}
        }),
    )
    .await;

    // Acknowledged; its after-publish copy is now queued or running.
    let queued_tt = node.publish("later.x", &json!({"id": "queued"})).await;
    // A publish whose hook is running when SIGTERM arrives.
    let client = Client::of(&node);
    let in_flight = tokio::spawn(async move {
        let request = client
            .http
            .post(client.url("/v1/publish/slow.x"))
            .header("content-type", "application/json")
            .body(json!({"id": "in-flight"}).to_string());
        let answer = client.send(request).await;
        (answer, Instant::now())
    });
    assert_eq!(started.next().await.json()["id"], "in-flight");

    let authority = node.authority().to_owned();
    let sent = Instant::now();
    let (status, (probes, probed_at)) =
        tokio::join!(node.terminate(), probe_new_connections(&authority));
    let exited_in = sent.elapsed();
    let (answer, answered_at) = in_flight.await.expect("the publishing task");
    assert!(
        status.success(),
        "edgefn serve exited with {status} on SIGTERM; stderr:\n{}",
        node.stderr()
    );
    // The hook finished and its publish was acknowledged.
    let answer = answer.unwrap_or_else(|e| {
        panic!(
            "the publish whose hook was running at SIGTERM got no answer: {e}\nstderr:\n{}",
            node.stderr()
        )
    });
    let in_flight_tt = answer.ok()["timetoken"]
        .as_str()
        .expect("a timetoken")
        .to_owned();
    // The queued after-publish work ran (also for the message published
    // during the drain): both reports arrived before the process ended.
    let reports: HashMap<String, Value> = recorder
        .all()
        .iter()
        .map(|r| {
            let body = r.json();
            (
                body["message"]["id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                body,
            )
        })
        .collect();
    assert_eq!(
        reports.get("queued").map(|r| r["timetoken"].clone()),
        Some(json!(queued_tt)),
        "the after-publish work queued before SIGTERM did not run; reports: {reports:?}\nstderr:\n{}",
        node.stderr()
    );
    assert_eq!(
        reports.get("in-flight").map(|r| r["timetoken"].clone()),
        Some(json!(in_flight_tt)),
        "the after-publish work of the drained publish did not run; reports: {reports:?}"
    );
    // Both are durable.
    node.restart().await;
    let stored = node.history("slow.x", "").await;
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert_eq!(stored[0]["timetoken"], in_flight_tt.as_str());
    assert_eq!(
        stored[0]["message"],
        json!({"id": "in-flight", "slept_ms": 2500})
    );
    let stored = node.history("later.x", "").await;
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert_eq!(stored[0]["timetoken"], queued_tt.as_str());

    // New connections were turned away while the hook was still running.
    println!(
        "SIGTERM: exited 0 after {exited_in:?}; new connections met {probes:?}, from {:?} before the drained publish was answered",
        answered_at.saturating_duration_since(probed_at)
    );
    assert!(
        !probes.contains(&Probe::Hung),
        "after SIGTERM, new connections met {probes:?} while an in-flight hook drained: a connection the kernel accepted for the node was never answered (a client hangs until the drain ends) — the node should stop accepting (refuse new connections) during the drain"
    );
    assert!(
        probed_at < answered_at,
        "the node served new connections until the in-flight publish was answered"
    );
}

#[tokio::test]
async fn sigterm_does_not_wait_past_the_grace_period() {
    let started = Recorder::start().await;
    let mut node = Node::start_with_config("[http]\nshutdown_grace_secs = 1\n").await;
    node.deploy_ok(
        "slow",
        "sleepy",
        &json!({
            "before_publish": ["slow.*"],
            "timeout_ms": 20000,
            "allow_outbound": [started.url("")],
            "config": {"sleep_ms": "15000", "started_url": started.url("/started")}
        }),
    )
    .await;
    node.publish("kept", &json!({"id": "before"})).await;
    let client = Client::of(&node);
    let in_flight = tokio::spawn(async move {
        let request = client
            .http
            .post(client.url("/v1/publish/slow.x"))
            .header("content-type", "application/json")
            .body(json!({"id": "too-slow"}).to_string());
        client.send(request).await
    });
    assert_eq!(started.next().await.json()["id"], "too-slow");
    let sent = Instant::now();
    let status = node.terminate().await;
    let took = sent.elapsed();
    assert!(
        status.success(),
        "edgefn serve exited with {status} on SIGTERM; stderr:\n{}",
        node.stderr()
    );
    assert!(
        took < Duration::from_secs(5),
        "with a grace of 1 s, the node took {took:?} to stop"
    );
    println!("SIGTERM with a hook outlasting the grace: exited 0 after {took:?}");
    // Its publish was not acknowledged, and is not stored.
    let answer = in_flight.await.expect("the publishing task");
    assert!(
        !matches!(&answer, Ok(a) if a.status < 300),
        "a publish whose hook outlasted the grace period was acknowledged: {answer:?}"
    );
    node.restart().await;
    assert!(node.history("slow.x", "").await.is_empty());
    assert_eq!(node.history("kept", "").await.len(), 1);
}
