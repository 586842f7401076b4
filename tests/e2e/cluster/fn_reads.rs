//! A JavaScript function reads the cluster's presence and history, not
//! its node's: deployed through one node and invoked through another, it
//! sees a member who heartbeats through a third, and the messages
//! published there, with the timetokens their publisher was answered.

use edgefn_e2e::wait::{TIMEOUT, eventually};
use edgefn_e2e::*;

use super::cluster;
use crate::after_presence::{LONG, heartbeat};
use crate::fn_presence_history::{deploy_caller, js_ok};

#[tokio::test]
async fn a_js_function_on_one_node_reads_presence_and_history_made_on_another() {
    let (_nats, nodes) = cluster("").await;
    let (a, b, c) = (&nodes[0], &nodes[1], &nodes[2]);
    deploy_caller(a, "reader").await;
    heartbeat(c, "fr.room", "alice", LONG, Some(&json!({"mood": "ok"}))).await;
    let mut answered = Vec::new();
    for n in 0..3 {
        answered.push(c.publish("fr.chat", &json!({"n": n})).await);
    }

    let calls = [
        json!(["hereNow", {"channels": ["fr.room"], "includeUUIDs": true, "includeState": true}]),
        json!(["fetchMessages", {"channels": ["fr.chat"]}]),
    ];
    // B has the function, alice's heartbeat and the three messages once it
    // has followed the cluster (no fixed wait: each is checked as it comes).
    let results = eventually(
        "node B to see the function, alice and 3 messages",
        TIMEOUT,
        || async {
            let answer = b
                .send(b.http().post(b.url("/v1/fn/reader")).json(&json!(calls)))
                .await;
            if answer.status != 200 {
                return None;
            }
            let results = answer.body.as_array()?.clone();
            let present = js_ok(&results[0])["totalOccupancy"] == 1;
            let stored = js_ok(&results[1])["channels"]["fr.chat"]
                .as_array()
                .is_some_and(|m| m.len() == 3);
            (present && stored).then_some(results)
        },
    )
    .await;
    assert_eq!(
        js_ok(&results[0])["channels"]["fr.room"]["occupants"],
        json!([{"uuid": "alice", "state": {"mood": "ok"}}])
    );
    let messages = &js_ok(&results[1])["channels"]["fr.chat"];
    let got: Vec<(Value, Value)> = messages
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["message"].clone(), m["timetoken"].clone()))
        .collect();
    let expected: Vec<(Value, Value)> = answered
        .iter()
        .enumerate()
        .map(|(n, tt)| (json!({"n": n}), json!(tt)))
        .collect();
    assert_eq!(got, expected, "oldest first, with the answered timetokens");
}
