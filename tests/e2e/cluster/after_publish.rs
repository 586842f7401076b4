//! After-publish hooks run once per message in a cluster, on whichever node
//! takes the copy from the function's work queue: the `counter` example, deployed on one node, counts
//! messages published through all three exactly once each, and the count
//! read through any node's endpoint reaches the number published and stays
//! there. A redeploy moves the function's work queue to its new channels,
//! and a removal deletes it. Fires reach after-publish functions once per
//! cluster too, and never a history or a subscriber, nor push stored
//! messages out of the log (a node that joins later has them all). A node
//! stopped with SIGTERM while copies flow goes through its shutdown steps
//! in order, and every copy is still counted once.

use std::collections::HashMap;

use edgefn_e2e::nats::{start_nodes, wait_healthy};
use edgefn_e2e::wait::{TIMEOUT, eventually};
use edgefn_e2e::*;
use reqwest::Method;

use super::{assert_same_histories, cluster, entries};

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

/// Fires published on one node of two.
const FIRES: u64 = 10;
/// Messages stored on the fires' channel before them.
const KEPT: u64 = 3;
/// History per channel (and per subject in the log): fewer than the fires.
const SMALL_HISTORY: &str = "[bus]\nhistory_per_channel = 5\n";

#[tokio::test]
async fn fires_reach_after_publish_functions_once_and_nothing_else() {
    let nats = NatsServer::start().await;
    let nodes = nats.start_nodes(2, SMALL_HISTORY).await;
    let spec = json!({"endpoint": true, "after_publish": ["fires.*"]});
    nodes[0].deploy_ok("counter", "counter", &spec).await;
    for node in &nodes {
        wait_count(node, "fires.x", 0).await;
    }
    let mut sses = Vec::new();
    for node in &nodes {
        let (sse, replayed) = Sse::ready(node, "fires.x,fires.y", None).await;
        assert!(replayed.is_empty(), "replayed without `since`");
        sses.push(sse);
    }

    let mut acknowledged = HashMap::new();
    for n in 0..KEPT {
        let message = json!({"kept": n});
        let timetoken = nodes[0].publish("fires.x", &message).await;
        acknowledged.insert(timetoken.parse::<u64>().unwrap(), message);
    }
    for n in 0..FIRES {
        nodes[0]
            .op_ok(Op::Fire, "fires.x", &json!({"fire": n}))
            .await;
    }
    wait_count(&nodes[1], "fires.x", KEPT + FIRES).await;

    // A copy run twice would come from both nodes taking one: fires made
    // afterwards through each node are counted after those, so once they
    // are, fires.x must not have moved.
    for node in &nodes {
        node.op_ok(Op::Fire, "fires.y", &json!({"sentinel": true}))
            .await;
    }
    wait_count(&nodes[0], "fires.y", nodes.len() as u64).await;
    for (i, node) in nodes.iter().enumerate() {
        assert_eq!(
            count(node, "fires.x").await,
            KEPT + FIRES,
            "fires.x counted more than once per message, read through node {i}"
        );
    }

    // Subscribers got the stored messages and then the last one: no fire
    // came between (they are applied in log order before it).
    let message = json!({"kept": "last"});
    let timetoken = nodes[1].publish("fires.x", &message).await;
    acknowledged.insert(timetoken.parse::<u64>().unwrap(), message);
    let mut expected: Vec<(u64, Value)> =
        acknowledged.iter().map(|(t, m)| (*t, m.clone())).collect();
    expected.sort_by_key(|(t, _)| *t);
    for (i, sse) in sses.iter_mut().enumerate() {
        let got = entries(&sse.messages(expected.len()).await);
        assert_eq!(got, expected, "node {i}'s subscriber got something else");
    }

    // Histories hold no fire, and the log kept every stored message: a node
    // that joins now has them all, although the fires on their channel
    // outnumber its per-channel limit.
    let late = start_nodes(&[nats.node_config(SMALL_HISTORY)]).await;
    wait_healthy(&late[0], TIMEOUT).await;
    let all = [&nodes[0], &nodes[1], &late[0]];
    assert_same_histories(&all, "fires.x", 100, &acknowledged).await;
    for node in all {
        let stored = node.history("fires.x", "limit=100").await;
        assert_eq!(
            entries(&stored),
            expected,
            "history of fires.x on {}",
            node.base()
        );
        assert!(
            node.history("fires.y", "limit=100").await.is_empty(),
            "a fire in history on {}",
            node.base()
        );
    }
}

#[tokio::test]
async fn a_node_stopped_with_sigterm_leaves_each_copy_counted_once() {
    let (_nats, mut nodes) = cluster("").await;
    let spec = json!({"endpoint": true, "after_publish": ["stop.*"]});
    nodes[0].deploy_ok("counter", "counter", &spec).await;
    for node in &nodes {
        eventually("the counter on every node", TIMEOUT, || async {
            let answer = node.get("/v1/fn/counter/stop.x").await;
            (answer.status == 200).then_some(())
        })
        .await;
    }

    // Node 0 stops while the others publish, so it holds copies (queued,
    // running, or run and not yet acknowledged) when SIGTERM arrives.
    let (first, rest) = nodes.split_at_mut(1);
    let stopping = &mut first[0];
    let publishers = rest.iter().enumerate().map(|(w, node)| async move {
        let mut n = w as u64;
        while n < MESSAGES {
            node.publish("stop.x", &json!({"n": n})).await;
            n += 2;
        }
    });
    let (status, ()) = tokio::join!(stopping.terminate(), async {
        futures::future::join_all(publishers).await;
    });
    let stderr = stopping.stderr();
    assert!(status.success(), "exited with {status}; stderr:\n{stderr}");
    // Copies drained before the loops stop, and the NATS connection (their
    // acknowledgements) last.
    let steps = [
        "shutdown 1/4",
        "shutdown 2/4",
        "shutdown 3/4",
        "shutdown 4/4",
        "stopped",
    ];
    let positions: Vec<_> = steps
        .iter()
        .map(|step| {
            stderr
                .find(step)
                .unwrap_or_else(|| panic!("no `{step}` in its stderr:\n{stderr}"))
        })
        .collect();
    assert!(
        positions.is_sorted(),
        "shutdown steps out of order: {positions:?}\n{stderr}"
    );

    let reached = eventually("every copy of stop.x counted", TIMEOUT, || async {
        let n = count(&nodes[1], "stop.x").await;
        (n >= MESSAGES).then_some(n)
    })
    .await;
    assert_eq!(reached, MESSAGES, "a copy was counted twice");
    // Later messages through both live nodes are counted after anything a
    // redelivery could still bring.
    for node in &nodes[1..] {
        node.publish("stop.y", &json!({"sentinel": true})).await;
    }
    wait_count(&nodes[2], "stop.y", 2).await;
    assert_eq!(count(&nodes[2], "stop.x").await, MESSAGES);
}
