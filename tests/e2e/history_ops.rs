//! PubNub Message Persistence beyond fetching, over plain HTTP: message
//! counts, deleting a range of history (and the `delete` permission it
//! needs), `/v2/history`, per-message `ttl`, their bad input, and a
//! deletion through one node of a cluster reaching another's history (the
//! cluster test needs `EDGEFN_NATS_SERVER`, see [`edgefn_e2e::nats`]).

use edgefn_e2e::wait::{TIMEOUT, eventually};
use edgefn_e2e::*;

/// `GET /v3/history/sub-key/demo/message-counts/{channels}?{query}`.
async fn counts(node: &Node, channels: &str, query: &str) -> Answer {
    node.get(&format!(
        "/v3/history/sub-key/demo/message-counts/{channels}?{query}"
    ))
    .await
}

/// `DELETE /v3/history/sub-key/demo/channel/{channel}?{query}`.
async fn delete(node: &Node, channel: &str, query: &str) -> Answer {
    let url = node.url(&format!(
        "/v3/history/sub-key/demo/channel/{channel}?{query}"
    ));
    node.send(node.http().delete(url)).await
}

/// `GET /v2/history/sub-key/demo/channel/{channel}?{query}`.
async fn history_v2(node: &Node, channel: &str, query: &str) -> Answer {
    node.get(&format!(
        "/v2/history/sub-key/demo/channel/{channel}?{query}"
    ))
    .await
}

/// The messages `/v3/history` holds for `channel`.
async fn fetched(node: &Node, channel: &str) -> Vec<Value> {
    let answer = node
        .get(&format!("/v3/history/sub-key/demo/channel/{channel}"))
        .await;
    answer.ok()["channels"][channel]
        .as_array()
        .map(|items| items.iter().map(|i| i["message"].clone()).collect())
        .unwrap_or_default()
}

/// Publishes `0..n` on `channel` through PubNub's publish with `query`;
/// their timetokens.
async fn publish_numbers(node: &Node, channel: &str, n: u64, query: &str) -> Vec<u64> {
    let mut timetokens = Vec::new();
    for i in 0..n {
        let answer = node
            .get(&format!("/publish/demo/demo/0/{channel}/0/{i}?{query}"))
            .await;
        assert_eq!(answer.ok()[1], "Sent", "{}", answer.body);
        let timetoken = answer.body[2].as_str().and_then(|t| t.parse().ok());
        timetokens.push(timetoken.expect("a timetoken"));
    }
    timetokens
}

/// Asserts a 400 in PubNub's object error shape whose message contains `part`.
#[track_caller]
fn assert_bad(answer: &Answer, part: &str) {
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert_eq!(
        (&answer.body["status"], &answer.body["error"]),
        (&json!(400), &json!(true)),
        "{}",
        answer.body
    );
    let message = answer.body["message"].as_str().unwrap_or_default();
    assert!(message.contains(part), "`{part}` not in {}", answer.body);
}

#[tokio::test]
async fn counts_follow_publishes_and_deletes_remove_ranges_everywhere() {
    let node = Node::start().await;
    let tt = publish_numbers(&node, "counted", 5, "").await;
    publish_numbers(&node, "other", 2, "").await;

    // One timetoken for all, or one per channel: messages newer than it.
    let all = counts(&node, "counted,other", &format!("timetoken={}", tt[1])).await;
    assert_eq!(
        all.ok(),
        &json!({"status": 200, "error": false, "error_message": "",
            "channels": {"counted": 3, "other": 2}})
    );
    let each = counts(
        &node,
        "counted,other",
        &format!("channelsTimetoken={},{}", tt[3], tt[4]),
    )
    .await;
    assert_eq!(
        each.ok()["channels"],
        json!({"counted": 1, "other": 2}),
        "{}",
        each.body
    );

    // PubNub's way to delete one message: start = its timetoken - 1
    // (exclusive), end = its timetoken (inclusive).
    let one = format!("start={}&end={}", tt[2] - 1, tt[2]);
    assert_eq!(
        delete(&node, "counted", &one).await.ok(),
        &json!({"status": 200, "error": false, "error_message": ""})
    );
    assert_eq!(
        fetched(&node, "counted").await,
        json!([0, 1, 3, 4]).as_array().unwrap().clone()
    );
    let native: Vec<Value> = node
        .history("counted", "")
        .await
        .iter()
        .map(|m| m["message"].clone())
        .collect();
    assert_eq!(native, [json!(0), json!(1), json!(3), json!(4)]);
    let (_, replayed) = Sse::ready(&node, "counted", Some("0")).await;
    let replayed: Vec<Value> = replayed.iter().map(|m| m["message"].clone()).collect();
    assert_eq!(replayed, [json!(0), json!(1), json!(3), json!(4)]);
    let v2 = history_v2(&node, "counted", "").await;
    assert_eq!(v2.ok()[0], json!([0, 1, 3, 4]));
    let after_first = format!("timetoken={}", tt[0]);
    assert_eq!(
        counts(&node, "counted", &after_first).await.ok()["channels"]["counted"],
        3
    );

    // Start newer than end: end <= timetoken < start, as history reads.
    let newer = format!("start={}&end={}", tt[4], tt[0]);
    delete(&node, "counted", &newer).await.ok();
    assert_eq!(fetched(&node, "counted").await, [json!(4)]);
    // Neither bound: the whole channel; the other channel keeps its own.
    delete(&node, "counted", "").await.ok();
    assert!(fetched(&node, "counted").await.is_empty());
    assert_eq!(
        counts(&node, "counted,other", "timetoken=0").await.ok()["channels"],
        json!({"counted": 0, "other": 2})
    );
    // What is published after a deletion is kept.
    publish_numbers(&node, "counted", 1, "").await;
    assert_eq!(fetched(&node, "counted").await, [json!(0)]);
}

