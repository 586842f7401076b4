//! Limits on what a node keeps for its clients, set small in its config:
//! presence members, channel groups and channels with history. Past each,
//! the client gets 400 naming the limit (its setting in the message, its
//! name in the payload), nothing is kept, the refusal is counted in
//! `edgefn_limit_refusals_total{limit="..."}`, and what the node already
//! keeps still works.

use edgefn_e2e::*;

const PRESENCE: &str = "/v2/presence/sub-key/demo/channel";
const GROUPS: &str = "/v1/channel-registration/sub-key/demo/channel-group";

async fn refusals(node: &Node, limit: &str) -> f64 {
    node.metric("edgefn_limit_refusals_total", &[("limit", limit)])
        .await
}

/// A PubNub object error naming `limit`, with `setting` in its message.
#[track_caller]
fn assert_limit(answer: &Answer, limit: &str, setting: &str) {
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert_eq!(answer.body["error"], true, "{}", answer.body);
    assert_eq!(answer.body["payload"]["limit"], limit, "{}", answer.body);
    let message = answer.body["message"].as_str().unwrap();
    assert!(message.contains(setting), "{message}");
}

#[tokio::test]
async fn presence_members_past_the_limit_are_refused() {
    let node = Node::start_with_config("[pubnub]\nmax_presence_members = 3\n").await;
    for uuid in ["u1", "u2", "u3"] {
        node.get(&format!("{PRESENCE}/lim.room/heartbeat?uuid={uuid}"))
            .await
            .ok();
    }
    let refused = node
        .get(&format!("{PRESENCE}/lim.room/heartbeat?uuid=u4"))
        .await;
    assert_limit(&refused, "presence_members", "pubnub.max_presence_members");
    assert_eq!(refused.body["service"], "Presence");
    let state = node
        .get(&format!(
            "{PRESENCE}/lim.other/uuid/u5/data?state=%7B%22a%22%3A1%7D"
        ))
        .await;
    assert_limit(&state, "presence_members", "pubnub.max_presence_members");
    assert_eq!(refusals(&node, "presence_members").await, 2.0);

    // Those present stay so, and heartbeat as before; a leave makes room.
    let here = node.get(&format!("{PRESENCE}/lim.room")).await;
    assert_eq!(here.ok()["occupancy"], 3, "{}", here.body);
    node.get(&format!("{PRESENCE}/lim.room/heartbeat?uuid=u1"))
        .await
        .ok();
    node.get(&format!("{PRESENCE}/lim.room/leave?uuid=u1"))
        .await
        .ok();
    node.get(&format!("{PRESENCE}/lim.room/heartbeat?uuid=u4"))
        .await
        .ok();
}

#[tokio::test]
async fn channel_groups_past_the_limit_are_refused() {
    let node = Node::start_with_config("[pubnub]\nmax_channel_groups = 2\n").await;
    for group in ["g1", "g2"] {
        node.get(&format!("{GROUPS}/{group}?add=a,b")).await.ok();
    }
    let refused = node.get(&format!("{GROUPS}/g3?add=a")).await;
    assert_limit(&refused, "channel_groups", "pubnub.max_channel_groups");
    assert_eq!(refusals(&node, "channel_groups").await, 1.0);
    let listed = node.get(GROUPS).await;
    assert_eq!(listed.ok()["payload"]["groups"], json!(["g1", "g2"]));

    // Existing groups still change; deleting one makes room.
    node.get(&format!("{GROUPS}/g1?add=c")).await.ok();
    node.get(&format!("{GROUPS}/g2/remove")).await.ok();
    node.get(&format!("{GROUPS}/g3?add=a")).await.ok();
}

#[tokio::test]
async fn a_new_channel_with_history_past_the_limit_is_refused() {
    let node = Node::start_with_config("[bus]\nmax_history_channels = 2\n").await;
    node.publish("lim.h1", &json!({"n": 1})).await;
    node.publish("lim.h2", &json!({"n": 2})).await;

    // The native API: 400 `limit_reached`, naming the limit.
    let native = node
        .post_message(Op::Publish, "lim.h3", r#"{"n":3}"#, &[])
        .await;
    let error = native.error(400, "limit_reached");
    assert_eq!(error["limit"], "history_channels", "{}", native.body);
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("bus.max_history_channels"),
        "{}",
        native.body
    );
    // The PubNub API: `[0, "limit reached: ..."]`.
    let pubnub = node
        .get("/publish/demo/demo/0/lim.h4/0/%7B%22n%22%3A4%7D")
        .await;
    assert_eq!(pubnub.status, 400, "{}", pubnub.body);
    assert_eq!(pubnub.body[0], 0, "{}", pubnub.body);
    assert!(
        pubnub.body[1]
            .as_str()
            .unwrap()
            .contains("bus.max_history_channels"),
        "{}",
        pubnub.body
    );
    assert_eq!(refusals(&node, "history_channels").await, 2.0);
    assert!(node.history("lim.h3", "").await.is_empty());

    // Channels with history take more; signals and store=0 are not refused.
    node.publish("lim.h1", &json!({"n": 5})).await;
    node.op_ok(Op::Signal, "lim.h3", &json!(6)).await;
    node.post_message(Op::Publish, "lim.h3", "7", &[("store", "0")])
        .await
        .ok();
    assert_eq!(node.history("lim.h1", "").await.len(), 2);
}
