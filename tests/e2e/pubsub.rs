//! Publish, fire and signal over HTTP; SSE subscriptions to several channels
//! and wildcards; the fields every delivery carries; history with
//! `limit`/`start`/`end`, `store=0` and the per-channel bound.

use edgefn_e2e::check::{assert_increasing_per_channel, seqs};
use edgefn_e2e::*;

#[tokio::test]
async fn deliveries_carry_every_field() {
    let node = Node::start().await;
    let (mut sse, _) = Sse::ready(&node, "room", None).await;

    let query = [("meta", r#"{"lang":"en"}"#), ("publisher", "alice")];
    let answer = node
        .post_message(Op::Publish, "room", r#"{"text":"one"}"#, &query)
        .await;
    let first_tt = answer.ok()["timetoken"].as_str().unwrap().to_owned();
    let request = node
        .http()
        .post(node.url("/v1/publish/room"))
        .header("x-edgefn-meta", r#"{"lang":"fr"}"#)
        .header("x-edgefn-publisher", "bob")
        .body("[1, 2, 3]");
    let second_tt = node.send(request).await.ok()["timetoken"]
        .as_str()
        .unwrap()
        .to_owned();
    let third_tt = node.publish("room", &json!("just a string")).await;

    let got = sse.messages(3).await;
    assert_eq!(
        got[0],
        json!({"channel": "room", "timetoken": first_tt, "message": {"text": "one"}, "meta": {"lang": "en"}, "publisher": "alice", "kind": "publish"})
    );
    assert_eq!(
        got[1],
        json!({"channel": "room", "timetoken": second_tt, "message": [1, 2, 3], "meta": {"lang": "fr"}, "publisher": "bob", "kind": "publish"})
    );
    assert_eq!(
        got[2],
        json!({"channel": "room", "timetoken": third_tt, "message": "just a string", "meta": null, "publisher": null, "kind": "publish"})
    );
    assert_increasing_per_channel(&got);
    // History holds the same views.
    assert_eq!(node.history("room", "").await, got);
}

#[tokio::test]
async fn sse_several_channels_and_wildcards() {
    let node = Node::start().await;
    let (mut sse, replayed) = Sse::ready(&node, "alpha,news.*", None).await;
    assert!(replayed.is_empty());
    for (seq, channel) in [
        "alpha",
        "news.sport",
        "other",
        "newsletter",
        "news.world.eu",
        "news",
    ]
    .into_iter()
    .enumerate()
    {
        node.publish(channel, &json!({"seq": seq})).await;
    }
    node.publish("alpha", &json!({"seq": 99})).await;
    let got = sse.messages(4).await;
    let channels: Vec<_> = got.iter().map(|m| m["channel"].as_str().unwrap()).collect();
    assert_eq!(
        channels,
        ["alpha", "news.sport", "news.world.eu", "alpha"],
        "unmatched channels delivered or matched ones lost"
    );
    assert!(
        got[0].get("subscription").is_none(),
        "an exact match reports a subscription: {}",
        got[0]
    );
    assert_eq!(got[1]["subscription"], "news.*");
    assert_eq!(got[2]["subscription"], "news.*");

    // A channel named exactly and by a wildcard is delivered once, as exact.
    let (mut both, _) = Sse::ready(&node, "news.sport,news.*", None).await;
    node.publish("news.sport", &json!({"seq": 1})).await;
    node.publish("news.tech", &json!({"seq": 2})).await;
    let got = both.messages(2).await;
    assert_eq!(seqs(&got), [1, 2], "duplicate or missing deliveries");
    assert!(got[0].get("subscription").is_none(), "{}", got[0]);
    assert_eq!(got[1]["subscription"], "news.*");
}

#[tokio::test]
async fn concurrent_publishers_get_strictly_increasing_timetokens() {
    let node = Node::start().await;
    let (mut sse, _) = Sse::ready(&node, "tt.*", None).await;
    let writers = (0..4).map(|w| {
        let node = &node;
        async move {
            let channel = format!("tt.{}", w % 2);
            let mut tokens = Vec::new();
            for seq in 0..25 {
                tokens.push(
                    node.publish(&channel, &json!({"seq": seq, "writer": w}))
                        .await,
                );
            }
            tokens
        }
    });
    let answered: Vec<String> = futures::future::join_all(writers)
        .await
        .into_iter()
        .flatten()
        .collect();
    let got = sse.messages(100).await;
    assert_increasing_per_channel(&got);
    let mut delivered: Vec<&str> = got
        .iter()
        .map(|m| m["timetoken"].as_str().unwrap())
        .collect();
    let mut answered: Vec<&str> = answered.iter().map(String::as_str).collect();
    delivered.sort_unstable();
    answered.sort_unstable();
    assert_eq!(
        delivered, answered,
        "the timetokens delivered are not the ones answered"
    );
    answered.dedup();
    assert_eq!(answered.len(), 100, "a timetoken was handed out twice");
}

#[tokio::test]
async fn fire_reaches_hooks_but_no_subscriber_and_no_history() {
    let node = Node::start().await;
    let recorder = Recorder::start().await;
    node.deploy_ok(
        "moderate",
        "moderate",
        &json!({"before_publish": ["chat.*"], "config": {"banned_words": "spam"}}),
    )
    .await;
    let forward = json!({"after_publish": ["chat.*"], "allow_outbound": [recorder.url("")], "config": {"forward_url": recorder.url("/hook")}});
    node.deploy_ok("forward", "forward", &forward).await;
    let (mut sse, _) = Sse::ready(&node, "chat.*", None).await;

    // The before-publish hook runs on a fire: it can refuse it...
    let refused = node
        .post_message(Op::Fire, "chat.a", r#"{"text":"spam!"}"#, &[])
        .await;
    assert_eq!(refused.error(403, "rejected")["function"], "moderate");
    // ...or change it, and the after-publish hook gets the changed copy.
    let fired_tt = node
        .op_ok(Op::Fire, "chat.a", &json!({"text": "  fired  "}))
        .await;
    let forwarded = recorder.next().await.json();
    assert_eq!(
        forwarded["message"],
        json!({"text": "fired", "moderated": true})
    );
    assert_eq!(forwarded["timetoken"], fired_tt);

    // Not delivered: the next delivery is the marker published after it.
    node.publish("chat.a", &json!({"text": "marker"})).await;
    assert_eq!(sse.next_message().await["message"]["text"], "marker");
    // Not stored.
    let history = node.history("chat.a", "").await;
    assert_eq!(history.len(), 1, "a fire was stored: {history:?}");
}

#[tokio::test]
async fn signals_are_small_delivered_and_not_stored() {
    let node = Node::start().await;
    let (mut sse, _) = Sse::ready(&node, "sig", None).await;
    // 64 bytes of JSON text is the most a signal may carry.
    let largest = format!("\"{}\"", "x".repeat(62));
    let tt = node
        .op_ok(Op::Signal, "sig", &serde_json::from_str(&largest).unwrap())
        .await;
    let answer = node
        .post_message(Op::Signal, "sig", format!("\"{}\"", "x".repeat(63)), &[])
        .await;
    let error = answer.error(413, "too_large");
    assert!(error["message"].as_str().unwrap().contains("64"), "{error}");

    let got = sse.next_message().await;
    assert_eq!(got["kind"], "signal");
    assert_eq!(got["timetoken"], tt);
    assert_eq!(got["message"].as_str().unwrap().len(), 62);
    assert!(
        node.history("sig", "").await.is_empty(),
        "a signal was stored"
    );

    // Before-publish hooks see signals too.
    node.deploy_ok(
        "moderate",
        "moderate",
        &json!({"before_publish": ["sig"], "config": {"banned_words": "spam"}}),
    )
    .await;
    node.post_message(Op::Signal, "sig", r#"{"text":"spam"}"#, &[])
        .await
        .error(403, "rejected");
    node.op_ok(Op::Signal, "sig", &json!({"text": " ok "}))
        .await;
    assert_eq!(
        sse.next_message().await["message"],
        json!({"text": "ok", "moderated": true})
    );
}

#[tokio::test]
async fn store_zero_delivers_without_storing() {
    let node = Node::start().await;
    let (mut sse, _) = Sse::ready(&node, "volatile", None).await;
    for store in ["0", "false"] {
        node.post_message(
            Op::Publish,
            "volatile",
            r#"{"stored":false}"#,
            &[("store", store)],
        )
        .await
        .ok();
    }
    node.post_message(
        Op::Publish,
        "volatile",
        r#"{"stored":true}"#,
        &[("store", "1")],
    )
    .await
    .ok();
    let got = sse.messages(3).await;
    assert_eq!(
        got.iter()
            .map(|m| m["message"]["stored"].clone())
            .collect::<Vec<_>>(),
        [json!(false), json!(false), json!(true)]
    );
    let history = node.history("volatile", "").await;
    assert_eq!(
        history.len(),
        1,
        "store=0 messages were stored: {history:?}"
    );
    assert_eq!(history[0]["message"]["stored"], true);
}

#[tokio::test]
async fn history_limit_start_end() {
    let node = Node::start().await;
    let mut tts = Vec::new();
    for seq in 0..10 {
        tts.push(node.publish("hist", &json!({"seq": seq})).await);
    }
    node.publish("hist.other", &json!({"seq": 100})).await;

    let all = node.history("hist", "").await;
    assert_eq!(
        seqs(&all),
        (0..10).collect::<Vec<_>>(),
        "history is not oldest first"
    );
    assert_increasing_per_channel(&all);
    for (view, tt) in all.iter().zip(&tts) {
        check::assert_delivered(view, "hist");
        assert_eq!(&view["timetoken"], tt);
    }
    assert_eq!(
        seqs(&node.history("hist", "limit=3").await),
        [7, 8, 9],
        "limit takes the newest"
    );
    let start = &tts[5];
    assert_eq!(
        seqs(&node.history("hist", &format!("start={start}")).await),
        [0, 1, 2, 3, 4],
        "start is exclusive"
    );
    assert_eq!(
        seqs(
            &node
                .history("hist", &format!("start={start}&limit=2"))
                .await
        ),
        [3, 4]
    );
    let end = &tts[7];
    assert_eq!(
        seqs(&node.history("hist", &format!("end={end}")).await),
        [7, 8, 9],
        "end is inclusive"
    );
    let window = format!("end={}&start={}", tts[2], tts[6]);
    assert_eq!(seqs(&node.history("hist", &window).await), [2, 3, 4, 5]);
    assert!(node.history("hist", "limit=0").await.is_empty());
    assert!(node.history("never-used", "").await.is_empty());
    node.get("/v1/history/hist?start=yesterday")
        .await
        .error(400, "invalid_timetoken");
}

#[tokio::test]
async fn history_is_bounded_per_channel() {
    let node = Node::start_with_config("[bus]\nhistory_per_channel = 5\n").await;
    for seq in 0..8 {
        node.publish("bounded.a", &json!({"seq": seq})).await;
    }
    for seq in 0..2 {
        node.publish("bounded.b", &json!({"seq": seq})).await;
    }
    assert_eq!(
        seqs(&node.history("bounded.a", "limit=100").await),
        [3, 4, 5, 6, 7]
    );
    assert_eq!(
        seqs(&node.history("bounded.b", "").await),
        [0, 1],
        "one channel's bound trimmed another"
    );
}
