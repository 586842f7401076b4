//! Connection-level abuse: more connections than the node allows, clients
//! that send a request slowly or never finish it (slowloris), and a
//! subscriber that never reads while messages flow.

use std::time::{Duration, Instant};

use edgefn_e2e::hostile::{Outcome, RawClient};
use edgefn_e2e::sse::Stalled;
use edgefn_e2e::wait::eventually;
use edgefn_e2e::*;

use super::while_good;

const HEALTHZ: &[u8] = b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n";

/// Sends `GET /healthz` on a new connection: whether the node answered.
async fn answered(node: &Node, limit: Duration) -> bool {
    let mut client = RawClient::connect(node).await;
    client.send(HEALTHZ).await;
    let mut seen = Vec::new();
    let mut chunk = [0u8; 4096];
    tokio::time::timeout(limit, async {
        use tokio::io::AsyncReadExt;
        while !String::from_utf8_lossy(&seen).contains("\"status\":\"ok\"") {
            match client.stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => seen.extend_from_slice(&chunk[..n]),
            }
        }
    })
    .await
    .is_ok()
        && String::from_utf8_lossy(&seen).starts_with("HTTP/1.1 200")
}

#[tokio::test]
async fn connections_past_the_cap_are_closed_at_once() {
    let node = Node::start_with_config("[http]\nmax_connections = 4\n").await;
    let mut held = Vec::new();
    for _ in 0..4 {
        let mut client = RawClient::connect(&node).await;
        client.send(HEALTHZ).await;
        let mut chunk = [0u8; 4096];
        use tokio::io::AsyncReadExt;
        let n = client.stream.read(&mut chunk).await.unwrap();
        assert!(String::from_utf8_lossy(&chunk[..n]).starts_with("HTTP/1.1 200"));
        held.push(client);
    }
    // The fifth is accepted and closed without an answer, at once.
    let started = Instant::now();
    let mut fifth = RawClient::connect(&node).await;
    fifth.send(HEALTHZ).await;
    match fifth.outcome_within(Duration::from_secs(5)).await {
        Outcome::Closed => {}
        other => panic!("the fifth connection was not closed: {other:?}"),
    }
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    // Once one closes, a new client gets in.
    held.pop();
    eventually("a free connection slot", wait::TIMEOUT, || async {
        answered(&node, Duration::from_secs(2)).await.then_some(())
    })
    .await;
    assert!(
        node.stderr()
            .contains("connection refused: 4 connections are open"),
        "the refusal was not logged"
    );
}

#[tokio::test]
async fn slow_or_idle_request_heads_are_closed_after_the_header_timeout() {
    let node = Node::start_with_config("[http]\nheader_timeout_secs = 1\n").await;
    node.deploy_good().await;
    let limit = Duration::from_secs(5);
    while_good(&node, async {
        // Half a request head, then nothing.
        let mut half = RawClient::connect(&node).await;
        half.send(b"GET /healthz HTTP/1.1\r\nhost: x\r\n").await;
        // A head trickling in one byte every 100 ms, forever.
        let mut trickle = RawClient::connect(&node).await;
        // A keep-alive connection left idle after one request.
        let mut idle = RawClient::connect(&node).await;
        idle.send(HEALTHZ).await;

        let started = Instant::now();
        let trickling = async {
            trickle.send(b"GET /healthz HTTP/1.1\r\n").await;
            loop {
                trickle.send(b"x").await;
                match trickle.outcome_within(Duration::from_millis(100)).await {
                    Outcome::Open if started.elapsed() < limit => continue,
                    other => return (other, started.elapsed()),
                }
            }
        };
        let halfway = async {
            let outcome = half.outcome_within(limit).await;
            (outcome, started.elapsed())
        };
        let idling = async {
            let outcome = idle.outcome_within(limit).await;
            (outcome, started.elapsed())
        };
        let ((half, half_at), (trickle, trickle_at), (idle, idle_at)) =
            tokio::join!(halfway, trickling, idling);
        for (what, outcome, at) in [
            ("half a head", &half, half_at),
            ("a trickling head", &trickle, trickle_at),
        ] {
            assert!(
                !matches!(outcome, Outcome::Open) && at < limit,
                "{what}: still open after {at:?} ({outcome:?})"
            );
            assert!(
                at >= Duration::from_millis(500),
                "{what}: closed after {at:?}"
            );
        }
        match idle {
            Outcome::Answered(text) => assert!(text.starts_with("HTTP/1.1 200"), "{text}"),
            other => panic!("the idle connection: {other:?}"),
        }
        assert!(
            idle_at < limit,
            "the idle connection stayed open {idle_at:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn request_bodies_that_never_arrive_do_not_hold_connections_forever() {
    // A head announcing 100 bytes of body, then 5 bytes, then nothing: the
    // node must not wait for the rest forever. Four such clients take all
    // of a 4-connection node; within a few header timeouts a real client
    // must get in again.
    let node = Node::start_with_config(
        "[http]\nmax_connections = 4\nheader_timeout_secs = 1\nbody_timeout_secs = 1\nwrite_timeout_secs = 1\n",
    )
    .await;
    let mut stalled = Vec::new();
    for _ in 0..4 {
        let mut client = RawClient::connect(&node).await;
        client
            .send(b"POST /v1/publish/x HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{\"a\":")
            .await;
        stalled.push(client);
    }
    let limit = Duration::from_secs(10);
    let started = Instant::now();
    let mut got_in = false;
    while started.elapsed() < limit {
        if answered(&node, Duration::from_secs(1)).await {
            got_in = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let outcome = stalled[0].outcome_within(Duration::from_millis(100)).await;
    assert!(
        got_in,
        "after {limit:?}, 4 clients that never finished their request bodies still held all 4 connections (the first one: {outcome:?})"
    );
}

#[tokio::test]
async fn a_subscriber_that_never_reads_is_cut_off_and_memory_stays_bounded() {
    let node = Node::start_with_config("[http]\nwrite_timeout_secs = 1\n").await;
    node.deploy_good().await;
    let stalled = Stalled::connect(&node, "firehose").await;
    assert_eq!(node.metric("edgefn_subscribers", &[]).await, 1.0);
    let rss_before = node.rss_kib();
    let padding = "p".repeat(16 * 1024);
    let (published, took) = while_good(&node, async {
        let started = Instant::now();
        let mut published = 0u64;
        loop {
            for _ in 0..50 {
                node.publish("firehose", &json!({"seq": published, "pad": padding}))
                    .await;
                published += 1;
            }
            if node.metric("edgefn_subscribers", &[]).await == 0.0 {
                return (published, started.elapsed());
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "the stalled subscriber is still connected after {published} messages of 16 KiB"
            );
        }
    })
    .await;
    let grown_mib = node.rss_kib().saturating_sub(rss_before) / 1024;
    eprintln!(
        "stalled subscriber cut off after {published} messages, {took:?}; memory +{grown_mib} MiB"
    );
    assert!(grown_mib < 100, "the node's memory grew by {grown_mib} MiB");
    // What it gets when it reads again ends before the last message.
    let last = format!("\"seq\":{}", published - 1);
    let text = stalled.read_until(|t| t.contains(&last)).await;
    assert!(
        !text.contains(&last),
        "the stalled subscriber was never cut off"
    );
}