#[tokio::test]
async fn history_v2_pages_from_either_end_with_tokens_and_meta() {
    let node = Node::start().await;
    let meta = "meta=%7B%22m%22%3A1%7D";
    let tt = publish_numbers(&node, "v2", 5, meta).await;

    // The newest `count`, oldest first, with their first and last timetokens.
    let newest = history_v2(&node, "v2", "count=2").await;
    assert_eq!(newest.ok(), &json!([[3, 4], tt[3], tt[4]]));
    let oldest = history_v2(&node, "v2", "count=2&reverse=true").await;
    assert_eq!(oldest.ok(), &json!([[0, 1], tt[0], tt[1]]));
    // start is exclusive, end inclusive.
    let bounded = history_v2(&node, "v2", &format!("start={}&end={}", tt[3], tt[1])).await;
    assert_eq!(bounded.ok()[0], json!([1, 2]));

    let tokens = history_v2(&node, "v2", "count=1&include_token=true&include_meta=true").await;
    assert_eq!(
        tokens.ok(),
        &json!([[{"message": 4, "timetoken": tt[4], "meta": {"m": 1}}], tt[4], tt[4]])
    );
    let strings = history_v2(&node, "v2", "count=1&include_token=true&stringtoken=true").await;
    let tt4 = tt[4].to_string();
    assert_eq!(
        strings.ok(),
        &json!([[{"message": 4, "timetoken": tt4}], tt4, tt4])
    );
    // An empty channel: no messages, zero bounds.
    assert_eq!(
        history_v2(&node, "v2-empty", "").await.ok(),
        &json!([[], 0, 0])
    );
}

#[tokio::test]
async fn bad_input_gets_pubnub_shaped_400s() {
    let node = Node::start().await;
    for count in ["0", "101", "abc", "-1"] {
        assert_bad(
            &history_v2(&node, "bad", &format!("count={count}")).await,
            "count",
        );
    }
    assert_bad(
        &history_v2(&node, "bad", "start=yesterday").await,
        "timetoken",
    );
    assert_bad(&counts(&node, "a,b", "timetoken=12x").await, "timetoken");
    assert_bad(&counts(&node, "a,b", "").await, "channelsTimetoken");
    assert_bad(
        &counts(&node, "a,b,c", "channelsTimetoken=1,2").await,
        "channelsTimetoken",
    );
    assert_bad(&delete(&node, "bad", "end=-5").await, "timetoken");
    let ttl = node.get("/publish/demo/demo/0/bad/0/1?ttl=soon").await;
    assert_eq!((ttl.status, &ttl.body[0]), (400, &json!(0)), "{}", ttl.body);
    let foreign = counts_on(&node, "other-key").await;
    assert_eq!(foreign.status, 400, "{}", foreign.body);
    // Nothing was deleted nor stored by the refused calls.
    assert!(fetched(&node, "bad").await.is_empty());
}

async fn counts_on(node: &Node, sub_key: &str) -> Answer {
    node.get(&format!(
        "/v3/history/sub-key/{sub_key}/message-counts/a?timetoken=0"
    ))
    .await
}

