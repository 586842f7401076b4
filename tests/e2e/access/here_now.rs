//! Global here now (`GET /v2/presence/sub-key/{sub}`) with access control
//! on: as here now for named channels needs `read` on each, a token is
//! answered only the channels it may read; a client without a valid token
//! is refused.

use edgefn_e2e::*;

const SECRET: &str = "here-now-secret";

async fn heartbeat(node: &Node, channel: &str, uuid: &str, token: &str) {
    let path = format!(
        "/v2/presence/sub-key/demo/channel/{channel}/heartbeat?uuid={uuid}&auth={token}&heartbeat=300"
    );
    let answer = node.get(&path).await;
    assert_eq!(answer.status, 200, "heartbeat: {}", answer.body);
}

async fn global(node: &Node, token: &str) -> Answer {
    node.get(&format!("/v2/presence/sub-key/demo?uuid=x&auth={token}"))
        .await
}

#[tokio::test]
async fn global_here_now_reports_only_channels_the_token_reads() {
    let node = Node::start_secured(SECRET).await;
    let alice = node
        .grant(&json!({"ttl_minutes": 5, "channels": {"hn.a": ["read"]}}))
        .await;
    let bob = node
        .grant(&json!({"ttl_minutes": 5, "channels": {"hn.b": ["read"]}, "channel_patterns": {"hn\\.sec.*": ["read"]}}))
        .await;
    heartbeat(&node, "hn.a", "alice", &alice).await;
    heartbeat(&node, "hn.b", "bob", &bob).await;
    heartbeat(&node, "hn.secret", "bob", &bob).await;

    let answer = global(&node, &alice).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let payload = &answer.body["payload"];
    let channels = payload["channels"].as_object().expect("channels");
    assert_eq!(
        channels.keys().collect::<Vec<_>>(),
        ["hn.a"],
        "alice sees a channel she may not read: {payload}"
    );
    assert_eq!(payload["total_channels"], 1, "{payload}");
    assert_eq!(payload["total_occupancy"], 1, "{payload}");
    assert_eq!(channels["hn.a"]["uuids"], json!(["alice"]));

    let answer = global(&node, &bob).await;
    let channels = answer.body["payload"]["channels"]
        .as_object()
        .expect("channels");
    let mut names: Vec<_> = channels.keys().collect();
    names.sort();
    assert_eq!(names, ["hn.b", "hn.secret"], "{}", answer.body);

    let refused = node
        .get("/v2/presence/sub-key/demo?uuid=x&auth=forged")
        .await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    let refused = node.get("/v2/presence/sub-key/demo?uuid=x").await;
    assert_eq!(refused.status, 403, "{}", refused.body);
}
