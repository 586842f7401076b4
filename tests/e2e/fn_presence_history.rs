//! Presence and history from inside a function: the JavaScript `pubnub`
//! module's hereNow, whereNow and getState see the clients that heartbeat
//! through the PubNub API; its setState is seen by the PubNub API and
//! publishes a state-change event; history and fetchMessages return the
//! published messages oldest first, with start (exclusive), end
//! (inclusive), count and meta as PubNub's; every such call spends the bus
//! budget. The Rust SDK (`caps` guest) does the same through
//! `edgefn_sdk::presence` and `edgefn_sdk::history`.

use std::time::Duration;

use edgefn_e2e::caps::{self, err, ok};
use edgefn_e2e::wait::eventually;
use edgefn_e2e::*;

use crate::after_presence::{LONG, heartbeat};

const LIMIT: Duration = Duration::from_secs(20);

/// An endpoint that runs `[[method, params], ...]` (the JSON body) on the
/// `pubnub` module (a method may be a path, as `objects.getUUIDMetadata`),
/// in one invocation, and answers each call's outcome: `{"ok": RESULT}` or
/// `{"err": MESSAGE}`.
pub(crate) const CALLER: &str = r#"
    const pubnub = require('pubnub');
    export default async (request, response) => {
      const calls = await request.json();
      const results = [];
      for (const [method, params] of calls) {
        try {
          const f = method.split('.').reduce((o, k) => o[k], pubnub);
          results.push({ ok: await f(params) });
        } catch (e) {
          results.push({ err: String(e && e.message !== undefined ? e.message : e) });
        }
      }
      return response.send(results, 200);
    };"#;

pub(crate) async fn deploy_caller(node: &Node, name: &str) {
    node.deploy_js_ok(name, CALLER, &json!({"endpoint": true}))
        .await;
}

/// Runs `calls` in one invocation of the caller `name`.
pub(crate) async fn call(node: &Node, name: &str, calls: &[Value]) -> Vec<Value> {
    let request = node
        .http()
        .post(node.url(&format!("/v1/fn/{name}")))
        .json(&json!(calls));
    let answer = node.send(request).await;
    let results = answer.ok().as_array().cloned().unwrap_or_default();
    assert_eq!(results.len(), calls.len(), "{}", answer.body);
    results
}

#[track_caller]
pub(crate) fn js_ok(result: &Value) -> &Value {
    result
        .get("ok")
        .unwrap_or_else(|| panic!("the call failed: {result}"))
}

#[track_caller]
pub(crate) fn js_err(result: &Value) -> &str {
    result["err"]
        .as_str()
        .unwrap_or_else(|| panic!("the call did not fail: {result}"))
}

/// Publishes `message` on `channel` as `alice` with `meta`, if any; its
/// timetoken.
async fn publish(node: &Node, channel: &str, message: &Value, meta: Option<&Value>) -> String {
    let meta = meta.map(Value::to_string);
    let mut query = vec![("uuid", "alice")];
    if let Some(meta) = &meta {
        query.push(("meta", meta.as_str()));
    }
    let answer = node
        .post_message(Op::Publish, channel, message.to_string(), &query)
        .await;
    answer.ok()["timetoken"].as_str().unwrap().to_owned()
}

/// Waits until `channel` has `n` messages stored.
async fn stored(node: &Node, channel: &str, n: usize) {
    eventually("the messages stored", LIMIT, || async {
        (node.history(channel, "").await.len() == n).then_some(())
    })
    .await;
}

