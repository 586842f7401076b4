//! The bus from inside a function (`caps`): publish, fire and signal with
//! meta reach subscribers and functions like any other message (a fire only
//! functions, a signal only subscribers); they pass through the target
//! channel's before-publish hooks; and a function that republishes to its
//! own channel is stopped at the 4th hop with an error it sees. A
//! JavaScript function's publishes are kept in history as PubNub's
//! `storeInHistory` and `ttl` say.

use edgefn_e2e::caps::{self, err, ok};
use edgefn_e2e::check::short;
use edgefn_e2e::wait::{TIMEOUT, eventually};
use edgefn_e2e::*;
use reqwest::Method;

use crate::files::upload;
use crate::fn_presence_history::{call, deploy_caller, js_err, js_ok};

/// The `saw` log lines of the after-publish function `function` about
/// `channel` so far, as {kind, payload, meta, publisher} (fields are text).
async fn seen(node: &Node, function: &str, channel: &str) -> Vec<Value> {
    node.logs(function)
        .await
        .into_iter()
        .filter(|line| line["text"] == "saw")
        .map(|line| {
            let field = |name: &str| {
                line["fields"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|pair| pair[0] == name)
                    .map_or(Value::Null, |pair| pair[1].clone())
            };
            json!({"channel": field("channel"), "kind": field("kind"), "payload": field("payload"), "meta": field("meta"), "publisher": field("publisher")})
        })
        .filter(|saw| saw["channel"] == channel)
        .collect()
}

