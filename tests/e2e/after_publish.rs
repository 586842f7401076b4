//! After-publish hooks and outbound HTTP: the `forward` example delivers to
//! a real local HTTP server; a call to a URL off the allow-list (or to a
//! non-public address a wildcard rule would match) never reaches its target
//! and is logged; a hook blocked on its outbound call delays neither the
//! publisher nor the subscribers.

use std::time::Duration;

use edgefn_e2e::*;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// A `forward` deployment on `channel` POSTing to `url`, allowed to reach `allow`.
fn forward_spec(channel: &str, url: &str, allow: &[String]) -> Value {
    json!({"after_publish": [channel], "allow_outbound": allow, "config": {"forward_url": url}})
}

#[tokio::test]
async fn forward_delivers_every_message_to_a_local_server() {
    let node = Node::start().await;
    let recorder = Recorder::start().await;
    node.deploy_ok(
        "forward",
        "forward",
        &forward_spec(
            "orders.*",
            &recorder.url("/hook?src=edgefn"),
            &[recorder.url("")],
        ),
    )
    .await;

    let query = [("meta", r#"{"priority":"high"}"#), ("publisher", "shop-1")];
    let answer = node
        .post_message(Op::Publish, "orders.eu", r#"{"id":7,"total":12.5}"#, &query)
        .await;
    let tt = answer.ok()["timetoken"].clone();
    let request = recorder.next().await;
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, "/hook?src=edgefn");
    assert!(
        request
            .header("content-type")
            .is_some_and(|c| c.starts_with("application/json")),
        "{:?}",
        request.headers
    );
    assert_eq!(
        request.json(),
        json!({"channel": "orders.eu", "timetoken": tt, "message": {"id": 7, "total": 12.5}, "meta": {"priority": "high"}, "publisher": "shop-1"})
    );

    // Every message, in any order (copies run concurrently).
    let mut tts: Vec<Value> = Vec::new();
    for seq in 0..5 {
        tts.push(node.publish("orders.us", &json!({"seq": seq})).await.into());
    }
    let mut forwarded: Vec<Value> = Vec::new();
    for _ in 0..5 {
        forwarded.push(recorder.next().await.json()["timetoken"].clone());
    }
    forwarded.sort_by_key(|v| v.to_string());
    assert_eq!(forwarded, tts);
    node.wait_for_log(
        "forward",
        &["forwarded", "orders.us", "(200)"],
        wait::TIMEOUT,
    )
    .await;
    assert_eq!(recorder.all().len(), 6, "unexpected extra requests");
}

#[tokio::test]
async fn a_forward_off_the_allow_list_never_reaches_its_target() {
    let node = Node::start().await;
    let target = Recorder::start().await;
    let other = Recorder::start().await;
    // Allowed: another port only. Allowed by wildcards: any host on the
    // target's port, which is loopback, so still not allowed (not public).
    let cases = [
        (
            "off-list",
            vec![other.url("")],
            "not on this function's allow-list",
        ),
        ("no-list", vec![], "not on this function's allow-list"),
        (
            "wildcard",
            vec![format!("http://*:{}", target.port())],
            "not public",
        ),
    ];
    for (name, allow, refusal) in &cases {
        let channel = format!("deny.{name}");
        node.deploy_ok(
            name,
            "forward",
            &forward_spec(&channel, &target.url("/hook"), allow),
        )
        .await;
        node.publish(&channel, &json!({"secret": name})).await;
        // The host logs the refusal, and the guest saw an error it reports.
        node.wait_for_log(
            name,
            &["denied", &target.url("/hook"), refusal],
            wait::TIMEOUT,
        )
        .await;
        node.wait_for_log(name, &["could not forward"], wait::TIMEOUT)
            .await;
    }
    // The allowed server is reachable through the same mechanism...
    node.deploy_ok(
        "allowed",
        "forward",
        &forward_spec("deny.allowed", &other.url("/ok"), &[other.url("")]),
    )
    .await;
    node.publish("deny.allowed", &json!({"fine": true})).await;
    assert_eq!(other.next().await.path, "/ok");
    // ...and the denied target never saw a request (the refusals were all
    // logged before this point, and there are no retries).
    assert!(
        target.all().is_empty(),
        "a denied call reached its target: {:?}",
        target.all()
    );
}

#[tokio::test]
async fn a_blocked_after_publish_hook_delays_neither_publisher_nor_subscribers() {
    // The node allows outbound calls to wait a minute, so only a node that
    // does not wait for after-publish hooks can answer within the bound.
    let node = Node::start_with_config("[wasm.outbound]\nfirst_byte_timeout_ms = 60000\n").await;
    let black_hole = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://127.0.0.1:{}",
        black_hole.local_addr().unwrap().port()
    );
    let mut spec = forward_spec(
        "slow.*",
        &format!("{url}/never"),
        std::slice::from_ref(&url),
    );
    spec["timeout_ms"] = json!(60_000);
    node.deploy_ok("forward", "forward", &spec).await;
    let (accepted, connection) = oneshot::channel();
    let (release, released) = oneshot::channel::<()>();
    let holder = tokio::spawn(async move {
        let (stream, _) = black_hole.accept().await.unwrap();
        let _ = accepted.send(());
        let _ = released.await;
        drop(stream);
    });

    let (mut sse, _) = Sse::ready(&node, "slow.*", None).await;
    let publishing = async {
        for seq in 0..3 {
            node.publish("slow.x", &json!({"seq": seq})).await;
        }
    };
    wait::within(
        "publishes while the after-publish hook is blocked",
        Duration::from_secs(30),
        publishing,
    )
    .await;
    let got = sse.messages(3).await;
    assert_eq!(check::seqs(&got), [0, 1, 2]);
    // The hook really was blocked on its call while all that happened.
    wait::within("the hook's outbound connection", wait::TIMEOUT, connection)
        .await
        .unwrap();
    assert!(
        node.logs("forward")
            .await
            .iter()
            .all(|l| !l["text"].as_str().unwrap_or("").contains("forwarded")),
        "the hook finished"
    );
    let _ = release.send(());
    holder.await.unwrap();
    node.wait_for_log("forward", &["could not forward"], wait::TIMEOUT)
        .await;
}
