//! After-presence hooks run once per presence change in a cluster: the
//! change is made (and its `-pnpres` event published) by one node, the one
//! that took the heartbeat, leave or state request, or, for a timeout, the
//! one whose claim won; the other node learns of the member through the
//! presence bucket and runs nothing. The `presence-log` test guest,
//! deployed on one of two nodes, counts each event in the cluster's KV
//! store: every join, state change, leave and timeout, made through either
//! node, is counted exactly once.

use std::time::Duration;

use edgefn_e2e::wait::{TIMEOUT, eventually};
use edgefn_e2e::*;
use reqwest::Method;

use crate::after_presence::{
    HEARTBEAT, LONG, REPORTS, assert_report, heartbeat, leave, next_report, runs, set_state, spec,
};

/// The uuids on `channel`, sorted, as `node`'s here-now answers.
async fn here_now(node: &Node, channel: &str) -> Vec<String> {
    let answer = node
        .get(&format!("/v2/presence/sub-key/demo/channel/{channel}"))
        .await;
    let mut uuids: Vec<String> = answer.ok()["uuids"]
        .as_array()
        .unwrap_or_else(|| panic!("no uuids in {}", answer.body))
        .iter()
        .map(|u| u.as_str().unwrap_or_default().to_owned())
        .collect();
    uuids.sort();
    uuids
}

/// Waits until `node` says exactly `uuids` are on `channel`.
async fn wait_here_now(node: &Node, channel: &str, uuids: &[&str]) {
    let what = format!("{}'s here-now of {channel} to list {uuids:?}", node.base());
    eventually(&what, TIMEOUT, || async {
        (here_now(node, channel).await == uuids).then_some(())
    })
    .await;
}

#[tokio::test]
async fn each_presence_change_runs_the_hook_once_across_two_nodes() {
    let nats = NatsServer::start().await;
    let nodes = nats.start_nodes(2, "").await;
    nodes[0]
        .deploy_ok("rooms", "presence-log", &spec(&["room.*"], "rooms"))
        .await;
    eventually("the function to be deployed on node 1", TIMEOUT, || async {
        let shown = nodes[1].admin(Method::GET, "/functions/rooms").await;
        (shown.status == 200).then_some(())
    })
    .await;
    // Reports made on either node reach a subscriber on node 1.
    let (mut reports, _) = Sse::ready(&nodes[1], REPORTS, None).await;

    heartbeat(&nodes[0], "room.c", "alice", LONG, None).await;
    let report = next_report(&mut reports).await;
    assert_report(&report, ("join", "room.c", "alice"), 1, Value::Null);
    wait_here_now(&nodes[1], "room.c", &["alice"]).await;

    let busy = json!({"mood": "busy"});
    heartbeat(&nodes[1], "room.c", "bob", LONG, Some(&busy)).await;
    let report = next_report(&mut reports).await;
    assert_report(&report, ("join", "room.c", "bob"), 2, busy);
    wait_here_now(&nodes[0], "room.c", &["alice", "bob"]).await;

    // Alice, who joined through node 0, carries on through node 1: her
    // heartbeat there is no new join; her state change and her leave are
    // node 1's events.
    heartbeat(&nodes[1], "room.c", "alice", LONG, None).await;
    let typing = json!({"typing": true});
    set_state(&nodes[1], "room.c", "alice", &typing).await;
    let report = next_report(&mut reports).await;
    assert_report(&report, ("state-change", "room.c", "alice"), 2, typing);
    leave(&nodes[1], "room.c", "alice").await;
    let report = next_report(&mut reports).await;
    assert_report(&report, ("leave", "room.c", "alice"), 1, Value::Null);
    wait_here_now(&nodes[0], "room.c", &["bob"]).await;
    leave(&nodes[0], "room.c", "bob").await;
    let report = next_report(&mut reports).await;
    assert_report(&report, ("leave", "room.c", "bob"), 0, Value::Null);
    // Node 1 counts the next join's occupancy from its own view of the
    // shared table: let it learn of bob's leave first.
    wait_here_now(&nodes[1], "room.c", &[]).await;

    // A member who stops heartbeating expires on both nodes; one claims
    // the timeout.
    heartbeat(&nodes[1], "room.c", "ghost", HEARTBEAT, None).await;
    let report = next_report(&mut reports).await;
    assert_report(&report, ("join", "room.c", "ghost"), 1, Value::Null);
    let limit = Duration::from_secs(HEARTBEAT) + TIMEOUT;
    let report = reports.next_event_within(limit).await.data["message"].clone();
    assert_report(&report, ("timeout", "room.c", "ghost"), 0, Value::Null);

    // A second run of any of those would have been queued with it, before
    // these last changes (made through each node) were: once they are
    // counted, every count must still be one.
    heartbeat(&nodes[0], "room.end", "sentinel-0", LONG, None).await;
    heartbeat(&nodes[1], "room.end", "sentinel-1", LONG, None).await;
    let mut sentinels = Vec::new();
    for _ in 0..2 {
        let report = next_report(&mut reports).await;
        assert_eq!(
            report["channel"], "room.end",
            "an unexpected report: {report}"
        );
        assert_eq!(report["runs"], 1, "{report}");
        sentinels.push(report["uuid"].as_str().unwrap_or_default().to_owned());
    }
    sentinels.sort();
    assert_eq!(sentinels, ["sentinel-0", "sentinel-1"]);
    let counted = [
        ("join", "alice"),
        ("join", "bob"),
        ("state-change", "alice"),
        ("leave", "alice"),
        ("leave", "bob"),
        ("join", "ghost"),
        ("timeout", "ghost"),
    ];
    for (action, uuid) in counted {
        for node in &nodes {
            assert_eq!(
                runs(node, "rooms", "room.c", action, uuid).await,
                1,
                "{action} of {uuid}, read through {}",
                node.base()
            );
        }
    }
}
