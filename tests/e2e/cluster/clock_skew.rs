//! Nodes whose clocks differ lose nothing: node B runs under libfaketime
//! 2 s behind nodes A and C. A writes one channel and B another, strictly
//! interleaved; on node C a PubNub long-poll subscriber (cursor `tt`) and
//! an SSE subscriber that disconnects midway and resumes with `since` (the
//! last id it saw) each get every message exactly once, each channel in
//! the order it was written, with timetokens increasing across both (the
//! log's order, not the writers' clocks); the publish answers carry those
//! timetokens, and every node's history is the same.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use edgefn_e2e::check::short;
use edgefn_e2e::nats::wait_healthy;
use edgefn_e2e::wait::{TIMEOUT, eventually, within};
use edgefn_e2e::*;

use super::{assert_increasing, assert_same_histories};

/// The channel node A writes, and the one node B (behind) writes.
const BY_A: &str = "skew.a";
const BY_B: &str = "skew.b";
const CHANNELS: &str = "skew.a,skew.b";
/// Messages each writer publishes.
const EACH: usize = 150;
/// How far behind node B's clock is, as libfaketime reads it, and in
/// timetoken units (100 ns).
const OFFSET: &str = "-2s";
const OFFSET_UNITS: u64 = 20_000_000;
/// Messages the SSE subscriber reads before it disconnects, and how many
/// more the writers publish before it comes back.
const SSE_FIRST: usize = 100;
const WHILE_AWAY: usize = 50;
/// The last message, from A, once everything else was published: nothing
/// may come after it, nor twice before it.
const END: &str = "end";

/// What a subscriber got: (timetoken, channel, message).
type Seen = Vec<(u64, String, Value)>;

#[tokio::test]
async fn nodes_whose_clocks_differ_lose_nothing() {
    let nats = NatsServer::start().await;
    let config = nats.node_config("");
    let behind = NodeOptions {
        clock_offset: Some(OFFSET.into()),
        ..NodeOptions::default()
    };
    let (a, b, c) = tokio::join!(
        Node::start_with_config(&config),
        Node::start_configured(&config, behind),
        Node::start_with_config(&config),
    );
    for node in [&a, &b, &c] {
        wait_healthy(node, TIMEOUT).await;
    }
    let a_now = clock(&a).await;
    let b_now = clock(&b).await;
    assert!(
        a_now > b_now + OFFSET_UNITS * 3 / 4,
        "node B's clock ({b_now}) is not behind node A's ({a_now}): libfaketime had no effect"
    );

    // Both subscribers on C are listening before anything is published.
    let handshake = poll(&c, "0").await;
    let cursor = handshake["t"]["t"].as_str().expect("a cursor").to_owned();
    assert!(
        handshake["m"].as_array().is_some_and(Vec::is_empty),
        "{handshake}"
    );
    let (mut sse, replayed) = Sse::ready(&c, CHANNELS, None).await;
    assert!(replayed.is_empty(), "replayed without `since`");

    let published = AtomicUsize::new(0);
    let writers = async {
        let mut acknowledged = HashMap::new();
        for n in 0..EACH {
            for (node, channel) in [(&a, BY_A), (&b, BY_B)] {
                let message = json!({"channel": channel, "n": n});
                let timetoken = node.publish(channel, &message).await;
                acknowledged.insert(timetoken.parse::<u64>().unwrap(), message);
                published.fetch_add(1, Ordering::SeqCst);
            }
        }
        let message = json!({"channel": BY_A, "n": END});
        let timetoken = a.publish(BY_A, &message).await;
        acknowledged.insert(timetoken.parse::<u64>().unwrap(), message);
        acknowledged
    };
    let long_poll = long_poll(&c, cursor);
    let sse_resumed = async {
        let mut seen = views(&sse.messages(SSE_FIRST).await);
        drop(sse);
        let last = seen.last().expect("a message").0.to_string();
        let back_at = (published.load(Ordering::SeqCst) + WHILE_AWAY).min(2 * EACH);
        eventually(
            "the writers to publish while the SSE subscriber is away",
            TIMEOUT,
            || async { (published.load(Ordering::SeqCst) >= back_at).then_some(()) },
        )
        .await;
        let (mut resumed, replayed) = Sse::ready(&c, CHANNELS, Some(&last)).await;
        seen.extend(views(&replayed));
        while !ends(&seen) {
            seen.extend(views(&[resumed.next_message().await]));
        }
        seen
    };
    let (acknowledged, polled, streamed) = tokio::join!(writers, long_poll, sse_resumed);

    let total = 2 * EACH + 1;
    assert_eq!(acknowledged.len(), total, "two publishes got one timetoken");
    for (what, seen) in [("long-poll", &polled), ("SSE", &streamed)] {
        check_seen(what, seen, &acknowledged);
    }
    assert_eq!(
        polled, streamed,
        "the long-poll and SSE subscribers saw different orders"
    );

    let nodes = [&a, &b, &c];
    for channel in [BY_A, BY_B] {
        let of_channel: HashMap<u64, Value> = acknowledged
            .iter()
            .filter(|(_, m)| m["channel"] == channel)
            .map(|(t, m)| (*t, m.clone()))
            .collect();
        assert_same_histories(&nodes, channel, 1000, &of_channel).await;
    }
}