#[tokio::test]
async fn counts_need_read_and_deletes_need_delete() {
    let node = Node::start_secured("history-ops-secret").await;
    let token = |permissions: Value| {
        let node = &node;
        async move {
            node.grant(&json!({"ttl_minutes": 5, "channels": {"kept": permissions}}))
                .await
        }
    };
    let writer = token(json!(["write"])).await;
    let reader = token(json!(["read"])).await;
    let deleter = token(json!(["delete"])).await;
    let tt = publish_numbers(&node, "kept", 2, &format!("auth={writer}")).await;
    let forbidden = |answer: Answer| {
        assert_eq!(answer.status, 403, "{}", answer.body);
        assert_eq!(answer.body["service"], "Access Manager", "{}", answer.body);
    };

    forbidden(counts(&node, "kept", "timetoken=0").await);
    forbidden(counts(&node, "kept", &format!("timetoken=0&auth={deleter}")).await);
    let counted = counts(&node, "kept", &format!("timetoken=0&auth={reader}")).await;
    assert_eq!(counted.ok()["channels"]["kept"], 2);
    forbidden(history_v2(&node, "kept", &format!("auth={writer}")).await);
    assert_eq!(
        history_v2(&node, "kept", &format!("auth={reader}"))
            .await
            .ok()[0],
        json!([0, 1])
    );

    let first = format!("start={}&end={}", tt[0] - 1, tt[0]);
    forbidden(delete(&node, "kept", &first).await);
    for token in [&writer, &reader] {
        forbidden(delete(&node, "kept", &format!("{first}&auth={token}")).await);
    }
    let read = format!("timetoken=0&auth={reader}");
    assert_eq!(
        counts(&node, "kept", &read).await.ok()["channels"]["kept"],
        2,
        "nothing deleted"
    );
    delete(&node, "kept", &format!("{first}&auth={deleter}"))
        .await
        .ok();
    assert_eq!(
        counts(&node, "kept", &read).await.ok()["channels"]["kept"],
        1
    );
}

#[tokio::test]
async fn messages_with_a_ttl_expire_from_every_read() {
    // One hour of `ttl` lasts 3 s here.
    let node = Node::start_with_config("[pubnub]\nttl_hour_secs = 3\n").await;
    let kept = publish_numbers(&node, "ttl", 1, "").await;
    publish_numbers(&node, "ttl", 1, "ttl=1").await;
    publish_numbers(&node, "ttl", 1, "ttl=0").await;
    // Not stored at all: its ttl is ignored.
    publish_numbers(&node, "ttl", 1, "ttl=1&store=0").await;
    // The native API takes it too.
    let native = node
        .post_message(Op::Publish, "ttl", "\"native\"", &[("ttl", "1")])
        .await;
    native.ok();
    assert_eq!(
        fetched(&node, "ttl").await,
        [json!(0), json!(0), json!(0), json!("native")]
    );

    eventually("the messages with a ttl to expire", TIMEOUT, || async {
        (fetched(&node, "ttl").await.len() == 2).then_some(())
    })
    .await;
    // The first and the one with ttl=0 stay, in every read.
    assert_eq!(fetched(&node, "ttl").await, [json!(0), json!(0)]);
    assert_eq!(history_v2(&node, "ttl", "").await.ok()[0], json!([0, 0]));
    let since = format!("timetoken={}", kept[0] - 1);
    assert_eq!(
        counts(&node, "ttl", &since).await.ok()["channels"]["ttl"],
        2
    );
    assert_eq!(node.history("ttl", "").await.len(), 2);
}

#[tokio::test]
async fn a_deletion_through_one_cluster_node_reaches_the_others() {
    let nats = NatsServer::start().await;
    let nodes = nats.start_nodes(2, "").await;
    let (a, b) = (&nodes[0], &nodes[1]);
    let tt = publish_numbers(a, "shared-del", 4, "").await;
    // B's own publish returns once B applied it, after A's messages.
    publish_numbers(b, "shared-del", 1, "").await;
    assert_eq!(fetched(b, "shared-del").await.len(), 5);

    let middle = format!("start={}&end={}", tt[0], tt[2]);
    delete(a, "shared-del", &middle).await.ok();
    assert_eq!(
        fetched(a, "shared-del").await,
        [json!(0), json!(3), json!(0)]
    );
    // A later publish through B is applied there after the deletion.
    publish_numbers(b, "shared-del", 1, "").await;
    assert_eq!(
        fetched(b, "shared-del").await,
        [json!(0), json!(3), json!(0), json!(0)]
    );
    let since = format!("timetoken={}", tt[0]);
    assert_eq!(
        counts(b, "shared-del", &since).await.ok()["channels"]["shared-del"],
        3
    );
}
