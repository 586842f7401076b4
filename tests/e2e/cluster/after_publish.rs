//! After-publish hooks run once per message in a cluster, on the node that
//! took the publish: the `counter` example, deployed on one node, counts
//! messages published through all three exactly once each, and the count
//! read through any node's endpoint reaches the number published and stays
//! there.

use edgefn_e2e::wait::{TIMEOUT, eventually};
use edgefn_e2e::*;

use super::cluster;

/// Messages published on `chat.x`.
const MESSAGES: u64 = 60;

/// The count `counter` keeps for `channel`, read through `node`.
async fn count(node: &Node, channel: &str) -> u64 {
    let answer = node.get(&format!("/v1/fn/counter/{channel}")).await;
    assert_eq!(answer.ok()["channel"], channel, "{}", answer.body);
    answer.body["count"].as_u64().expect("a count")
}

#[tokio::test]
async fn the_counter_counts_each_message_once() {
    let (_nats, nodes) = cluster("").await;
    let spec = json!({"endpoint": true, "after_publish": ["chat.*"]});
    nodes[0].deploy_ok("counter", "counter", &spec).await;
    for node in &nodes {
        eventually(
            "the counter to be deployed on every node",
            TIMEOUT,
            || async {
                let answer = node.get("/v1/fn/counter/chat.x").await;
                (answer.status == 200).then_some(())
            },
        )
        .await;
    }

    // Spread over the three nodes, concurrently.
    let step = nodes.len() as u64;
    let publishers = nodes.iter().enumerate().map(|(w, node)| async move {
        let mut n = w as u64;
        while n < MESSAGES {
            node.publish("chat.x", &json!({"n": n})).await;
            n += step;
        }
    });
    futures::future::join_all(publishers).await;

    let reached = eventually(
        "the count of chat.x to reach the messages published",
        TIMEOUT,
        || async {
            let n = count(&nodes[2], "chat.x").await;
            (n >= MESSAGES).then_some(n)
        },
    )
    .await;
    assert_eq!(
        reached, MESSAGES,
        "counted more messages than were published"
    );

    // A double count would come from a node running the hook for another
    // node's messages as it applies them from the log: a message published
    // afterwards through each node is queued after those on every node, so
    // once these are counted, chat.x must not have moved.
    for node in &nodes {
        node.publish("chat.y", &json!({"sentinel": true})).await;
    }
    let sentinels = eventually(
        "the three later messages to be counted",
        TIMEOUT,
        || async {
            let n = count(&nodes[1], "chat.y").await;
            (n >= nodes.len() as u64).then_some(n)
        },
    )
    .await;
    assert_eq!(sentinels, nodes.len() as u64, "chat.y counted twice");
    for (i, node) in nodes.iter().enumerate() {
        assert_eq!(
            count(node, "chat.x").await,
            MESSAGES,
            "the count of chat.x read through node {i} moved past the messages published"
        );
    }
}
