//! Message actions and App Context from inside a function: the JavaScript
//! `pubnub` module's addMessageAction, getMessageActions and
//! removeMessageAction, and its `objects` calls on UUID and channel
//! metadata, in the shapes of PubNub's SDK. Their changes reach
//! subscribers as action and object events (by `fn:NAME`, the function's
//! own id) and are seen by the PubNub API; bad input is an error the
//! function can catch; every call spends the bus budget. The Rust SDK
//! (`caps` guest) does the same through `edgefn_sdk::actions` and
//! `edgefn_sdk::objects`.

use edgefn_e2e::caps::{err, ok};
use edgefn_e2e::sse::Sse;
use edgefn_e2e::*;

use crate::fn_presence_history::{CALLER, call, deploy_caller, js_err, js_ok};

/// The next SSE event of `sse`, asserting its kind and publisher: its
/// message.
async fn next_event(sse: &mut Sse, kind: &str, publisher: &str) -> Value {
    let event = sse.next_event().await;
    assert_eq!(
        (event.event.as_str(), &event.data["publisher"]),
        (kind, &json!(publisher)),
        "{:?}",
        event
    );
    event.data["message"].clone()
}

#[tokio::test]
async fn js_message_actions_reach_subscribers_and_the_pubnub_api() {
    let node = Node::start().await;
    deploy_caller(&node, "reactor").await;
    let (mut sse, _) = Sse::ready(&node, "ma.room", None).await;
    let message = node.publish("ma.room", &json!("react to me")).await;
    assert_eq!(sse.next_message().await["timetoken"], json!(message));

    let action = |kind: &str, value: &str| {
        json!(["addMessageAction", {"channel": "ma.room", "messageTimetoken": message,
                                    "action": {"type": kind, "value": value}}])
    };
    let results = call(
        &node,
        "reactor",
        &[
            action("reaction", "smile"),
            action("receipt", "read"),
            json!(["getMessageActions", {"channel": "ma.room"}]),
            json!(["getMessageActions", {"channel": "ma.room", "limit": 1}]),
            action("reaction", "smile"),
            json!(["addMessageAction", {"channel": "ma.room", "messageTimetoken": "soon",
                                        "action": {"type": "reaction", "value": "x"}}]),
            json!(["addMessageAction", {"messageTimetoken": message,
                                        "action": {"type": "reaction", "value": "x"}}]),
            action("a-type-far-too-long", "x"),
            json!(["getMessageActions", {"channel": "ma.room", "start": "later"}]),
        ],
    )
    .await;
    let smile = js_ok(&results[0])["data"].clone();
    let read = js_ok(&results[1])["data"].clone();
    assert_eq!(
        (&smile["type"], &smile["value"], &smile["uuid"]),
        (&json!("reaction"), &json!("smile"), &json!("fn:reactor")),
        "{smile}"
    );
    assert_eq!(smile["messageTimetoken"], json!(message));
    let (first, second) = (&smile["actionTimetoken"], &read["actionTimetoken"]);
    assert!(first.as_str() < second.as_str(), "{first} then {second}");
    assert_eq!(
        js_ok(&results[2]),
        &json!({"data": [smile, read], "start": first, "end": second})
    );
    assert_eq!(
        js_ok(&results[3]),
        &json!({"data": [read], "start": second, "end": second,
                "more": {"start": second, "limit": 1}})
    );
    assert!(
        js_err(&results[4]).contains("Action Already Added"),
        "{}",
        results[4]
    );
    assert!(
        js_err(&results[5]).contains("`messageTimetoken` must be a timetoken"),
        "{}",
        results[5]
    );
    assert!(js_err(&results[6]).contains("`channel`"), "{}", results[6]);
    assert!(js_err(&results[7]).contains("15"), "{}", results[7]);
    assert!(js_err(&results[8]).contains("later"), "{}", results[8]);

    let results = call(
        &node,
        "reactor",
        &[
            json!(["removeMessageAction", {"channel": "ma.room", "messageTimetoken": message,
                                           "actionTimetoken": first}]),
            json!(["removeMessageAction", {"channel": "ma.room", "messageTimetoken": message}]),
        ],
    )
    .await;
    assert_eq!(js_ok(&results[0]), &json!({"data": {}}));
    assert!(
        js_err(&results[1]).contains("`actionTimetoken`"),
        "{}",
        results[1]
    );

    // Subscribers heard of each change, as when a client makes it.
    let event = |kind: &str, data: &Value| json!({"source": "actions", "version": "1.0", "event": kind, "data": data});
    for expected in [
        event("added", &smile),
        event("added", &read),
        event("removed", &smile),
    ] {
        let got = next_event(&mut sse, "action", "fn:reactor").await;
        assert_eq!(got, expected);
    }
    // The PubNub API sees what is left.
    let left = node.get("/v1/message-actions/demo/channel/ma.room").await;
    assert_eq!(left.ok()["data"], json!([read]));
}