#[tokio::test]
async fn js_here_now_where_now_and_get_state_see_pubnub_heartbeats() {
    let node = Node::start().await;
    deploy_caller(&node, "presence").await;
    heartbeat(
        &node,
        "ph.a,ph.b",
        "alice",
        LONG,
        Some(&json!({"mood": "ok"})),
    )
    .await;
    heartbeat(&node, "ph.a", "bob", LONG, None).await;

    let results = call(
        &node,
        "presence",
        &[
            json!(["hereNow", {"channels": ["ph.a", "ph.b", "ph.empty"], "includeUUIDs": true, "includeState": true}]),
            json!(["hereNow", {"channels": ["ph.empty"]}]),
            json!(["hereNow", {"channels": ["ph.a"], "includeUUIDs": false}]),
            json!(["hereNow", {"channels": ["ph.a"]}]),
            json!(["whereNow", {"uuid": "alice"}]),
            json!(["getState", {"uuid": "alice", "channels": ["ph.a", "ph.b"]}]),
            json!(["getState", {"uuid": "bob", "channels": ["ph.a"]}]),
            json!(["whereNow", {}]),
            json!(["hereNow", {"channels": ["bad channel"]}]),
        ],
    )
    .await;
    assert_eq!(
        js_ok(&results[0]),
        &json!({
            "totalChannels": 2,
            "totalOccupancy": 3,
            "channels": {
                "ph.a": {"name": "ph.a", "occupancy": 2, "occupants": [
                    {"uuid": "alice", "state": {"mood": "ok"}},
                    {"uuid": "bob", "state": null},
                ]},
                "ph.b": {"name": "ph.b", "occupancy": 1, "occupants": [
                    {"uuid": "alice", "state": {"mood": "ok"}},
                ]},
            },
        })
    );
    // One channel is described even when empty, as PubNub's.
    assert_eq!(
        js_ok(&results[1]),
        &json!({"totalChannels": 1, "totalOccupancy": 0,
                "channels": {"ph.empty": {"name": "ph.empty", "occupancy": 0, "occupants": []}}})
    );
    assert_eq!(
        js_ok(&results[2])["channels"]["ph.a"],
        json!({"name": "ph.a", "occupancy": 2, "occupants": []})
    );
    // Without includeState, no state.
    assert_eq!(
        js_ok(&results[3])["channels"]["ph.a"]["occupants"],
        json!([{"uuid": "alice", "state": null}, {"uuid": "bob", "state": null}])
    );
    let mut channels: Vec<String> =
        serde_json::from_value(js_ok(&results[4])["channels"].clone()).unwrap();
    channels.sort();
    assert_eq!(channels, ["ph.a", "ph.b"]);
    assert_eq!(
        js_ok(&results[5]),
        &json!({"channels": {"ph.a": {"mood": "ok"}, "ph.b": {"mood": "ok"}}})
    );
    assert_eq!(js_ok(&results[6]), &json!({"channels": {"ph.a": {}}}));
    assert!(js_err(&results[7]).contains("`uuid`"), "{}", results[7]);
    assert!(!js_err(&results[8]).is_empty());
}

#[tokio::test]
async fn js_set_state_is_seen_by_the_pubnub_api_and_publishes_a_state_change() {
    let node = Node::start().await;
    deploy_caller(&node, "states").await;
    let (mut events, _) = Sse::ready(&node, "ps.room-pnpres", None).await;
    heartbeat(&node, "ps.room", "carol", LONG, None).await;
    let join = events.next_message().await;
    assert_eq!(join["message"]["action"], "join", "{join}");

    let results = call(
        &node,
        "states",
        &[
            json!(["setState", {"uuid": "carol", "channels": ["ps.room"], "state": {"typing": true}}]),
            json!(["getState", {"uuid": "carol", "channels": ["ps.room"]}]),
            json!(["setState", {"uuid": "carol", "channels": ["ps.room"], "state": [1]}]),
            json!(["setState", {"uuid": "carol", "channels": ["ps.room-pnpres"], "state": {}}]),
        ],
    )
    .await;
    assert_eq!(js_ok(&results[0]), &json!({"state": {"typing": true}}));
    assert_eq!(
        js_ok(&results[1]),
        &json!({"channels": {"ps.room": {"typing": true}}})
    );
    assert!(js_err(&results[2]).contains("`state` must be an object"));
    assert!(
        js_err(&results[3]).contains("presence events channel"),
        "{}",
        results[3]
    );

    // The state-change event, as the PubNub API's set-state publishes it.
    let event = events.next_message().await;
    assert_eq!(event["channel"], "ps.room-pnpres", "{event}");
    let event = &event["message"];
    assert_eq!(event["action"], "state-change", "{event}");
    assert_eq!(event["uuid"], "carol");
    assert_eq!(event["occupancy"], 1);
    assert_eq!(event["data"], json!({"typing": true}));

    // The PubNub API sees the state.
    let here = node
        .get("/v2/presence/sub-key/demo/channel/ps.room?state=1")
        .await;
    assert_eq!(
        here.ok()["uuids"],
        json!([{"uuid": "carol", "state": {"typing": true}}]),
        "{}",
        here.body
    );
    let state = node
        .get("/v2/presence/sub-key/demo/channel/ps.room/uuid/carol")
        .await;
    assert_eq!(state.ok()["payload"], json!({"typing": true}));

    // A client that was not there becomes present, as with PubNub's set-state.
    let results = call(
        &node,
        "states",
        &[json!(["setState", {"uuid": "dave", "channels": ["ps.room"], "state": {"k": 1}}])],
    )
    .await;
    js_ok(&results[0]);
    let join = events.next_message().await;
    assert_eq!(join["message"]["action"], "join", "{join}");
    assert_eq!(join["message"]["uuid"], "dave");
    let change = events.next_message().await;
    assert_eq!(change["message"]["action"], "state-change", "{change}");
    assert_eq!(change["message"]["occupancy"], 2);
}

