//! `GET /v1/ws`: subscribe and unsubscribe frames (fed by HTTP publishes),
//! publish, fire and signal frames, replay with `since`, and error frames
//! that leave the connection open.

use edgefn_e2e::check::seqs;
use edgefn_e2e::*;

#[tokio::test]
async fn subscribe_and_unsubscribe() {
    let node = Node::start().await;
    let mut ws = Ws::connect(&node).await;
    let answer = ws
        .call_ok(
            json!({"type": "subscribe", "channels": ["chat.*", "news"]}),
            "subscribed",
        )
        .await;
    assert_eq!(answer["channels"], json!(["chat.*", "news"]));

    let query = [("meta", r#"{"m":1}"#), ("publisher", "w")];
    let tt = node
        .post_message(Op::Publish, "chat.room", r#"{"text":"hi"}"#, &query)
        .await
        .ok()["timetoken"]
        .clone();
    node.publish("news", &json!(2)).await;
    let got = ws.next_message().await;
    assert_eq!(
        got,
        json!({"channel": "chat.room", "timetoken": tt, "message": {"text": "hi"}, "meta": {"m": 1}, "publisher": "w", "kind": "publish", "subscription": "chat.*"})
    );
    let got = ws.next_message().await;
    assert_eq!(got["channel"], "news");
    assert!(got.get("subscription").is_none(), "{got}");

    let answer = ws
        .call_ok(
            json!({"type": "unsubscribe", "channels": ["news"]}),
            "unsubscribed",
        )
        .await;
    assert_eq!(answer["channels"], json!(["chat.*"]));
    // Delivery follows publish order, so receiving the second proves the
    // first (on the dropped channel) was not delivered.
    node.publish("news", &json!(3)).await;
    node.publish("chat.x", &json!(4)).await;
    assert_eq!(ws.next_message().await["message"], 4);

    // Subscribing again adds to what is held.
    let answer = ws
        .call_ok(
            json!({"type": "subscribe", "channels": ["news"]}),
            "subscribed",
        )
        .await;
    assert_eq!(answer["channels"].as_array().unwrap().len(), 2, "{answer}");
    node.publish("news", &json!(5)).await;
    assert_eq!(ws.next_message().await["message"], 5);
}

#[tokio::test]
async fn publish_fire_and_signal_frames() {
    let node = Node::start().await;
    let mut reader = Ws::connect(&node).await;
    reader
        .call_ok(
            json!({"type": "subscribe", "channels": ["s.*"]}),
            "subscribed",
        )
        .await;
    let mut writer = Ws::connect(&node).await;

    let frame = json!({"type": "publish", "channel": "s.a", "message": {"text": "hi"}, "meta": {"m": 1}, "publisher": "w"});
    let answer = writer.call_ok(frame, "published").await;
    let tt = answer["timetoken"].as_str().unwrap().to_owned();
    check::assert_timetoken(&tt);
    writer
        .call_ok(
            json!({"type": "fire", "channel": "s.a", "message": {"fired": true}}),
            "published",
        )
        .await;
    writer
        .call_ok(
            json!({"type": "signal", "channel": "s.a", "message": "ping"}),
            "published",
        )
        .await;

    let got = reader.next_message().await;
    assert_eq!(
        got,
        json!({"channel": "s.a", "timetoken": tt, "message": {"text": "hi"}, "meta": {"m": 1}, "publisher": "w", "kind": "publish", "subscription": "s.*"})
    );
    let got = reader.next_message().await;
    assert_eq!(got["kind"], "signal", "the fire was delivered: {got}");
    assert_eq!(got["message"], "ping");
    assert_eq!(
        node.history("s.a", "").await.len(),
        1,
        "fire or signal stored"
    );

    // A connection may publish to a channel it subscribes to.
    writer
        .call_ok(
            json!({"type": "subscribe", "channels": ["self"]}),
            "subscribed",
        )
        .await;
    writer
        .call_ok(
            json!({"type": "publish", "channel": "self", "message": "echo"}),
            "published",
        )
        .await;
    assert_eq!(writer.next_message().await["message"], "echo");
}

#[tokio::test]
async fn since_replays_before_subscribed() {
    let node = Node::start().await;
    let mut tts = Vec::new();
    for seq in 0..4 {
        tts.push(node.publish("ws.replay", &json!({"seq": seq})).await);
    }
    let mut ws = Ws::connect(&node).await;
    let answer = ws
        .call_ok(
            json!({"type": "subscribe", "channels": ["ws.*"], "since": tts[1]}),
            "subscribed",
        )
        .await;
    assert_eq!(answer["channels"], json!(["ws.*"]));
    let replayed = [ws.next_message().await, ws.next_message().await];
    assert_eq!(seqs(&replayed), [2, 3]);
    assert_eq!(replayed[0]["subscription"], "ws.*");
    node.publish("ws.replay", &json!({"seq": 4})).await;
    assert_eq!(
        ws.next_message().await["message"]["seq"],
        4,
        "live feed after the replay"
    );
}

/// Sends each frame and asserts an error frame with the given code, echoing
/// the frame's id; the connection stays usable.
async fn assert_error_frames(ws: &mut Ws, cases: &[(Value, &str)]) {
    for (frame, code) in cases {
        let answer = ws.call(frame.clone()).await;
        assert_eq!(
            answer["type"],
            "error",
            "{frame} -> {}",
            check::short(&answer)
        );
        assert_eq!(
            answer["error"]["code"],
            *code,
            "{frame} -> {}",
            check::short(&answer)
        );
        assert!(
            answer["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{answer}"
        );
    }
}

#[tokio::test]
async fn bad_frames_get_error_frames_and_the_connection_stays_open() {
    let node = Node::start().await;
    let mut ws = Ws::connect(&node).await;
    // Frames that are not understood at all.
    for raw in [
        "this is not json",
        r#"{"type": "dance", "id": 7}"#,
        r#"{"type": "subscribe", "id": 8}"#,
    ] {
        ws.send_text(raw.into()).await;
        let error = ws.next_frame().await.expect("an error frame");
        assert_eq!(error["type"], "error", "{raw} -> {error}");
        assert_eq!(error["error"]["code"], "invalid_frame", "{raw} -> {error}");
    }
    let cases = [
        (
            json!({"type": "subscribe", "channels": ["a.*.b"]}),
            "invalid_channel",
        ),
        (
            json!({"type": "subscribe", "channels": ["ok", "a b"]}),
            "invalid_channel",
        ),
        (
            json!({"type": "subscribe", "channels": ["ok"], "since": "soon"}),
            "invalid_timetoken",
        ),
        (
            json!({"type": "unsubscribe", "channels": ["*"]}),
            "invalid_channel",
        ),
    ];
    assert_error_frames(&mut ws, &cases).await;
    // None of the refused subscriptions took effect.
    let answer = ws
        .call_ok(
            json!({"type": "subscribe", "channels": ["fine"]}),
            "subscribed",
        )
        .await;
    assert_eq!(answer["channels"], json!(["fine"]));
    node.publish("ok", &json!(1)).await;
    node.publish("fine", &json!(2)).await;
    assert_eq!(ws.next_message().await["message"], 2);
}

#[tokio::test]
async fn refused_publish_frames_get_error_frames() {
    let node = Node::start().await;
    node.deploy_ok(
        "moderate",
        "moderate",
        &json!({"before_publish": ["chat.*"], "config": {"banned_words": "spam"}}),
    )
    .await;
    let mut ws = Ws::connect(&node).await;
    let cases = [
        (
            json!({"type": "publish", "channel": "a b", "message": 1}),
            "invalid_channel",
        ),
        (
            json!({"type": "publish", "channel": "a", "message": 1, "meta": [1]}),
            "invalid_meta",
        ),
        (
            json!({"type": "publish", "channel": "a", "message": "x".repeat(33 * 1024)}),
            "too_large",
        ),
        (
            json!({"type": "signal", "channel": "a", "message": "x".repeat(80)}),
            "too_large",
        ),
        (
            json!({"type": "publish", "channel": "chat.a", "message": {"text": "spam"}}),
            "rejected",
        ),
    ];
    assert_error_frames(&mut ws, &cases).await;
    let rejected = ws
        .call(json!({"type": "publish", "channel": "chat.a", "message": {"text": "spam"}}))
        .await;
    assert_eq!(rejected["error"]["function"], "moderate");
    assert!(
        rejected["error"]["reason"]
            .as_str()
            .unwrap()
            .contains("spam"),
        "{rejected}"
    );

    // Still usable, and nothing refused was stored.
    ws.call_ok(
        json!({"type": "publish", "channel": "chat.a", "message": {"text": "fine"}}),
        "published",
    )
    .await;
    assert_eq!(node.history("chat.a", "").await.len(), 1);
    assert!(node.history("a", "").await.is_empty());
}

#[tokio::test]
async fn publish_frames_are_pipelined_in_order() {
    const FRAMES: u64 = 2_000;
    let node = Node::start().await;
    let mut reader = Ws::connect(&node).await;
    reader
        .call_ok(
            json!({"type": "subscribe", "channels": ["pipe"]}),
            "subscribed",
        )
        .await;
    let mut writer = Ws::connect(&node).await;
    // Every frame sent before any answer is read: more than the node
    // commits at once, so it must stop reading and go on by itself.
    for n in 0..FRAMES {
        let frame = json!({"type": "publish", "channel": "pipe", "message": n, "id": n, "store": n % 2 == 0});
        writer.send(&frame).await;
    }
    let mut last = String::new();
    for n in 0..FRAMES {
        let answer = writer.next_frame().await.expect("an answer");
        assert_eq!(answer["type"], "published", "{answer}");
        assert_eq!(answer["id"], n, "answers come in the order of the frames");
        let tt = answer["timetoken"].as_str().unwrap().to_owned();
        assert!(tt > last, "timetokens increase in frame order");
        last = tt;
    }
    for n in 0..FRAMES {
        assert_eq!(reader.next_message().await["message"], n);
    }
    let stored: Vec<u64> = node
        .history("pipe", "limit=100")
        .await
        .iter()
        .map(|m| m["message"].as_u64().unwrap())
        .collect();
    let even: Vec<u64> = (FRAMES - 200..FRAMES).filter(|n| n % 2 == 0).collect();
    assert_eq!(
        stored, even,
        "`store: false` frames are kept out of history"
    );
}
