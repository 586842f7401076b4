//! PubNub's long-poll subscribe (`/v2/subscribe`) driven over plain HTTP:
//! a client whose cursor fell out of the node's window of recent
//! deliveries catches up from history instead of skipping messages.

use edgefn_e2e::*;

/// One poll from `cursor`: the next cursor and the messages' payloads.
async fn poll(node: &Node, channels: &str, cursor: &str) -> (String, Vec<Value>) {
    let answer = node
        .get(&format!(
            "/v2/subscribe/demo/{channels}/0?uuid=u&tt={cursor}&tr=1"
        ))
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let body = &answer.body;
    let next = body["t"]["t"].as_str().expect("a cursor").to_owned();
    let messages = body["m"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|envelope| envelope["d"].clone())
        .collect();
    (next, messages)
}

#[tokio::test]
async fn a_cursor_older_than_the_window_catches_up_from_history() {
    // A window of 5 messages and answers of at most 4.
    let node =
        Node::start_with_config("[bus]\nrecent_messages = 5\n[pubnub]\nsubscribe_batch = 4\n")
            .await;
    let handshake = node.get("/v2/subscribe/demo/lp.a,lp.b/0?uuid=u&tt=0").await;
    let mut cursor = handshake.body["t"]["t"].as_str().unwrap().to_owned();
    for seq in 0..23u64 {
        let channel = if seq % 2 == 0 { "lp.a" } else { "lp.b" };
        node.publish(channel, &json!({"seq": seq})).await;
        node.publish("lp.other", &json!({"seq": 1000 + seq})).await;
    }
    let mut got = Vec::new();
    while got.len() < 23 {
        let (next, messages) = poll(&node, "lp.a,lp.b", &cursor).await;
        assert!(
            !messages.is_empty(),
            "a poll behind the window answers at once"
        );
        assert!(messages.len() <= 4, "at most subscribe_batch per answer");
        assert!(next > cursor, "the cursor moves on");
        got.extend(messages.iter().map(|m| m["seq"].as_u64().unwrap()));
        cursor = next;
    }
    assert_eq!(
        got,
        (0..23).collect::<Vec<_>>(),
        "every message once, in order"
    );
}

#[tokio::test]
async fn channels_covered_through_groups_are_capped() {
    let node = Node::start_with_config("[pubnub]\nmax_subscribed_channels = 5\n").await;
    let added = node
        .get("/v1/channel-registration/sub-key/demo/channel-group/g1?add=a,b,c,d&uuid=u")
        .await;
    assert_eq!(added.status, 200, "{}", added.body);
    let refused = node
        .get("/v2/subscribe/demo/x,y/0?channel-group=g1&uuid=u&tt=0")
        .await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    let text = refused.body.to_string();
    assert!(
        text.contains("covers 6 channels") && text.contains("max_subscribed_channels"),
        "the answer names the limit: {text}"
    );
    let fits = node
        .get("/v2/subscribe/demo/x/0?channel-group=g1&uuid=u&tt=0")
        .await;
    assert_eq!(fits.status, 200, "{}", fits.body);
}
