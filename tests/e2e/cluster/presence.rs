//! Presence is the cluster's: members who heartbeat through different nodes
//! are all in here-now on every node; joins and leaves made on one node
//! are `-pnpres` events on every node, once each; and when a node is
//! killed, the members who were present through it time out (one
//! `timeout` event each, published by one of the others).

use std::time::Duration;

use edgefn_e2e::sse::Sse;
use edgefn_e2e::wait::{TIMEOUT, eventually};
use edgefn_e2e::*;

use super::cluster;

const PRESENCE: &str = "/v2/presence/sub-key/demo/channel";
/// The shortest presence timeout a client may ask for, in seconds.
const HEARTBEAT: u64 = 20;

/// Heartbeats `uuid` on `room` through `node` (with `state`, if any).
async fn heartbeat(node: &Node, uuid: &str, state: Option<&Value>) {
    let path = format!("{PRESENCE}/room/heartbeat?uuid={uuid}&heartbeat={HEARTBEAT}");
    if let Some(state) = state {
        let request = node
            .http()
            .get(node.url(&path))
            .query(&[("state", state.to_string())]);
        node.send(request).await.ok();
        return;
    }
    node.get(&path).await.ok();
}

/// The uuids on `room`, sorted, as `node`'s here-now answers.
async fn here_now(node: &Node) -> Vec<String> {
    let answer = node.get(&format!("{PRESENCE}/room?state=1")).await;
    let body = answer.ok();
    let mut uuids: Vec<String> = body["uuids"]
        .as_array()
        .unwrap_or_else(|| panic!("no uuids in {body}"))
        .iter()
        .map(|u| u["uuid"].as_str().unwrap_or_default().to_owned())
        .collect();
    uuids.sort();
    assert_eq!(body["occupancy"], uuids.len(), "{body}");
    uuids
}

/// Waits until every one of `nodes` says exactly `uuids` are on `room`.
async fn wait_here_now(nodes: &[&Node], uuids: &[&str]) {
    for (i, node) in nodes.iter().enumerate() {
        let what = format!("node {i}'s here-now to list {uuids:?}");
        eventually(&what, TIMEOUT, || async {
            (here_now(node).await == uuids).then_some(())
        })
        .await;
    }
}

/// The next presence event on `sse`: (action, uuid).
async fn next_event(sse: &mut Sse, limit: Duration) -> (String, String) {
    let event = sse.next_event_within(limit).await;
    let message = &event.data["message"];
    (
        message["action"].as_str().unwrap_or_default().to_owned(),
        message["uuid"].as_str().unwrap_or_default().to_owned(),
    )
}

#[tokio::test]
async fn presence_is_shared_across_nodes_and_outlives_a_killed_node() {
    let (_nats, mut nodes) = cluster("").await;
    let (mut events, _) = Sse::ready(&nodes[2], "room-pnpres", None).await;

    heartbeat(&nodes[0], "alice", None).await;
    heartbeat(&nodes[1], "bob", Some(&json!({"mood": "busy"}))).await;
    // Each join is published by its own node: in either order.
    let mut joins = [
        next_event(&mut events, TIMEOUT).await,
        next_event(&mut events, TIMEOUT).await,
    ];
    joins.sort();
    let expected = [("join", "alice"), ("join", "bob")].map(|(a, u)| (a.to_owned(), u.to_owned()));
    assert_eq!(joins, expected);
    let all: Vec<&Node> = nodes.iter().collect();
    wait_here_now(&all, &["alice", "bob"]).await;

    // State set through one node is read through another.
    let state = nodes[0].get(&format!("{PRESENCE}/room/uuid/bob")).await;
    assert_eq!(state.ok()["payload"]["mood"], "busy", "{}", state.body);
    // Heartbeats through another node are no new join.
    heartbeat(&nodes[2], "alice", None).await;

    nodes[1]
        .get(&format!("{PRESENCE}/room/leave?uuid=bob"))
        .await
        .ok();
    assert_eq!(
        next_event(&mut events, TIMEOUT).await,
        ("leave".into(), "bob".into())
    );
    wait_here_now(&all, &["alice"]).await;

    // Alice's nodes stop heartbeating for her: node 0 is killed, and node 2
    // (which she also went through) simply hears no more from her.
    nodes[0].kill9().await;
    let limit = Duration::from_secs(HEARTBEAT) + TIMEOUT;
    let Ok(event) = tokio::time::timeout(limit, next_event(&mut events, limit * 2)).await else {
        let logs: Vec<String> = nodes[1..].iter().map(Node::stderr).collect();
        panic!(
            "no timeout event for alice; the survivors' logs:\n{}",
            logs.join("\n---\n")
        );
    };
    assert_eq!(event, ("timeout".into(), "alice".into()));
    let survivors: Vec<&Node> = nodes[1..].iter().collect();
    wait_here_now(&survivors, &[]).await;
    // Each node saw her expire; one of them published the timeout.
    let more = tokio::time::timeout(Duration::from_secs(3), events.next_event()).await;
    assert!(
        more.is_err(),
        "another presence event after the timeout: {more:?}"
    );
}