#[tokio::test]
async fn publish_fire_and_signal_with_meta_from_a_function() {
    let node = Node::start().await;
    node.deploy_caps("caps", json!({})).await;
    // Another function watches the channel after publish.
    node.deploy_ok("watch", "caps", &json!({"after_publish": ["fb.*"]}))
        .await;
    let (mut sse, _) = Sse::ready(&node, "fb.*", None).await;

    let results = node
        .run_ops(
            "caps",
            &[
                caps::bus("publish", "fb.a", json!({"n": 1}), json!({"m": "x"})),
                caps::bus("fire", "fb.a", json!({"n": 2}), json!({"m": "y"})),
                caps::bus("signal", "fb.a", json!("hi"), Value::Null),
                caps::bus("publish", "fb.a", json!({"n": 3}), Value::Null),
            ],
        )
        .await;
    let timetokens: Vec<&str> = results.iter().map(|r| ok(r).as_str().unwrap()).collect();
    assert!(timetokens.windows(2).all(|w| w[0] < w[1]), "{timetokens:?}");

    // Subscribers get the publishes and the signal, in order; not the fire.
    let delivered = sse.messages(3).await;
    let view = |v: &Value| {
        json!([
            v["kind"],
            v["message"],
            v["meta"],
            v["publisher"],
            v["timetoken"]
        ])
    };
    assert_eq!(
        delivered.iter().map(view).collect::<Vec<_>>(),
        [
            json!(["publish", {"n": 1}, {"m": "x"}, "fn:caps", timetokens[0]]),
            json!(["signal", "hi", null, "fn:caps", timetokens[2]]),
            json!(["publish", {"n": 3}, null, "fn:caps", timetokens[3]]),
        ]
    );
    // History keeps the publishes only.
    let stored: Vec<Value> = node
        .history("fb.a", "")
        .await
        .iter()
        .map(|m| m["message"].clone())
        .collect();
    assert_eq!(stored, [json!({"n": 1}), json!({"n": 3})]);

    // Functions see all four, the fire with its meta.
    let saw = eventually("`watch` to see 4 messages", TIMEOUT, || async {
        let saw = seen(&node, "watch", "fb.a").await;
        (saw.len() == 4).then_some(saw)
    })
    .await;
    let fire = saw
        .iter()
        .find(|s| s["kind"] == "fire")
        .unwrap_or_else(|| panic!("no fire seen: {saw:?}"));
    assert_eq!(
        fire,
        &json!({"channel": "fb.a", "kind": "fire", "payload": r#"{"n":2}"#, "meta": r#"{"m":"y"}"#, "publisher": "fn:caps"})
    );
}

#[tokio::test]
async fn bad_messages_from_a_function_fail_in_the_guest() {
    let node = Node::start().await;
    node.deploy_caps("caps", json!({})).await;
    let results = node
        .run_ops(
            "caps",
            &[
                caps::bus("signal", "fb.b", json!("x".repeat(62)), Value::Null),
                caps::bus("signal", "fb.b", json!("x".repeat(63)), Value::Null),
                caps::bus("publish", "fb.b", json!("x".repeat(40 * 1024)), Value::Null),
                caps::bus("publish", "not a channel", json!(1), Value::Null),
                caps::bus("publish", "fb.b", json!(1), json!([1, 2])),
                caps::bus("publish", "fb.b", json!({"still": "works"}), Value::Null),
            ],
        )
        .await;
    ok(&results[0]); // 64 bytes of JSON text
    assert!(
        err(&results[1], "too-large").contains("64"),
        "{}",
        short(&results[1])
    );
    err(&results[2], "too-large");
    err(&results[3], "invalid");
    err(&results[4], "invalid");
    ok(&results[5]);
    let stored = node.history("fb.b", "").await;
    assert_eq!(
        stored.len(),
        1,
        "only the good publish is stored: {stored:?}"
    );
}

#[tokio::test]
async fn function_made_messages_pass_through_before_publish_hooks() {
    let node = Node::start().await;
    node.deploy_caps("caps", json!({})).await;
    node.deploy_ok(
        "moderate",
        "moderate",
        &json!({"before_publish": ["fb.mod"], "config": {"banned_words": "spam"}}),
    )
    .await;
    let results = node
        .run_ops(
            "caps",
            &[
                caps::bus(
                    "publish",
                    "fb.mod",
                    json!({"text": "buy spam now"}),
                    Value::Null,
                ),
                caps::bus(
                    "publish",
                    "fb.mod",
                    json!({"text": "  hello   there "}),
                    Value::Null,
                ),
                caps::bus("fire", "fb.mod", json!({"text": "spam"}), Value::Null),
            ],
        )
        .await;
    let reason = err(&results[0], "rejected");
    assert!(
        reason.contains("moderate") && reason.contains("banned word"),
        "{reason}"
    );
    ok(&results[1]);
    err(&results[2], "rejected");
    let stored = node.history("fb.mod", "").await;
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert_eq!(
        stored[0]["message"],
        json!({"text": "hello there", "moderated": true})
    );
    assert_eq!(stored[0]["publisher"], "fn:caps");
}

#[tokio::test]
async fn a_function_republishing_to_its_own_channel_stops_at_the_4th_hop() {
    let node = Node::start().await;
    node.deploy_ok("looper", "caps", &json!({"after_publish": ["loop.*"]}))
        .await;
    let (mut sse, _) = Sse::ready(&node, "loop.a", None).await;
    node.publish("loop.a", &json!({"hop": 0})).await;

    // Hops 1 to 3 are published by the function; the 4th is refused.
    let delivered = sse.messages(4).await;
    let hops: Vec<Value> = delivered
        .iter()
        .map(|m| m["message"]["hop"].clone())
        .collect();
    assert_eq!(hops, [0, 1, 2, 3]);
    for message in &delivered[1..] {
        assert_eq!(message["publisher"], "fn:looper", "{}", short(message));
    }
    // Each invocation records its outcome after publishing, so the records
    // may land in any order.
    let outcomes = eventually("the guest to record hops 1 to 4", TIMEOUT, || async {
        let mut outcomes = Vec::new();
        for hop in 1..=4 {
            outcomes.push(recorded(&node, hop).await?);
        }
        Some(outcomes)
    })
    .await;
    for (hop, message) in delivered.iter().enumerate().skip(1) {
        assert_eq!(ok(&outcomes[hop - 1]), &message["timetoken"], "hop {hop}");
    }
    let message = err(&outcomes[3], "rejected");
    assert!(
        message.contains("chain limit") && message.contains("hop 4"),
        "{message}"
    );
    // The guest logged what it saw, and nothing went further.
    node.wait_for_log("looper", &["republish"], TIMEOUT).await;
    let logs = node.logs("looper").await;
    let refused = logs
        .iter()
        .find(|l| l["text"] == "republish" && l["fields"][0] == json!(["hop", "4"]))
        .unwrap_or_else(|| panic!("no republish log line for hop 4: {logs:?}"));
    assert!(
        refused["fields"][1][1]
            .as_str()
            .unwrap()
            .contains("chain limit")
    );
    let stored = node.history("loop.a", "").await;
    assert_eq!(stored.len(), 4, "{stored:?}");
    assert_eq!(recorded(&node, 5).await, None);
}

/// What the looping guest recorded about its publish of hop `hop` on
/// `loop.a` (a result), if it did.
async fn recorded(node: &Node, hop: usize) -> Option<Value> {
    let answer = node
        .admin(Method::GET, &format!("/kv/chain:loop.a:{hop}"))
        .await;
    let text = answer.body["value"].as_str()?;
    Some(serde_json::from_str(text).expect("a result as JSON"))
}

/// What history keeps of `channel`: each message's payload.
async fn kept(node: &Node, channel: &str) -> Vec<Value> {
    let messages = node.history(channel, "").await;
    messages.iter().map(|m| m["message"].clone()).collect()
}

/// PubNub's `storeInHistory` and `ttl` from a JavaScript function, on
/// publish and publishFile: a message kept out of history is still
/// delivered; one with a `ttl` leaves history when it expires; a `ttl` that
/// is not a whole number of hours is a TypeError the function catches.
#[tokio::test]
async fn js_publishes_are_kept_in_history_as_store_in_history_and_ttl_say() {
    // One hour of `ttl` lasts 3 s here.
    let node = Node::start_with_config("[pubnub]\nttl_hour_secs = 3\n").await;
    deploy_caller(&node, "keeper").await;
    let file = upload(&node, "kept.js", "cat.txt", b"meow").await;
    let (mut sse, _) = Sse::ready(&node, "kept.js", None).await;
    let shared = |keep: Value| {
        let mut params = json!({"channel": "kept.js", "fileId": file, "fileName": "cat.txt"});
        params
            .as_object_mut()
            .unwrap()
            .extend(keep.as_object().unwrap().clone());
        json!(["publishFile", params])
    };
    let results = call(
        &node,
        "keeper",
        &[
            json!(["publish", {"channel": "kept.js", "message": "stored"}]),
            json!(["publish", {"channel": "kept.js", "message": "unstored", "storeInHistory": false}]),
            json!(["publish", {"channel": "kept.js", "message": "expiring", "ttl": 1}]),
            json!(["publish", {"channel": "kept.js", "message": "unstored, no ttl", "storeInHistory": false, "ttl": 1}]),
            shared(json!({"message": "file, unstored", "storeInHistory": false})),
            shared(json!({"message": "file, expiring", "ttl": 1})),
            json!(["publish", {"channel": "kept.js", "message": "bad", "ttl": -1}]),
            json!(["publish", {"channel": "kept.js", "message": "bad", "ttl": 1.5}]),
            shared(json!({"ttl": "1"})),
        ],
    )
    .await;
    for result in &results[..6] {
        js_ok(result);
    }
    for bad in &results[6..] {
        assert!(
            js_err(bad).contains("`ttl` must be a whole number of hours"),
            "{bad}"
        );
    }

    // Every one of them is delivered.
    let mut delivered = Vec::new();
    for _ in 0..6 {
        let event = sse.next_event().await;
        let message = &event.data["message"];
        delivered.push(message.get("message").unwrap_or(message).clone());
    }
    let expected = [
        "stored",
        "unstored",
        "expiring",
        "unstored, no ttl",
        "file, unstored",
        "file, expiring",
    ];
    assert_eq!(delivered, expected.map(Value::from));

    // History keeps the stored ones, until their ttl runs out.
    let history = kept(&node, "kept.js").await;
    assert_eq!(history.len(), 3, "{history:?}");
    assert_eq!(
        (&history[0], &history[1]),
        (&json!("stored"), &json!("expiring"))
    );
    assert_eq!(history[2]["message"], "file, expiring");
    eventually("the messages with a ttl to expire", TIMEOUT, || async {
        (kept(&node, "kept.js").await.len() == 1).then_some(())
    })
    .await;
    assert_eq!(kept(&node, "kept.js").await, [json!("stored")]);
}
