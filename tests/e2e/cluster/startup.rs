//! A node started while NATS is down: it listens at once and answers every
//! request with 503 `starting` (saying it waits for NATS, without the
//! URL's credentials) instead of leaving clients hanging in the listen
//! backlog; once NATS is up it joins by itself and serves.

use edgefn_e2e::nats::{node_config, wait_healthy};
use edgefn_e2e::node::write_config;
use edgefn_e2e::wait::TIMEOUT;
use edgefn_e2e::*;
use serde_json::json;

#[tokio::test]
async fn a_node_started_while_nats_is_down_answers_503_starting_then_joins() {
    let mut nats = NatsServer::start().await;
    nats.kill().await;
    let dir = Node::temp_dir();
    let url = nats.url().replace("nats://", "nats://edgefn:hunter2@");
    let config = write_config(&dir, &node_config("", &url));
    let options = NodeOptions {
        config: Some(config),
        until_starting: true,
        ..NodeOptions::default()
    };
    let node = Node::start_in(dir, options).await;

    let health = node.get("/healthz").await;
    assert_eq!(health.status, 503, "{}", health.body);
    assert_eq!(health.body["status"], "starting", "{}", health.body);
    let reason = health.body["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains(&format!("NATS at 127.0.0.1:{}", nats.port())),
        "{reason}"
    );
    assert!(!reason.contains("hunter2"), "credentials shown: {reason}");
    let refused = node
        .post_message(Op::Publish, "startup.x", r#"{"n":1}"#, &[])
        .await;
    let message = refused.message(503, "starting");
    assert!(
        message.contains("starting") && message.contains("NATS"),
        "{message}"
    );
    assert_eq!(
        refused.headers.get("retry-after").map(|v| v.as_bytes()),
        Some(&b"1"[..])
    );

    nats.restart().await;
    wait_healthy(&node, TIMEOUT).await;
    let timetoken = node.publish("startup.x", &json!({"n": 2})).await;
    let history = node.history("startup.x", "").await;
    assert_eq!(history.len(), 1, "{history:?}");
    assert_eq!(history[0]["timetoken"], timetoken, "{history:?}");
}