#[tokio::test]
async fn js_app_context_metadata_reaches_subscribers_and_the_pubnub_api() {
    let node = Node::start().await;
    node.deploy_js_ok(
        "profiles",
        CALLER,
        &json!({"endpoint": true, "bus_calls": 20}),
    )
    .await;
    let (mut on_alice, _) = Sse::ready(&node, "oc.alice", None).await;
    let (mut on_bob, _) = Sse::ready(&node, "oc.bob", None).await;

    let results = call(
        &node,
        "profiles",
        &[
            json!(["objects.setUUIDMetadata", {"uuid": "oc.alice",
                "data": {"name": "Alice", "email": "a@example.com", "custom": {"team": "red"}}}]),
            json!(["objects.setUUIDMetadata", {"uuid": "oc.bob", "data": {"name": "Bob"}}]),
            json!(["objects.setChannelMetadata", {"channel": "oc.room",
                "data": {"name": "Room", "description": "talk", "status": "open"},
                "include": {"customFields": false}}]),
            json!(["objects.getUUIDMetadata", {"uuid": "oc.alice"}]),
            json!(["objects.getUUIDMetadata", {"uuid": "oc.alice", "include": {"customFields": false}}]),
            json!(["objects.getAllUUIDMetadata", {"sort": {"name": "desc"}, "limit": 1,
                "include": {"totalCount": true}}]),
            json!(["objects.getAllUUIDMetadata", {"filter": "name == 'Alice'",
                "include": {"customFields": true}}]),
            json!(["objects.getAllChannelMetadata", {}]),
            json!(["objects.setUUIDMetadata", {"uuid": "oc.alice", "data": {"name": "A"},
                "ifMatchesEtag": "stale"}]),
            json!(["objects.setUUIDMetadata", {"uuid": "oc.alice", "data": {"nope": 1}}]),
            json!(["objects.getUUIDMetadata", {}]),
            json!(["objects.getAllUUIDMetadata", {"filter": "name ==="}]),
        ],
    )
    .await;
    let alice = js_ok(&results[0])["data"].clone();
    assert_eq!(js_ok(&results[0])["status"], 200);
    assert_eq!(
        (
            &alice["id"],
            &alice["name"],
            &alice["email"],
            &alice["custom"]
        ),
        (
            &json!("oc.alice"),
            &json!("Alice"),
            &json!("a@example.com"),
            &json!({"team": "red"})
        ),
        "{alice}"
    );
    assert!(alice["eTag"].is_string() && alice["updated"].is_string());
    // As PubNub's SDK asks: status and type always, custom unless refused.
    assert!(alice.get("status").is_some() && alice.get("type").is_some());
    let room = &js_ok(&results[2])["data"];
    assert_eq!(
        (&room["name"], &room["description"], &room["status"]),
        (&json!("Room"), &json!("talk"), &json!("open"))
    );
    assert!(room.get("custom").is_none(), "{room}");
    assert_eq!(js_ok(&results[3]), &json!({"status": 200, "data": alice}));
    let plain = &js_ok(&results[4])["data"];
    assert!(plain.get("custom").is_none(), "{plain}");
    assert_eq!(plain["name"], "Alice");

    let page = js_ok(&results[5]);
    assert_eq!(page["data"].as_array().map(Vec::len), Some(1), "{page}");
    assert_eq!(
        (&page["data"][0]["id"], &page["totalCount"]),
        (&json!("oc.bob"), &json!(2))
    );
    assert!(
        page["data"][0].get("custom").is_none(),
        "getAll leaves custom out"
    );
    let next = page["next"].as_str().expect("a next cursor").to_owned();
    assert_eq!(js_ok(&results[6])["data"], json!([alice]));
    assert!(js_ok(&results[6]).get("totalCount").is_none());
    assert_eq!(js_ok(&results[7])["data"][0]["id"], "oc.room");

    assert!(js_err(&results[8]).contains("eTag"), "{}", results[8]);
    assert!(js_err(&results[9]).contains("`nope`"), "{}", results[9]);
    assert!(js_err(&results[10]).contains("`uuid`"), "{}", results[10]);
    assert!(!js_err(&results[11]).is_empty());

    // The next page, through the cursor; then a removal.
    let results = call(
        &node,
        "profiles",
        &[
            json!(["objects.getAllUUIDMetadata", {"sort": {"name": "desc"}, "limit": 1,
                                                  "page": {"next": next}}]),
            json!(["objects.removeUUIDMetadata", {"uuid": "oc.bob"}]),
            json!(["objects.getUUIDMetadata", {"uuid": "oc.bob"}]),
        ],
    )
    .await;
    assert_eq!(js_ok(&results[0])["data"][0]["id"], "oc.alice");
    assert!(js_ok(&results[0]).get("next").is_none());
    assert_eq!(js_ok(&results[1]), &json!({"status": 200, "data": null}));
    assert!(
        js_err(&results[2]).contains("Requested object was not found"),
        "{}",
        results[2]
    );

    // Subscribers of each object's channel heard of its changes.
    let set = next_event(&mut on_alice, "object", "fn:profiles").await;
    assert_eq!(
        set,
        json!({"source": "objects", "version": "2.0", "event": "set", "type": "uuid", "data": alice})
    );
    let bob = next_event(&mut on_bob, "object", "fn:profiles").await;
    assert_eq!(
        (&bob["event"], &bob["data"]["name"]),
        (&json!("set"), &json!("Bob"))
    );
    let gone = next_event(&mut on_bob, "object", "fn:profiles").await;
    assert_eq!(
        (&gone["event"], &gone["data"]),
        (&json!("delete"), &json!({"id": "oc.bob"}))
    );

    // The PubNub API sees the objects.
    let got = node
        .get("/v2/objects/demo/uuids/oc.alice?include=custom,status,type")
        .await;
    assert_eq!(got.ok()["data"], alice);
    assert_eq!(node.get("/v2/objects/demo/uuids/oc.bob").await.status, 404);
    let channel = node.get("/v2/objects/demo/channels/oc.room").await;
    assert_eq!(channel.ok()["data"]["description"], "talk");
}

