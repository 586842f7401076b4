//! The `relay` example (before-publish): it asks an HTTP service, here a
//! local server started by the test, about each message, and publishes it
//! enriched with the service's data, or rejects it with the service's
//! reason; a service that fails or cannot be reached rejects too.

use edgefn_e2e::recorder::Recorded;
use edgefn_e2e::*;
use tokio::net::TcpListener;

/// The enrichment service: decides by the message's `user`.
fn verdict(request: &Recorded) -> (u16, Value) {
    let payload: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
    let channel = request.header("x-edgefn-channel").unwrap_or_default();
    match payload["user"].as_str() {
        Some("blocked") => (200, json!({"allow": false, "reason": "user is blocked"})),
        Some("flaky") => (503, json!({"error": "overloaded"})),
        Some("garbled") => (200, json!({"allowed": "maybe"})),
        _ => (
            200,
            json!({"allow": true, "data": {"score": 42, "channel": channel}}),
        ),
    }
}

/// The `relay` deployment on `pattern` asking `url`, allowed to reach `origin`.
fn relay_spec(pattern: &str, url: &str, origin: &str) -> Value {
    json!({
        "before_publish": [pattern],
        "config": {"relay_url": url},
        "allow_outbound": [origin],
        "timeout_ms": 5000,
    })
}

#[tokio::test]
async fn relay_enriches_or_rejects_as_the_service_says() {
    let node = Node::start().await;
    let service = Recorder::start_with(verdict).await;
    let spec = relay_spec("orders.*", &service.url("/verdict"), &service.url(""));
    node.deploy_ok("relay", "relay", &spec).await;
    let (mut sse, _) = Sse::ready(&node, "orders.*", None).await;

    let tt = node
        .publish("orders.eu", &json!({"user": "ann", "total": 5}))
        .await;
    let asked = service.next().await;
    assert_eq!(
        (asked.method.as_str(), asked.path.as_str()),
        ("POST", "/verdict")
    );
    assert_eq!(asked.header("x-edgefn-channel"), Some("orders.eu"));
    assert_eq!(asked.json(), json!({"user": "ann", "total": 5}));
    let enriched =
        json!({"user": "ann", "total": 5, "enriched": {"score": 42, "channel": "orders.eu"}});
    let delivered = sse.next_message().await;
    assert_eq!(delivered["timetoken"], tt.as_str());
    assert_eq!(delivered["message"], enriched);

    // Rejections: the service's reason, or why the service failed.
    for (user, reason) in [
        ("blocked", "user is blocked"),
        (
            "flaky",
            "enrichment service unavailable: it answered HTTP 503",
        ),
        (
            "garbled",
            r#"enrichment service unavailable: its answer has no boolean "allow""#,
        ),
    ] {
        let body = json!({"user": user}).to_string();
        let answer = node.post_message(Op::Publish, "orders.us", body, &[]).await;
        let error = answer.error(403, "rejected");
        assert_eq!(error["function"], "relay");
        assert_eq!(error["reason"], reason, "{error}");
    }
    // A payload that is not an object passes unchanged when allowed.
    node.publish("orders.us", &json!("plain text")).await;
    let stored: Vec<Value> = node
        .history("orders.us", "")
        .await
        .iter()
        .map(|m| m["message"].clone())
        .collect();
    assert_eq!(
        stored,
        [json!("plain text")],
        "rejected messages are not stored"
    );
    assert_eq!(sse.next_message().await["message"], "plain text");
    assert_eq!(service.all().len(), 5, "one question per publish");
}

#[tokio::test]
async fn relay_rejects_when_the_service_cannot_be_reached() {
    let node = Node::start().await;
    // A port that was free a moment ago: nothing listens there.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let spec = relay_spec("lost.*", &format!("{origin}/verdict"), &origin);
    node.deploy_ok("relay", "relay", &spec).await;
    let answer = node.post_message(Op::Publish, "lost.a", "{}", &[]).await;
    let error = answer.error(403, "rejected");
    let reason = error["reason"].as_str().unwrap_or_default();
    assert!(
        reason.starts_with("enrichment service unavailable: "),
        "{error}"
    );
    assert!(node.history("lost.a", "").await.is_empty());
}