#[tokio::test]
async fn js_history_and_fetch_messages_read_what_was_published() {
    let node = Node::start().await;
    deploy_caller(&node, "reader").await;
    let mut tt = Vec::new();
    for i in 0..5 {
        let meta = json!({"i": i});
        let meta = (i % 2 == 0).then_some(&meta);
        tt.push(publish(&node, "hs.a", &json!({"n": i}), meta).await);
    }
    let b = publish(&node, "hs.b", &json!("b0"), None).await;
    stored(&node, "hs.a", 5).await;
    stored(&node, "hs.b", 1).await;

    let results = call(
        &node,
        "reader",
        &[
            json!(["fetchMessages", {"channels": ["hs.a"], "includeMeta": true}]),
            json!(["fetchMessages", {"channels": ["hs.a"], "count": 2}]),
            json!(["fetchMessages", {"channels": ["hs.a"], "start": tt[3], "end": tt[1]}]),
            json!(["fetchMessages", {"channels": ["hs.a", "hs.b"], "count": 1, "includeUUID": false}]),
            json!(["history", {"channel": "hs.a", "count": 2}]),
            json!(["history", {"channel": "hs.a", "count": 2, "reverse": true, "includeMeta": true}]),
            json!(["history", {"channel": "hs.none"}]),
            json!(["fetchMessages", {"channels": ["hs.a"], "start": "soon"}]),
        ],
    )
    .await;

    let all = &js_ok(&results[0])["channels"]["hs.a"];
    let expected: Vec<Value> = (0..5)
        .map(|i| {
            let meta = if i % 2 == 0 { json!({"i": i}) } else { json!("") };
            json!({"channel": "hs.a", "message": {"n": i}, "timetoken": tt[i], "uuid": "alice", "meta": meta})
        })
        .collect();
    assert_eq!(all, &json!(expected), "oldest first, with meta and uuid");

    let newest = js_ok(&results[1])["channels"]["hs.a"]
        .as_array()
        .unwrap()
        .clone();
    let times: Vec<&Value> = newest.iter().map(|m| &m["timetoken"]).collect();
    assert_eq!(times, [&json!(tt[3]), &json!(tt[4])], "the newest 2");
    assert!(newest[0].get("meta").is_none(), "no meta unless asked for");

    let range = js_ok(&results[2])["channels"]["hs.a"]
        .as_array()
        .unwrap()
        .clone();
    let times: Vec<&Value> = range.iter().map(|m| &m["timetoken"]).collect();
    assert_eq!(
        times,
        [&json!(tt[1]), &json!(tt[2])],
        "start exclusive, end inclusive"
    );

    assert_eq!(
        js_ok(&results[3]),
        &json!({"channels": {
            "hs.a": [{"channel": "hs.a", "message": {"n": 4}, "timetoken": tt[4]}],
            "hs.b": [{"channel": "hs.b", "message": "b0", "timetoken": b}],
        }})
    );

    assert_eq!(
        js_ok(&results[4]),
        &json!({"messages": [{"entry": {"n": 3}, "timetoken": tt[3]}, {"entry": {"n": 4}, "timetoken": tt[4]}],
                "startTimeToken": tt[3], "endTimeToken": tt[4]})
    );
    assert_eq!(
        js_ok(&results[5]),
        &json!({"messages": [{"entry": {"n": 0}, "timetoken": tt[0], "meta": {"i": 0}},
                             {"entry": {"n": 1}, "timetoken": tt[1], "meta": ""}],
                "startTimeToken": tt[0], "endTimeToken": tt[1]})
    );
    assert_eq!(
        js_ok(&results[6]),
        &json!({"messages": [], "startTimeToken": "0", "endTimeToken": "0"})
    );
    assert!(
        js_err(&results[7]).contains("`start` must be a timetoken"),
        "{}",
        results[7]
    );
}

