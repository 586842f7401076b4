//! PubNub App Context memberships and channel members over plain HTTP
//! (`/v2/objects/{sub}/uuids/{uuid}/channels`,
//! `/v2/objects/{sub}/channels/{channel}/uuids`): one record seen from both
//! ends, include / filter / sort / pages over the joined metadata,
//! `If-Match`, the membership events subscribers get on the channel and on
//! the uuid's channel, PubNub's permissions, bad input and limits, a
//! restart, and two nodes of a cluster sharing memberships (the cluster
//! test needs `EDGEFN_NATS_SERVER`, see [`edgefn_e2e::nats`]).

use edgefn_e2e::sse::Sse;
use edgefn_e2e::*;

use crate::objects::{assert_bad, encode, get, patch, remove, set};

/// `PATCH`es `body` to the memberships of uuid `uuid` with `query`,
/// asserting success; the answer's body.
async fn memberships(node: &Node, uuid: &str, query: &str, body: &Value) -> Value {
    let answer = patch(
        node,
        &format!("uuids/{uuid}/channels"),
        query,
        &body.to_string(),
        None,
    )
    .await;
    answer.ok().clone()
}

/// `PATCH`es `body` to the members of `channel` with `query`, asserting
/// success; the answer's body.
async fn members(node: &Node, channel: &str, query: &str, body: &Value) -> Value {
    let answer = patch(
        node,
        &format!("channels/{channel}/uuids"),
        query,
        &body.to_string(),
        None,
    )
    .await;
    answer.ok().clone()
}

/// The ids of the `end` (`channel` or `uuid`) of a listing's data.
fn ends(body: &Value, end: &str) -> Vec<String> {
    body["data"]
        .as_array()
        .unwrap_or_else(|| panic!("no data in {body}"))
        .iter()
        .map(|m| m[end]["id"].as_str().expect("an id").to_owned())
        .collect()
}

