//! After-publish hooks run once per message in a cluster, on whichever node
//! takes the copy from the function's work queue: the `counter` example, deployed on one node, counts
//! messages published through all three exactly once each, and the count
//! read through any node's endpoint reaches the number published and stays
//! there. A redeploy moves the function's work queue to its new channels,
//! and a removal deletes it.

use edgefn_e2e::wait::{TIMEOUT, eventually};
use edgefn_e2e::*;
use reqwest::Method;

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

    // A double count would come from two nodes running one copy: messages
    // published afterwards through each node are counted after those, so
    // once they are, chat.x must not have moved.
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

/// Waits until the count of `channel` read through `node` is `n` (once
/// the counter is deployed there).
async fn wait_count(node: &Node, channel: &str, n: u64) {
    let what = format!("the count of {channel} to reach {n}");
    eventually(&what, TIMEOUT, || async {
        let answer = node.get(&format!("/v1/fn/counter/{channel}")).await;
        (answer.status == 200 && answer.body["count"] == n).then_some(())
    })
    .await;
}

/// The after-publish queues `node` reports, by function.
async fn queues(node: &Node) -> Value {
    let status = node.admin(Method::GET, "/cluster").await;
    status.ok()["after_publish"].clone()
}

#[tokio::test]
async fn a_redeploy_moves_the_work_queue_and_a_removal_deletes_it() {
    let (_nats, nodes) = cluster("").await;
    let spec = |channels: &str| json!({"endpoint": true, "after_publish": [channels]});
    nodes[0]
        .deploy_ok("counter", "counter", &spec("old.*"))
        .await;
    nodes[1].publish("old.x", &json!(1)).await;
    wait_count(&nodes[2], "old.x", 1).await;

    let redeployed = nodes[0]
        .deploy_ok("counter", "counter", &spec("new.*"))
        .await;
    assert_eq!(redeployed["version"], 2, "{redeployed}");
    for node in &nodes {
        eventually("version 2 on every node", TIMEOUT, || async {
            let shown = node.admin(Method::GET, "/functions/counter").await;
            (shown.status == 200 && shown.body["version"] == 2).then_some(())
        })
        .await;
    }
    nodes[2].publish("old.x", &json!(2)).await;
    nodes[1].publish("new.x", &json!(1)).await;
    nodes[0].publish("new.x", &json!(2)).await;
    wait_count(&nodes[2], "new.x", 2).await;
    // The queue now takes new.* only: old.x, published first, was not counted.
    assert_eq!(
        count(&nodes[1], "old.x").await,
        1,
        "old.x counted after the redeploy"
    );

    assert!(queues(&nodes[1]).await["counter"].is_object());
    nodes[1]
        .admin(Method::DELETE, "/functions/counter")
        .await
        .ok();
    eventually("the queue to be gone", TIMEOUT, || async {
        queues(&nodes[0])
            .await
            .get("counter")
            .is_none()
            .then_some(())
    })
    .await;
}