#[tokio::test]
async fn presence_and_history_calls_spend_the_bus_budget() {
    let node = Node::start().await;
    node.deploy_js_ok(
        "spender",
        CALLER,
        &json!({"endpoint": true, "bus_calls": 4}),
    )
    .await;
    let results = call(
        &node,
        "spender",
        &[
            json!(["publish", {"channel": "bb.a", "message": 1}]),
            json!(["hereNow", {"channels": ["bb.a"]}]),
            json!(["fetchMessages", {"channels": ["bb.a"]}]),
            json!(["whereNow", {"uuid": "x"}]),
            json!(["getState", {"uuid": "x", "channels": ["bb.a"]}]),
            json!(["history", {"channel": "bb.a"}]),
            json!(["publish", {"channel": "bb.a", "message": 2}]),
        ],
    )
    .await;
    for result in &results[..4] {
        js_ok(result);
    }
    for result in &results[4..] {
        assert_eq!(
            js_err(result),
            "bus budget exhausted: at most 4 calls per invocation"
        );
    }
    // A fresh budget for the next invocation.
    let again = call(&node, "spender", &[json!(["whereNow", {"uuid": "x"}])]).await;
    js_ok(&again[0]);
}

#[tokio::test]
async fn the_rust_sdk_reads_presence_and_history_and_sets_state() {
    let node = Node::start().await;
    node.deploy_caps("caps", json!({})).await;
    heartbeat(&node, "rs.a", "erin", LONG, Some(&json!({"role": "host"}))).await;
    let first = publish(&node, "rs.a", &json!({"n": 1}), Some(&json!({"k": "v"}))).await;
    let second = publish(&node, "rs.a", &json!({"n": 2}), None).await;
    stored(&node, "rs.a", 2).await;

    let results = node
        .run_ops(
            "caps",
            &[
                caps::here_now(&["rs.a"], true, true),
                caps::where_now("erin"),
                caps::set_state("erin", &["rs.a"], json!({"role": "guest"})),
                caps::get_state("erin", &["rs.a", "rs.none"]),
                caps::fetch_history(&["rs.a"], json!({"meta": true})),
                caps::fetch_history(&["rs.a"], json!({"count": 1})),
                caps::fetch_history(&["rs.a"], json!({"end": second})),
                caps::set_state("erin", &["rs.a"], json!("not an object")),
                caps::fetch_history(&[], json!({})),
            ],
        )
        .await;
    assert_eq!(
        ok(&results[0]),
        &json!([{"channel": "rs.a", "occupancy": 1,
                 "members": [{"uuid": "erin", "state": {"role": "host"}}]}])
    );
    assert_eq!(ok(&results[1]), &json!(["rs.a"]));
    assert_eq!(ok(&results[2]), &Value::Null);
    assert_eq!(
        ok(&results[3]),
        &json!([["rs.a", {"role": "guest"}], ["rs.none", null]])
    );
    assert_eq!(
        ok(&results[4]),
        &json!([{"channel": "rs.a", "messages": [
            {"timetoken": first, "payload": {"n": 1}, "meta": {"k": "v"}, "publisher": "alice"},
            {"timetoken": second, "payload": {"n": 2}, "meta": null, "publisher": "alice"},
        ]}])
    );
    let newest = &ok(&results[5])[0]["messages"];
    assert_eq!(newest.as_array().map(Vec::len), Some(1));
    assert_eq!(newest[0]["timetoken"], json!(second));
    assert_eq!(
        ok(&results[6])[0]["messages"][0]["timetoken"],
        json!(second)
    );
    assert_eq!(
        ok(&results[6])[0]["messages"].as_array().map(Vec::len),
        Some(1)
    );
    assert!(err(&results[7], "invalid").contains("JSON object"));
    assert!(err(&results[8], "invalid").contains("at least one channel"));

    // The PubNub API sees the state the guest set.
    let state = node
        .get("/v2/presence/sub-key/demo/channel/rs.a/uuid/erin")
        .await;
    assert_eq!(state.ok()["payload"], json!({"role": "guest"}));
}
