//! One order for every node: messages published concurrently on one
//! channel through all three nodes reach SSE and WebSocket subscribers on
//! every node in the same order, each publisher's messages in the order it
//! sent them, with strictly increasing timetokens; the history on each
//! node is that order too.

use std::collections::HashMap;

use edgefn_e2e::wait::{TIMEOUT, eventually};
use edgefn_e2e::*;

use super::{NODES, assert_increasing, cluster, entries, history};

const CHANNEL: &str = "order.x";
/// Messages each node's publisher sends, one after the other.
const PER_NODE: u64 = 40;

#[tokio::test]
async fn concurrent_publishes_on_three_nodes_arrive_everywhere_in_one_order() {
    let (_nats, nodes) = cluster("").await;
    let mut sses = Vec::new();
    for node in &nodes {
        let (sse, replayed) = Sse::ready(node, CHANNEL, None).await;
        assert!(replayed.is_empty(), "replayed without `since`");
        sses.push(sse);
    }
    let mut sockets = Vec::new();
    for node in &nodes[1..] {
        let mut ws = Ws::connect(node).await;
        ws.call_ok(
            json!({"type": "subscribe", "channels": [CHANNEL]}),
            "subscribed",
        )
        .await;
        sockets.push(ws);
    }

    // One publisher per node, all at once; each waits for its answer before
    // sending the next message.
    let publishers = nodes.iter().enumerate().map(|(w, node)| async move {
        let mut sent = Vec::new();
        for n in 0..PER_NODE {
            let message = json!({"writer": w, "n": n});
            let timetoken: u64 = node.publish(CHANNEL, &message).await.parse().unwrap();
            sent.push((timetoken, message));
        }
        sent
    });
    let sent = futures::future::join_all(publishers).await;
    let total = PER_NODE as usize * NODES;

    // The order the first subscriber saw is the reference.
    let reference = entries(&sses[0].messages(total).await);
    assert_increasing("SSE on node A", &reference);
    let acknowledged: HashMap<u64, Value> = sent.iter().flatten().cloned().collect();
    assert_eq!(
        acknowledged.len(),
        total,
        "two publishes got the same timetoken"
    );
    for (timetoken, message) in &reference {
        assert_eq!(
            acknowledged.get(timetoken),
            Some(message),
            "delivered with timetoken {timetoken}, which no publish was answered with"
        );
    }
    for (w, sent) in sent.iter().enumerate() {
        let seen: Vec<&(u64, Value)> = reference.iter().filter(|(_, m)| m["writer"] == w).collect();
        let sent: Vec<&(u64, Value)> = sent.iter().collect();
        assert_eq!(
            seen, sent,
            "node {w}'s messages were delivered out of the order it published them"
        );
    }

    for (i, sse) in sses.iter_mut().enumerate().skip(1) {
        let got = entries(&sse.messages(total).await);
        assert_eq!(
            got, reference,
            "SSE on node {i} saw another order than node 0"
        );
    }
    for (i, ws) in sockets.iter_mut().enumerate() {
        let mut got = Vec::new();
        for _ in 0..total {
            got.push(ws.next_message().await);
        }
        assert_eq!(
            entries(&got),
            reference,
            "WebSocket on node {} saw another order than SSE on node 0",
            i + 1
        );
    }

    // History: the same order on every node (each applies the log to its
    // own copy, so it may lag an instant behind the acknowledgements).
    for (i, node) in nodes.iter().enumerate() {
        let what = format!("node {i}'s history to hold all {total} messages");
        let stored = eventually(&what, TIMEOUT, || async {
            let stored = history(node, CHANNEL, 1000).await;
            (stored.len() >= total).then_some(stored)
        })
        .await;
        assert_eq!(stored, reference, "node {i}'s history is in another order");
    }
}