#[tokio::test]
async fn memberships_and_members_are_one_record() {
    let node = Node::start().await;
    set(
        &node,
        "channels/c1",
        &json!({"name": "Alpha", "custom": {"size": 1}}),
    )
    .await;
    set(
        &node,
        "channels/c2",
        &json!({"name": "Beta", "status": "open"}),
    )
    .await;
    set(&node, "uuids/u2", &json!({"name": "Bob"})).await;

    // Set through the uuid: the answer is the uuid's memberships.
    let set_ = memberships(
        &node,
        "u1",
        "include=custom,status,type,channel,totalCount",
        &json!({"set": [
            {"channel": {"id": "c1"}, "custom": {"lastRead": 5}, "status": "active", "type": "owner"},
            {"channel": {"id": "c2"}},
            {"channel": {"id": "c3"}, "custom": {"lastRead": 1}},
        ]}),
    )
    .await;
    assert_eq!(ends(&set_, "channel"), ["c1", "c2", "c3"], "{set_}");
    assert_eq!(set_["totalCount"], 3);
    let first = &set_["data"][0];
    assert_eq!(
        (&first["custom"], &first["status"], &first["type"]),
        (&json!({"lastRead": 5}), &json!("active"), &json!("owner"))
    );
    assert_eq!(first["channel"]["name"], "Alpha");
    assert!(first["channel"].get("custom").is_none(), "{first}");
    assert!(first["eTag"].is_string() && first["updated"].is_string());
    assert_eq!(
        set_["data"][2]["channel"],
        json!({"id": "c3"}),
        "no metadata"
    );

    // The same record from the channel's side; members set there show on
    // the uuid's side.
    let c1 = get(&node, "channels/c1/uuids", "include=custom,uuid.custom").await;
    let c1 = c1.ok();
    assert_eq!(ends(c1, "uuid"), ["u1"]);
    assert_eq!(c1["data"][0]["custom"], json!({"lastRead": 5}));
    assert_eq!(c1["data"][0]["eTag"], first["eTag"]);
    let added = members(
        &node,
        "c1",
        "include=uuid",
        &json!({"set": [{"uuid": {"id": "u2"}, "status": "invited"}]}),
    )
    .await;
    assert_eq!(ends(&added, "uuid"), ["u1", "u2"]);
    assert_eq!(added["data"][1]["uuid"]["name"], "Bob");
    let bob = get(&node, "uuids/u2/channels", "include=status").await;
    assert_eq!(bob.ok()["data"][0]["status"], "invited");
    assert_eq!(bob.body["data"][0]["channel"], json!({"id": "c1"}));

    // Includes of the other end: its custom, or only its status.
    let with = get(&node, "uuids/u1/channels", "include=channel.custom&limit=1").await;
    assert_eq!(
        with.ok()["data"][0]["channel"]["custom"],
        json!({"size": 1})
    );
    let status = get(&node, "uuids/u1/channels", "include=channel.status").await;
    assert_eq!(
        status.ok()["data"][1]["channel"],
        json!({"id": "c2", "status": "open"})
    );

    // Sorts and filters name the joined metadata; pages go both ways.
    let by_name = get(&node, "uuids/u1/channels", "sort=channel.name:desc").await;
    assert_eq!(ends(by_name.ok(), "channel"), ["c2", "c1", "c3"]);
    let filtered = |filter: &str| {
        let node = &node;
        let query = format!("filter={}", encode(filter));
        async move { ends(get(node, "uuids/u1/channels", &query).await.ok(), "channel") }
    };
    assert_eq!(filtered(r#"channel.name LIKE "al*""#).await, ["c1"]);
    assert_eq!(filtered("custom.lastRead >= 1").await, ["c1", "c3"]);
    assert_eq!(
        filtered(r#"status == "active" || channel.custom.size == 1"#).await,
        ["c1"]
    );
    let page = get(&node, "uuids/u1/channels", "limit=2&count=true").await;
    let page = page.ok();
    assert_eq!(
        (ends(page, "channel"), &page["totalCount"]),
        (vec!["c1".to_owned(), "c2".to_owned()], &json!(3))
    );
    let next = page["next"].as_str().unwrap();
    let rest = get(&node, "uuids/u1/channels", &format!("limit=2&start={next}")).await;
    assert_eq!(ends(rest.ok(), "channel"), ["c3"]);
    let prev = rest.body["prev"].as_str().unwrap();
    let back = get(&node, "uuids/u1/channels", &format!("limit=2&end={prev}")).await;
    assert_eq!(ends(back.ok(), "channel"), ["c1", "c2"]);

    // Setting again changes the fields named, keeps the others; a manage
    // sets and removes at once.
    let changed = memberships(
        &node,
        "u1",
        "include=custom,status",
        &json!({"set": [{"channel": {"id": "c1"}, "status": null}], "delete": [{"channel": {"id": "c3"}}]}),
    )
    .await;
    assert_eq!(ends(&changed, "channel"), ["c1", "c2"]);
    let c1 = &changed["data"][0];
    assert_eq!(
        (&c1["custom"], &c1["status"]),
        (&json!({"lastRead": 5}), &Value::Null)
    );
    assert_ne!(c1["eTag"], first["eTag"]);
    // Removing metadata keeps memberships; removing a membership is seen
    // from both ends.
    remove(&node, "channels/c2", "", None).await.ok();
    assert_eq!(
        ends(get(&node, "uuids/u1/channels", "").await.ok(), "channel"),
        ["c1", "c2"]
    );
    let removed = members(
        &node,
        "c1",
        "",
        &json!({"delete": [{"uuid": {"id": "u1"}}]}),
    )
    .await;
    assert_eq!(ends(&removed, "uuid"), ["u2"]);
    assert_eq!(
        ends(get(&node, "uuids/u1/channels", "").await.ok(), "channel"),
        ["c2"]
    );
}

#[tokio::test]
async fn membership_events_reach_the_channel_and_the_uuid() {
    let node = Node::start().await;
    let (mut on_room, _) = Sse::ready(&node, "room", None).await;
    let (mut on_user, _) = Sse::ready(&node, "alice", None).await;
    let handshake = node.get("/v2/subscribe/demo/room/0?uuid=poller&tt=0").await;
    let cursor = handshake.ok()["t"]["t"].as_str().unwrap().to_owned();

    let set_ = memberships(
        &node,
        "alice",
        "uuid=admin&include=custom,status,type",
        &json!({"set": [{"channel": {"id": "room"}, "custom": {"k": 1}, "status": "s"}]}),
    )
    .await;
    let membership = &set_["data"][0];
    members(
        &node,
        "room",
        "uuid=admin",
        &json!({"delete": [{"uuid": {"id": "alice"}}]}),
    )
    .await;

    let poll = node
        .get(&format!(
            "/v2/subscribe/demo/room/0?uuid=poller&tt={cursor}"
        ))
        .await;
    let envelopes = poll.ok()["m"].as_array().unwrap().clone();
    assert_eq!(envelopes.len(), 2, "{envelopes:?}");
    assert_eq!(
        (&envelopes[0]["e"], &envelopes[0]["i"]),
        (&json!(2), &json!("admin"))
    );
    assert_eq!(
        envelopes[0]["d"],
        json!({"source": "objects", "version": "2.0", "event": "set", "type": "membership",
            "data": {"uuid": {"id": "alice"}, "channel": {"id": "room"}, "custom": {"k": 1},
                "status": "s", "type": null, "updated": membership["updated"], "eTag": membership["eTag"]}})
    );
    assert_eq!(envelopes[1]["d"]["event"], "delete");
    assert_eq!(
        envelopes[1]["d"]["data"],
        json!({"uuid": {"id": "alice"}, "channel": {"id": "room"}})
    );

    for sse in [&mut on_room, &mut on_user] {
        let event = sse.next_event().await;
        assert_eq!(event.event, "object");
        assert_eq!(event.data["message"]["type"], "membership");
        assert_eq!(event.data["message"]["data"]["eTag"], membership["eTag"]);
        assert_eq!(sse.next_event().await.data["message"]["event"], "delete");
    }
    assert!(node.history("room", "").await.is_empty(), "not stored");
}

#[tokio::test]
async fn memberships_need_pubnub_s_permissions() {
    let node = Node::start_secured("memberships-secret").await;
    let token = |grant: Value| {
        let node = &node;
        async move {
            let mut grant = grant;
            grant["ttl_minutes"] = json!(5);
            node.grant(&grant).await
        }
    };
    let reader = token(json!({"uuids": {"u1": ["get"]}, "channels": {"c1": ["get"]}})).await;
    let joiner = token(json!({"uuids": {"u1": ["update"]}, "channels": {"c1": ["join"]}})).await;
    let updater =
        token(json!({"uuids": {"u1": ["update"]}, "channels": {"c1": ["update", "manage"]}})).await;
    let manager = token(json!({"channels": {"c1": ["manage"]}})).await;
    let forbidden = |answer: Answer, what: &str| {
        assert_eq!(answer.status, 403, "{what}: {}", answer.body);
        assert_eq!(answer.body["service"], "Access Manager", "{}", answer.body);
        answer.body["payload"].clone()
    };
    let join_c1 = json!({"set": [{"channel": {"id": "c1"}}]}).to_string();
    let join_c2 = json!({"set": [{"channel": {"id": "c2"}}]}).to_string();
    let member_u1 = json!({"set": [{"uuid": {"id": "u1"}}]}).to_string();
    let with = |token: &str| format!("auth={token}");

    // Memberships: update on the uuid and join on each channel named.
    forbidden(
        patch(&node, "uuids/u1/channels", "", &join_c1, None).await,
        "no token",
    );
    let payload = forbidden(
        patch(&node, "uuids/u1/channels", &with(&updater), &join_c1, None).await,
        "no join",
    );
    assert_eq!(payload["channels"], json!(["c1"]));
    forbidden(
        patch(&node, "uuids/u1/channels", &with(&joiner), &join_c2, None).await,
        "join on another channel",
    );
    forbidden(
        patch(&node, "uuids/u2/channels", &with(&joiner), &join_c1, None).await,
        "another uuid",
    );
    patch(&node, "uuids/u1/channels", &with(&joiner), &join_c1, None)
        .await
        .ok();
    forbidden(
        get(&node, "uuids/u1/channels", &with(&joiner)).await,
        "no get",
    );
    let read = get(&node, "uuids/u1/channels", &with(&reader)).await;
    assert_eq!(ends(read.ok(), "channel"), ["c1"]);

    // Members: get on the channel to read, manage to change.
    forbidden(
        patch(&node, "channels/c1/uuids", &with(&joiner), &member_u1, None).await,
        "join is not manage",
    );
    patch(
        &node,
        "channels/c1/uuids",
        &with(&manager),
        &member_u1,
        None,
    )
    .await
    .ok();
    forbidden(
        get(&node, "channels/c1/uuids", &with(&manager)).await,
        "manage is not get",
    );
    let read = get(&node, "channels/c1/uuids", &with(&reader)).await;
    assert_eq!(ends(read.ok(), "uuid"), ["u1"]);
}

#[tokio::test]
async fn bad_membership_input_is_refused_and_limits_hold() {
    let config = "[pubnub]\nmax_memberships_per_uuid = 2\nmax_members_per_channel = 2\n\
                  max_object_custom_fields = 2\n";
    let node = Node::start_with_config(config).await;
    let change = |path: &'static str, body: &'static str| {
        let node = &node;
        async move { patch(node, path, "", body, None).await }
    };
    let bad = |body: &'static str| change("uuids/u/channels", body);
    assert_bad(&bad("not json").await, "body", "Invalid JSON");
    assert_bad(&bad(r#"{"add":[]}"#).await, "body", "Unknown field `add`");
    assert_bad(
        &bad(r#"{"set":{"channel":"c"}}"#).await,
        "body",
        "`set` must be a list",
    );
    assert_bad(
        &bad(r#"{"set":[{"channel":"c"}]}"#).await,
        "body",
        "`set[0].channel.id`",
    );
    assert_bad(
        &bad(r#"{"set":[{"uuid":{"id":"c"}}]}"#).await,
        "body",
        "`set[0].channel.id`",
    );
    assert_bad(
        &change("channels/c/uuids", r#"{"set":[{"channel":{"id":"c"}}]}"#).await,
        "body",
        "`set[0].uuid.id`",
    );
    assert_bad(
        &bad(r#"{"set":[{"channel":{"id":"c"},"role":"x"}]}"#).await,
        "body",
        "`set[0].role`",
    );
    assert_bad(
        &bad(r#"{"set":[{"channel":{"id":"c"},"status":7}]}"#).await,
        "body",
        "`status`",
    );
    assert_bad(
        &bad(r#"{"set":[{"channel":{"id":"c"},"custom":{"a":[1]}}]}"#).await,
        "body",
        "flat",
    );
    assert_bad(
        &bad(r#"{"set":[{"channel":{"id":"c"},"custom":{"a":1,"b":2,"c":3}}]}"#).await,
        "body",
        "max_object_custom_fields",
    );
    assert_bad(
        &bad(r#"{"set":[{"channel":{"id":"c"}}],"delete":[{"channel":{"id":"c"}}]}"#).await,
        "body",
        "named twice",
    );
    let long = format!(r#"{{"set":[{{"channel":{{"id":"{}"}}}}]}}"#, "x".repeat(93));
    assert_bad(
        &patch(&node, "uuids/u/channels", "", &long, None).await,
        "body",
        "longer",
    );
    let bad_get = |query: &'static str| {
        let node = &node;
        async move { get(node, "uuids/u/channels", query).await }
    };
    assert_bad(&bad_get("include=uuid").await, "include", "`uuid`");
    assert_bad(&bad_get("sort=name").await, "sort", "`name`");
    assert_bad(&bad_get("sort=uuid.name").await, "sort", "`uuid.name`");
    assert_bad(&bad_get("limit=0").await, "limit", "1 to 100");
    let filter = format!("filter={}", encode(r#"channel.email == "x""#));
    assert_bad(
        &get(&node, "uuids/u/channels", &filter).await,
        "filter",
        "unknown field `channel.email`",
    );
    assert!(
        get(&node, "uuids/u/channels", "").await.ok()["data"]
            .as_array()
            .unwrap()
            .is_empty(),
        "nothing half-written"
    );

    // If-Match: every membership named must have that eTag.
    let set_ = memberships(&node, "u", "", &json!({"set": [{"channel": {"id": "a"}}]})).await;
    let etag = set_["data"][0]["eTag"].as_str().unwrap().to_owned();
    let body = json!({"set": [{"channel": {"id": "a"}, "status": "x"}]}).to_string();
    let stale = patch(&node, "uuids/u/channels", "", &body, Some("stale")).await;
    assert_eq!(stale.status, 412, "{}", stale.body);
    assert_eq!(stale.body["error"]["source"], "objects");
    let both = json!({"set": [{"channel": {"id": "a"}}, {"channel": {"id": "new"}}]}).to_string();
    let missing = patch(&node, "uuids/u/channels", "", &both, Some(&etag)).await;
    assert_eq!(
        missing.status, 412,
        "a new one has no eTag: {}",
        missing.body
    );
    let done = patch(
        &node,
        "uuids/u/channels",
        "include=status",
        &body,
        Some(&etag),
    )
    .await;
    assert_eq!(done.ok()["data"][0]["status"], "x");

    // Two memberships per uuid, two members per channel: 400 naming the
    // setting; changing existing ones still works.
    memberships(&node, "u", "", &json!({"set": [{"channel": {"id": "b"}}]})).await;
    let over = change("uuids/u/channels", r#"{"set":[{"channel":{"id":"c"}}]}"#).await;
    assert_bad(&over, "body", "pubnub.max_memberships_per_uuid");
    memberships(
        &node,
        "u",
        "",
        &json!({"set": [{"channel": {"id": "c"}}], "delete": [{"channel": {"id": "b"}}]}),
    )
    .await;
    members(&node, "a", "", &json!({"set": [{"uuid": {"id": "v"}}]})).await;
    let full = change("uuids/w/channels", r#"{"set":[{"channel":{"id":"a"}}]}"#).await;
    assert_bad(&full, "body", "pubnub.max_members_per_channel");
    memberships(
        &node,
        "u",
        "",
        &json!({"set": [{"channel": {"id": "a"}, "type": "t"}]}),
    )
    .await;
}

#[tokio::test]
async fn memberships_survive_kill_9_and_a_restart() {
    let mut node = Node::start().await;
    let kept = memberships(
        &node,
        "u",
        "include=custom",
        &json!({"set": [{"channel": {"id": "c"}, "custom": {"k": "v"}}]}),
    )
    .await;
    node.kill9().await;
    node.restart().await;
    let after = get(&node, "channels/c/uuids", "include=custom").await;
    assert_eq!(after.ok()["data"][0]["custom"], kept["data"][0]["custom"]);
    assert_eq!(after.body["data"][0]["eTag"], kept["data"][0]["eTag"]);
}

#[tokio::test]
async fn cluster_nodes_share_memberships_and_their_events() {
    let nats = NatsServer::start().await;
    let nodes = nats.start_nodes(2, "").await;
    let (a, b) = (&nodes[0], &nodes[1]);
    let (mut on_b, _) = Sse::ready(b, "shared.room", None).await;
    set(a, "channels/shared.room", &json!({"name": "Shared"})).await;
    let _ = on_b.next_event().await; // the channel metadata's event

    // Set through A: read through B from both ends; B's subscriber hears.
    let set_ = memberships(
        a,
        "user%2F1",
        "include=custom",
        &json!({"set": [{"channel": {"id": "shared.room"}, "custom": {"x": 1}}]}),
    )
    .await;
    let membership = &set_["data"][0];
    let read = get(b, "uuids/user%2F1/channels", "include=custom,channel").await;
    let read = read.ok();
    assert_eq!(
        (
            &read["data"][0]["eTag"],
            &read["data"][0]["channel"]["name"]
        ),
        (&membership["eTag"], &json!("Shared"))
    );
    let members_ = get(b, "channels/shared.room/uuids", "count=true").await;
    assert_eq!(
        (ends(members_.ok(), "uuid"), &members_.body["totalCount"]),
        (vec!["user/1".to_owned()], &json!(1))
    );
    let event = on_b.next_event().await;
    assert_eq!(
        (
            &event.data["message"]["type"],
            &event.data["message"]["data"]["eTag"]
        ),
        (&json!("membership"), &membership["eTag"])
    );

    // The eTag check holds across nodes; removed through B, gone through A.
    let etag = membership["eTag"].as_str().unwrap();
    let body = json!({"set": [{"uuid": {"id": "user/1"}, "status": "b"}]}).to_string();
    patch(b, "channels/shared.room/uuids", "", &body, Some(etag))
        .await
        .ok();
    let stale = patch(a, "channels/shared.room/uuids", "", &body, Some(etag)).await;
    assert_eq!(stale.status, 412, "{}", stale.body);
    members(
        b,
        "shared.room",
        "",
        &json!({"delete": [{"uuid": {"id": "user/1"}}]}),
    )
    .await;
    let gone = get(a, "uuids/user%2F1/channels", "").await;
    assert_eq!(ends(gone.ok(), "channel"), Vec::<String>::new());
}
