//! Counting and deleting history from inside a function: the JavaScript
//! `pubnub` module's messageCounts and deleteMessages, in PubNub's shapes
//! and with its bounds (start exclusive, end inclusive), seen by the PubNub
//! API afterwards; bad timetokens are errors the function can catch.

use edgefn_e2e::*;

use crate::fn_presence_history::{call, deploy_caller, js_err, js_ok};

/// Publishes `message` on `channel`; its timetoken (once stored).
async fn publish(node: &Node, channel: &str, message: &Value) -> String {
    node.publish(channel, message).await
}

#[tokio::test]
async fn js_message_counts_and_delete_messages() {
    let node = Node::start().await;
    deploy_caller(&node, "counter").await;
    let mut tt = Vec::new();
    for n in 0..4 {
        tt.push(publish(&node, "fh.a", &json!(n)).await);
    }
    let on_b = publish(&node, "fh.b", &json!("b")).await;

    let results = call(
        &node,
        "counter",
        &[
            json!(["messageCounts", {"channels": ["fh.a", "fh.b"], "channelTimetokens": [tt[0]]}]),
            json!(["messageCounts", {"channels": ["fh.a", "fh.b"], "channelTimetokens": [tt[2], on_b]}]),
            json!(["deleteMessages", {"channel": "fh.a", "start": tt[0], "end": tt[2]}]),
            json!(["messageCounts", {"channels": ["fh.a"], "channelTimetokens": ["0"]}]),
            json!(["messageCounts", {"channels": ["fh.a"], "channelTimetokens": ["soon"]}]),
            json!(["messageCounts", {"channels": ["fh.a", "fh.b", "fh.c"], "channelTimetokens": ["1", "2"]}]),
            json!(["deleteMessages", {"channel": "fh.a", "end": "later"}]),
        ],
    )
    .await;
    assert_eq!(
        js_ok(&results[0]),
        &json!({"channels": {"fh.a": 3, "fh.b": 1}})
    );
    assert_eq!(
        js_ok(&results[1]),
        &json!({"channels": {"fh.a": 1, "fh.b": 0}})
    );
    assert_eq!(js_ok(&results[2]), &json!({}));
    assert_eq!(js_ok(&results[3]), &json!({"channels": {"fh.a": 2}}));
    assert!(js_err(&results[4]).contains("soon"), "{}", results[4]);
    assert!(js_err(&results[5]).contains("timetokens"), "{}", results[5]);
    assert!(js_err(&results[6]).contains("later"), "{}", results[6]);

    // The PubNub API sees the deletion: the first and last are left.
    let history = node.get("/v3/history/sub-key/demo/channel/fh.a").await;
    let left: Vec<&Value> = history.ok()["channels"]["fh.a"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| &m["message"])
        .collect();
    assert_eq!(left, [&json!(0), &json!(3)]);
}