#[tokio::test]
async fn action_and_app_context_calls_spend_the_bus_budget() {
    let node = Node::start().await;
    node.deploy_js_ok(
        "thrifty",
        CALLER,
        &json!({"endpoint": true, "bus_calls": 3}),
    )
    .await;
    let message = node.publish("bb.room", &json!("hi")).await;
    let results = call(
        &node,
        "thrifty",
        &[
            json!(["getMessageActions", {"channel": "bb.room"}]),
            json!(["objects.getAllChannelMetadata", {}]),
            json!(["addMessageAction", {"channel": "bb.room", "messageTimetoken": message,
                                        "action": {"type": "reaction", "value": "wave"}}]),
            json!(["objects.setUUIDMetadata", {"uuid": "bb.u", "data": {"name": "U"}}]),
            json!(["removeMessageAction", {"channel": "bb.room", "messageTimetoken": message,
                                           "actionTimetoken": message}]),
        ],
    )
    .await;
    for result in &results[..3] {
        js_ok(result);
    }
    for result in &results[3..] {
        assert_eq!(
            js_err(result),
            "bus budget exhausted: at most 3 calls per invocation"
        );
    }
    // Refused calls changed nothing.
    assert_eq!(node.get("/v2/objects/demo/uuids/bb.u").await.status, 404);
}

#[tokio::test]
async fn the_rust_sdk_adds_actions_and_sets_objects() {
    let node = Node::start().await;
    node.deploy_caps("caps", json!({})).await;
    let message = node.publish("rs.room", &json!("hello")).await;
    let results = node
        .run_ops(
            "caps",
            &[
                json!({"op": "actions.add", "channel": "rs.room", "message": message,
                       "type": "reaction", "value": "wave"}),
                json!({"op": "actions.get", "channel": "rs.room", "limit": 5}),
                json!({"op": "actions.add", "channel": "rs.room", "message": "soon",
                       "type": "reaction", "value": "wave"}),
                json!({"op": "objects.set", "kind": "channel", "id": "rs.room",
                       "fields": {"name": "Room", "custom": {"floor": 3}}}),
                json!({"op": "objects.get", "kind": "channel", "id": "rs.room"}),
                json!({"op": "objects.list", "kind": "channel", "count": true}),
                json!({"op": "objects.get", "kind": "uuid", "id": "rs.nobody"}),
                json!({"op": "objects.set", "kind": "channel", "id": "rs.room",
                       "fields": {"name": "R"}, "if_match": "stale"}),
            ],
        )
        .await;
    let added = ok(&results[0]).clone();
    assert_eq!(
        (&added["kind"], &added["uuid"], &added["message_timetoken"]),
        (&json!("reaction"), &json!("fn:caps"), &json!(message)),
        "{added}"
    );
    assert_eq!(ok(&results[1]), &json!({"actions": [added], "more": false}));
    assert!(err(&results[2], "invalid").contains("soon"));
    let room = ok(&results[3]).clone();
    assert_eq!(
        (&room["name"], &room["custom"]),
        (&json!("Room"), &json!({"floor": 3}))
    );
    assert_eq!(ok(&results[4]), &room);
    assert_eq!(
        ok(&results[5]),
        &json!({"objects": [room], "total_count": 1, "next": null, "prev": null})
    );
    assert_eq!(ok(&results[6]), &Value::Null);
    assert!(err(&results[7], "rejected").contains("eTag"));

    let att = added["action_timetoken"].as_str().unwrap();
    let results = node
        .run_ops(
            "caps",
            &[
                json!({"op": "actions.remove", "channel": "rs.room", "message": message,
                       "action": att}),
                json!({"op": "actions.remove", "channel": "rs.room", "message": message,
                       "action": att}),
                json!({"op": "objects.remove", "kind": "channel", "id": "rs.room"}),
            ],
        )
        .await;
    assert_eq!(
        results.iter().map(ok).collect::<Vec<_>>(),
        [&json!(true), &json!(false), &json!(true)]
    );
    // The PubNub API sees both gone.
    let actions = node.get("/v1/message-actions/demo/channel/rs.room").await;
    assert_eq!(actions.ok()["data"], json!([]));
    assert_eq!(
        node.get("/v2/objects/demo/channels/rs.room").await.status,
        404
    );
}