/// Asserts that `seen` holds every acknowledged message once, with the
/// timetoken its publish was answered with, in increasing timetoken order,
/// each channel in the order it was written, ending with [`END`].
#[track_caller]
fn check_seen(what: &str, seen: &Seen, acknowledged: &HashMap<u64, Value>) {
    let entries: Vec<(u64, Value)> = seen.iter().map(|(t, _, m)| (*t, m.clone())).collect();
    assert_increasing(what, &entries);
    for (timetoken, channel, message) in seen {
        assert_eq!(
            acknowledged.get(timetoken),
            Some(message),
            "{what}: {channel} {message} came with timetoken {timetoken}, which no publish was answered with"
        );
    }
    assert_eq!(
        seen.len(),
        acknowledged.len(),
        "{what}: got {} messages of {}",
        seen.len(),
        acknowledged.len()
    );
    for channel in [BY_A, BY_B] {
        let numbers: Vec<&Value> = seen
            .iter()
            .filter(|(_, c, _)| c == channel)
            .map(|(_, _, m)| &m["n"])
            .collect();
        let mut expected: Vec<Value> = (0..EACH).map(|n| json!(n)).collect();
        if channel == BY_A {
            expected.push(json!(END));
        }
        let expected: Vec<&Value> = expected.iter().collect();
        assert_eq!(
            numbers, expected,
            "{what}: {channel} out of order or incomplete"
        );
    }
}

/// Whether the last of `seen` is the [`END`] message.
fn ends(seen: &Seen) -> bool {
    seen.last().is_some_and(|(_, _, m)| m["n"] == END)
}

/// The SSE views as [`Seen`].
fn views(views: &[Value]) -> Seen {
    views
        .iter()
        .map(|view| {
            let timetoken = view["timetoken"].as_str().and_then(|t| t.parse().ok());
            let timetoken = timetoken.unwrap_or_else(|| panic!("no timetoken in {}", short(view)));
            let channel = view["channel"].as_str().expect("a channel").to_owned();
            (timetoken, channel, view["message"].clone())
        })
        .collect()
}

/// `node`'s clock, as `GET /time/0` tells it.
async fn clock(node: &Node) -> u64 {
    let answer = node.get("/time/0").await;
    answer.ok()[0].as_u64().expect("a timetoken")
}

/// One PubNub subscribe poll on `node` from cursor `tt` (`0`: the
/// handshake).
async fn poll(node: &Node, tt: &str) -> Value {
    let path = format!("/v2/subscribe/demo/{CHANNELS}/0?uuid=skew-subscriber&tt={tt}&tr=1");
    let answer = within(
        "a subscribe poll to be answered",
        Duration::from_secs(60),
        node.get(&path),
    )
    .await;
    answer.ok().clone()
}

/// Polls `node` from `cursor` as a PubNub client does (each poll from the
/// cursor the last one answered) until the [`END`] message arrives.
async fn long_poll(node: &Node, mut cursor: String) -> Seen {
    let mut seen = Vec::new();
    while !ends(&seen) {
        let answer = poll(node, &cursor).await;
        for envelope in answer["m"].as_array().expect("messages") {
            let timetoken = envelope["p"]["t"].as_str().and_then(|t| t.parse().ok());
            let timetoken = timetoken.unwrap_or_else(|| panic!("no timetoken in {envelope}"));
            let channel = envelope["c"].as_str().expect("a channel").to_owned();
            seen.push((timetoken, channel, envelope["d"].clone()));
        }
        cursor = answer["t"]["t"].as_str().expect("a cursor").to_owned();
    }
    seen
}
