//! Hostile clients claiming to be someone they are not: a client naming
//! itself `fn:…` (the publisher id functions publish under) is refused with
//! 400 naming the reserved prefix on every way in where a client sets its
//! id — the native publish (query, header), SSE and WebSocket connects,
//! WebSocket publish frames, and every PubNub route's `uuid` (publish,
//! subscribe, presence) — and nothing it sent is stored or seen.

use edgefn_e2e::*;
use tokio_tungstenite::connect_async;
use tokio_tungstenite::tungstenite::Error as WsError;

/// Checks a native 400 naming the reserved prefix.
#[track_caller]
fn assert_reserved(answer: &Answer, what: &str) {
    let message = answer.message(400, "reserved_id");
    assert!(message.contains("`fn:`"), "{what}: {message}");
}

/// Checks a PubNub 400 naming the reserved prefix, in either shape.
#[track_caller]
fn assert_pubnub_reserved(answer: &Answer, what: &str) {
    assert_eq!(answer.status, 400, "{what}: {}", answer.body);
    let message = match &answer.body {
        Value::Array(items) => items[1].as_str(),
        body => body["message"].as_str(),
    };
    assert!(
        message.is_some_and(|m| m.contains("reserved prefix `fn:`")),
        "{what}: {}",
        answer.body
    );
}

#[tokio::test]
async fn native_clients_cannot_claim_a_function_id() {
    let node = Node::start().await;
    for query in [
        &[("publisher", "fn:moderate")][..],
        &[("uuid", "fn:moderate")],
        &[("publisher", "FN:Moderate")],
    ] {
        let answer = node
            .post_message(Op::Publish, "id.n", r#""spoof""#, query)
            .await;
        assert_reserved(&answer, &format!("publish {query:?}"));
    }
    let header = node
        .http()
        .post(node.url("/v1/signal/id.n"))
        .header("x-edgefn-publisher", "fn:moderate")
        .body(r#""spoof""#);
    assert_reserved(&node.send(header).await, "X-Edgefn-Publisher");
    let sse = node.get("/v1/subscribe/id.n?uuid=fn:x").await;
    assert_reserved(&sse, "SSE subscribe");

    // WebSocket: the upgrade is refused ...
    let url = format!("ws://{}/v1/ws?uuid=fn:x", node.authority());
    match connect_async(url).await {
        Err(WsError::Http(response)) => assert_eq!(response.status().as_u16(), 400),
        other => panic!("a `fn:` uuid connected: {:?}", other.map(|_| ())),
    }
    // ... and so is a publish frame naming such a publisher, while the
    // connection stays usable.
    let mut ws = Ws::connect(&node).await;
    let answer = ws
        .call(json!({"type": "publish", "channel": "id.n", "message": 1, "publisher": "fn:x"}))
        .await;
    assert_eq!(answer["error"]["code"], "reserved_id", "{answer}");
    let answer = ws
        .call(json!({"type": "publish", "channel": "id.n", "message": 2, "publisher": "alice"}))
        .await;
    assert_eq!(answer["type"], "published", "{answer}");

    let stored = node.history("id.n", "").await;
    assert_eq!(stored.len(), 1, "a spoofed publish was stored: {stored:?}");
    assert_eq!(stored[0]["publisher"], "alice");
}

#[tokio::test]
async fn pubnub_clients_cannot_claim_a_function_id() {
    let node = Node::start().await;
    let routes = [
        (
            "GET publish",
            "/publish/demo/demo/0/id.p/0/%22x%22?uuid=fn%3Ax",
        ),
        ("signal", "/signal/demo/demo/0/id.p/0/%22x%22?uuid=fn:x"),
        ("subscribe", "/v2/subscribe/demo/id.p/0?uuid=fn:x"),
        (
            "heartbeat",
            "/v2/presence/sub-key/demo/channel/id.p/heartbeat?uuid=Fn:x",
        ),
        ("history", "/v3/history/sub-key/demo/channel/id.p?uuid=fn:x"),
        (
            "set state",
            "/v2/presence/sub-key/demo/channel/id.p/uuid/fn:x/data?uuid=u&state=%7B%7D",
        ),
    ];
    for (what, path) in routes {
        assert_pubnub_reserved(&node.get(path).await, what);
    }
    let post = node
        .http()
        .post(node.url("/publish/demo/demo/0/id.p/0?uuid=fn:x"))
        .body(r#""x""#);
    let answer = node.send(post).await;
    assert_pubnub_reserved(&answer, "POST publish");
    assert!(
        answer.body.is_array(),
        "publish errors are arrays: {}",
        answer.body
    );

    assert!(
        node.history("id.p", "").await.is_empty(),
        "a spoof was stored"
    );
    let here = node.get("/v2/presence/sub-key/demo/channel/id.p").await;
    assert_eq!(
        here.body["occupancy"], 0,
        "a spoof is present: {}",
        here.body
    );
}
