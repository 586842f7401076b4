//! PubNub App Context (Objects v2) uuid and channel metadata over plain
//! HTTP (`/v2/objects/{sub}/...`): paging with cursors, filters and sorts,
//! `If-Match`, the object events subscribers get (long-poll `e: 2`, SSE
//! `object`), the `uuids` and channel permissions of tokens, bad input and
//! limits, kill -9, and two nodes of a cluster sharing objects (the cluster
//! test needs `EDGEFN_NATS_SERVER`, see [`edgefn_e2e::nats`]).

use edgefn_e2e::sse::Sse;
use edgefn_e2e::wait::{TIMEOUT, eventually};
use edgefn_e2e::*;

const OBJECTS: &str = "/v2/objects/demo";

/// `PATCH {OBJECTS}/{path}?{query}` with `body` and an optional `If-Match`.
pub(crate) async fn patch(
    node: &Node,
    path: &str,
    query: &str,
    body: &str,
    if_match: Option<&str>,
) -> Answer {
    let mut request = node
        .http()
        .patch(node.url(&format!("{OBJECTS}/{path}?{query}")))
        .body(body.to_owned());
    if let Some(etag) = if_match {
        request = request.header("if-match", etag);
    }
    node.send(request).await
}

/// Sets `data` on `path` (`uuids/u1`, `channels/c1`), asserting success;
/// the object answered (with everything included).
pub(crate) async fn set(node: &Node, path: &str, data: &Value) -> Value {
    let answer = patch(
        node,
        path,
        "include=custom,status,type",
        &data.to_string(),
        None,
    )
    .await;
    assert_eq!(answer.body["status"], 200, "{}", answer.body);
    answer.ok()["data"].clone()
}

/// `DELETE {OBJECTS}/{path}?{query}`.
pub(crate) async fn remove(node: &Node, path: &str, query: &str, if_match: Option<&str>) -> Answer {
    let mut request = node
        .http()
        .delete(node.url(&format!("{OBJECTS}/{path}?{query}")));
    if let Some(etag) = if_match {
        request = request.header("if-match", etag);
    }
    node.send(request).await
}

/// `GET {OBJECTS}/{path}?{query}`.
pub(crate) async fn get(node: &Node, path: &str, query: &str) -> Answer {
    node.get(&format!("{OBJECTS}/{path}?{query}")).await
}

/// The ids of a listing's data.
fn ids(body: &Value) -> Vec<String> {
    body["data"]
        .as_array()
        .unwrap_or_else(|| panic!("no data in {body}"))
        .iter()
        .map(|o| o["id"].as_str().expect("an id").to_owned())
        .collect()
}

/// Asserts a 400 in the objects shape, about `location`, whose message
/// contains `part`.
#[track_caller]
pub(crate) fn assert_bad(answer: &Answer, location: &str, part: &str) {
    assert_eq!(answer.status, 400, "{}", answer.body);
    let error = &answer.body["error"];
    assert_eq!(
        (&answer.body["status"], &error["source"]),
        (&json!(400), &json!("objects")),
        "{}",
        answer.body
    );
    assert_eq!(error["details"][0]["location"], location, "{}", answer.body);
    let message = error["message"].as_str().unwrap_or_default();
    assert!(message.contains(part), "`{part}` not in {}", answer.body);
}

/// `text` percent-encoded for a query.
pub(crate) fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn get_all_pages_filters_and_sorts() {
    let node = Node::start().await;
    for n in 0..7 {
        let data = json!({"name": format!("name-{}", 6 - n), "status": if n % 2 == 0 { "even" } else { "odd" },
            "custom": {"n": n, "vip": n >= 5}});
        set(&node, &format!("uuids/u{n}"), &data).await;
    }

    // Pages of 3 by id, forward through `next`, back through `prev`.
    let first = get(&node, "uuids", "limit=3&count=true").await;
    let first = first.ok();
    assert_eq!(ids(first), ["u0", "u1", "u2"]);
    assert_eq!(first["totalCount"], 7);
    assert!(first.get("prev").is_none(), "{first}");
    assert!(
        first["data"][0].get("custom").is_none(),
        "not included: {first}"
    );
    let next = first["next"].as_str().unwrap();
    let second = get(&node, "uuids", &format!("limit=3&start={next}")).await;
    assert_eq!(ids(second.ok()), ["u3", "u4", "u5"]);
    assert!(second.body.get("totalCount").is_none(), "{}", second.body);
    let next = second.body["next"].as_str().unwrap();
    let third = get(&node, "uuids", &format!("limit=3&start={next}")).await;
    assert_eq!(ids(third.ok()), ["u6"]);
    assert!(third.body.get("next").is_none(), "{}", third.body);
    let prev = third.body["prev"].as_str().unwrap();
    let back = get(&node, "uuids", &format!("limit=3&end={prev}")).await;
    assert_eq!(ids(back.ok()), ["u3", "u4", "u5"]);

    // Sorts: by name descending is by id ascending here; by status then id.
    let by_name = get(&node, "uuids", "sort=name:desc").await;
    assert_eq!(
        ids(by_name.ok()),
        ["u0", "u1", "u2", "u3", "u4", "u5", "u6"]
    );
    let by_status = get(&node, "uuids", "sort=status:desc&sort=id:desc").await;
    assert_eq!(
        ids(by_status.ok()),
        ["u5", "u3", "u1", "u6", "u4", "u2", "u0"]
    );

    // Filters, with includes.
    let filtered = |filter: &str| {
        let node = &node;
        let query = format!("include=custom,status&filter={}", encode(filter));
        async move { ids(get(node, "uuids", &query).await.ok()) }
    };
    assert_eq!(filtered("custom.vip == true").await, ["u5", "u6"]);
    assert_eq!(
        filtered(r#"name LIKE "*-1" || name == "name-6""#).await,
        ["u0", "u5"]
    );
    assert_eq!(
        filtered(r#"status == "odd" && !(custom.n > 1)"#).await,
        ["u1"]
    );
    assert_eq!(
        filtered(r#"(custom.n >= 2 && custom.n < 4) || id == "u6""#).await,
        ["u2", "u3", "u6"]
    );
    let now = get(&node, "uuids/u0", "").await.ok()["data"]["updated"].clone();
    let since = format!("updated >= {now}");
    assert_eq!(filtered(&since).await.len(), 7);
    assert_eq!(
        filtered(r#"updated < "2000-01-01T00:00:00Z""#).await.len(),
        0
    );
    let with = get(&node, "uuids", "include=custom,status&limit=1").await;
    let one = &with.ok()["data"][0];
    assert_eq!(
        (&one["custom"]["n"], &one["status"]),
        (&json!(0), &json!("even"))
    );
    assert!(one.get("type").is_none(), "{one}");
}

#[tokio::test]
async fn set_get_remove_and_if_match() {
    let node = Node::start().await;
    let room = set(
        &node,
        "channels/room",
        &json!({"name": "Room", "description": "d", "type": "public"}),
    )
    .await;
    assert_eq!(
        (
            &room["id"],
            &room["name"],
            &room["description"],
            &room["type"],
            &room["custom"]
        ),
        (
            &json!("room"),
            &json!("Room"),
            &json!("d"),
            &json!("public"),
            &Value::Null
        )
    );
    let etag = room["eTag"].as_str().unwrap().to_owned();

    // A stale eTag: 412 for a set and a removal, nothing changed.
    let changed = set(&node, "channels/room", &json!({"name": "Hall"})).await;
    assert_eq!(changed["description"], "d", "fields not named are kept");
    let stale = patch(&node, "channels/room", "", r#"{"name":"X"}"#, Some(&etag)).await;
    assert_eq!(stale.status, 412, "{}", stale.body);
    assert_eq!(stale.body["error"]["source"], "objects");
    assert_eq!(
        remove(&node, "channels/room", "", Some(&etag)).await.status,
        412
    );
    let missing = patch(
        &node,
        "channels/nothing",
        "",
        r#"{"name":"X"}"#,
        Some(&etag),
    )
    .await;
    assert_eq!(
        missing.status, 412,
        "no object has the eTag: {}",
        missing.body
    );
    assert_eq!(
        get(&node, "channels/room", "").await.ok()["data"]["name"],
        "Hall"
    );

    // The current eTag: done.
    let current = changed["eTag"].as_str().unwrap();
    let removed = remove(&node, "channels/room", "", Some(current)).await;
    assert_eq!(removed.ok()["data"], Value::Null);
    let gone = get(&node, "channels/room", "").await;
    assert_eq!(gone.status, 404, "{}", gone.body);
    assert_eq!(gone.body["error"]["source"], "objects");
    // Removing what is not there is fine.
    remove(&node, "channels/room", "", None).await.ok();
    // An `id` in the body is the path's.
    let named = set(
        &node,
        "channels/hall",
        &json!({"id": "else", "name": "Hall"}),
    )
    .await;
    assert_eq!(named["id"], "hall");
    assert_eq!(get(&node, "channels/else", "").await.status, 404);
}

#[tokio::test]
async fn subscribers_get_object_events_over_long_poll_and_sse() {
    let node = Node::start().await;
    let (mut sse, _) = Sse::ready(&node, "alice", None).await;
    let handshake = node
        .get("/v2/subscribe/demo/alice/0?uuid=poller&tt=0")
        .await;
    let cursor = handshake.ok()["t"]["t"].as_str().unwrap().to_owned();

    let alice = set(
        &node,
        "uuids/alice",
        &json!({"name": "Alice", "custom": {"a": 1}}),
    )
    .await;
    remove(&node, "uuids/alice", "uuid=admin", None).await.ok();

    let poll = node
        .get(&format!(
            "/v2/subscribe/demo/alice/0?uuid=poller&tt={cursor}"
        ))
        .await;
    let envelopes = poll.ok()["m"].as_array().unwrap().clone();
    assert_eq!(envelopes.len(), 2, "{envelopes:?}");
    assert_eq!(envelopes[0]["e"], 2);
    assert_eq!(
        envelopes[0]["d"],
        json!({"source": "objects", "version": "2.0", "event": "set", "type": "uuid", "data": alice})
    );
    assert_eq!(
        (&envelopes[1]["e"], &envelopes[1]["i"]),
        (&json!(2), &json!("admin"))
    );
    assert_eq!(envelopes[1]["d"]["event"], "delete");
    assert_eq!(envelopes[1]["d"]["data"], json!({"id": "alice"}));

    let event = sse.next_event().await;
    assert_eq!(event.event, "object");
    assert_eq!(event.data["message"]["data"], alice);
    assert_eq!(sse.next_event().await.data["message"]["event"], "delete");
    // Object events are not stored.
    assert!(node.history("alice", "").await.is_empty());
}

#[tokio::test]
async fn objects_need_uuid_and_channel_permissions() {
    let node = Node::start_secured("objects-secret").await;
    let token = |grant: Value| {
        let node = &node;
        async move {
            let mut grant = grant;
            grant["ttl_minutes"] = json!(5);
            node.grant(&grant).await
        }
    };
    let getter = token(json!({"uuids": {"u1": ["get"]}, "channels": {"c1": ["get"]}})).await;
    let updater = token(
        json!({"uuids": {"u1": ["update"], "u2": ["update"]}, "channels": {"c1": ["update"]}}),
    )
    .await;
    let deleter = token(json!({"uuids": {"u1": ["delete"]}, "channels": {"c1": ["delete"]}})).await;
    let forbidden = |answer: Answer| {
        assert_eq!(answer.status, 403, "{}", answer.body);
        assert_eq!(answer.body["service"], "Access Manager", "{}", answer.body);
    };
    let body = r#"{"name":"n"}"#;

    for path in ["uuids/u1", "channels/c1"] {
        forbidden(patch(&node, path, "", body, None).await);
        forbidden(patch(&node, path, &format!("auth={getter}"), body, None).await);
        patch(&node, path, &format!("auth={updater}"), body, None)
            .await
            .ok();
        forbidden(get(&node, path, "").await);
        forbidden(get(&node, path, &format!("auth={updater}")).await);
        assert_eq!(
            get(&node, path, &format!("auth={getter}")).await.ok()["data"]["name"],
            "n"
        );
        forbidden(remove(&node, path, &format!("auth={getter}"), None).await);
        remove(&node, path, &format!("auth={deleter}"), None)
            .await
            .ok();
    }
    let denied = patch(&node, "uuids/u3", &format!("auth={updater}"), body, None).await;
    assert_eq!(
        denied.body["payload"]["uuids"],
        json!(["u3"]),
        "{}",
        denied.body
    );

    // A listing shows only what the token may get.
    patch(&node, "uuids/u1", &format!("auth={updater}"), body, None)
        .await
        .ok();
    patch(&node, "uuids/u2", &format!("auth={updater}"), body, None)
        .await
        .ok();
    forbidden(get(&node, "uuids", "").await);
    assert_eq!(
        ids(get(&node, "uuids", &format!("auth={getter}")).await.ok()),
        ["u1"]
    );
}

#[tokio::test]
async fn bad_input_is_refused_and_limits_hold() {
    let config =
        "[pubnub]\nmax_objects = 2\nmax_object_custom_fields = 2\nmax_object_custom_bytes = 40\n";
    let node = Node::start_with_config(config).await;
    let bad_set = |body: &'static str| {
        let node = &node;
        async move { patch(node, "uuids/u", "", body, None).await }
    };
    assert_bad(&bad_set("not json").await, "body", "Invalid JSON");
    assert_bad(&bad_set("[1]").await, "body", "Invalid JSON");
    assert_bad(
        &bad_set(r#"{"nick":"x"}"#).await,
        "body",
        "Unknown field `nick`",
    );
    assert_bad(
        &bad_set(r#"{"description":"x"}"#).await,
        "body",
        "Unknown field",
    );
    assert_bad(
        &bad_set(r#"{"name":7}"#).await,
        "body",
        "`name` must be a string",
    );
    assert_bad(
        &bad_set(r#"{"custom":[1]}"#).await,
        "body",
        "must be an object",
    );
    assert_bad(
        &bad_set(r#"{"custom":{"a":{"b":1}}}"#).await,
        "body",
        "flat",
    );
    assert_bad(
        &bad_set(r#"{"custom":{"a":1,"b":2,"c":3}}"#).await,
        "body",
        "max_object_custom_fields",
    );
    assert_bad(
        &bad_set(r#"{"custom":{"a":"0123456789012345678901234567890123456789"}}"#).await,
        "body",
        "max_object_custom_bytes",
    );
    let long = "x".repeat(93);
    assert_bad(
        &patch(&node, &format!("uuids/{long}"), "", "{}", None).await,
        "path",
        "longer",
    );
    assert_eq!(
        get(&node, "uuids/u", "").await.status,
        404,
        "nothing half-written"
    );

    let bad_get = |query: &'static str| {
        let node = &node;
        async move { get(node, "uuids", query).await }
    };
    assert_bad(&bad_get("limit=0").await, "limit", "1 to 100");
    assert_bad(&bad_get("limit=101").await, "limit", "1 to 100");
    assert_bad(&bad_get("limit=many").await, "limit", "Invalid limit");
    assert_bad(
        &bad_get("include=custom,friends").await,
        "include",
        "`friends`",
    );
    assert_bad(&bad_get("sort=email").await, "sort", "`email`");
    assert_bad(&bad_get("sort=name:up").await, "sort", "`up`");
    assert_bad(&bad_get("start=nonsense").await, "start", "cursor");
    let filter = |text: &str| format!("filter={}", encode(text));
    let answer = get(&node, "uuids", &filter(r#"name == "a" && (id = "b")"#)).await;
    assert_bad(&answer, "filter", "position 19");
    let answer = get(&node, "uuids", &filter(r#"nick == "a""#)).await;
    assert_bad(&answer, "filter", "unknown field `nick`");
    let answer = get(&node, "channels", &filter(r#"email == "a""#)).await;
    assert_bad(&answer, "filter", "position 0");

    // Two objects of a kind at most; changing them still works.
    set(&node, "uuids/a", &json!({"name": "a"})).await;
    set(&node, "uuids/b", &json!({"name": "b"})).await;
    assert_bad(&bad_set(r#"{"name":"c"}"#).await, "body", "max_objects");
    set(&node, "uuids/a", &json!({"name": "a2"})).await;
    set(&node, "channels/c", &json!({"name": "c"})).await;
}

#[tokio::test]
async fn objects_survive_kill_9_and_a_restart() {
    let mut node = Node::start().await;
    let user = set(
        &node,
        "uuids/kept",
        &json!({"name": "Kept", "custom": {"k": "v"}}),
    )
    .await;
    node.kill9().await;
    node.restart().await;
    let after = get(&node, "uuids/kept", "include=custom,status,type").await;
    assert_eq!(after.ok()["data"], user);
}

#[tokio::test]
async fn cluster_nodes_share_objects_and_their_events() {
    let nats = NatsServer::start().await;
    let nodes = nats.start_nodes(2, "").await;
    let (a, b) = (&nodes[0], &nodes[1]);
    let (mut on_b, _) = Sse::ready(b, "shared", None).await;

    // Set through A: read through B, and B's subscriber hears of it.
    let room = set(
        a,
        "channels/shared",
        &json!({"name": "Shared", "custom": {"x": 1}}),
    )
    .await;
    let read = get(b, "channels/shared", "include=custom,status,type").await;
    assert_eq!(read.ok()["data"], room);
    let event = on_b.next_event().await;
    assert_eq!(
        (event.event.as_str(), &event.data["message"]["data"]),
        ("object", &room)
    );

    // The eTag check holds across nodes.
    let etag = room["eTag"].as_str().unwrap();
    patch(b, "channels/shared", "", r#"{"name":"B"}"#, Some(etag))
        .await
        .ok();
    let stale = patch(a, "channels/shared", "", r#"{"name":"A"}"#, Some(etag)).await;
    assert_eq!(stale.status, 412, "{}", stale.body);

    // Listings see objects set through either node.
    set(b, "channels/other", &json!({"name": "Other"})).await;
    let listed = get(a, "channels", "count=true").await;
    assert_eq!(
        (ids(listed.ok()), &listed.body["totalCount"]),
        (vec!["other".to_owned(), "shared".to_owned()], &json!(2))
    );

    // Removed through B: gone through A.
    remove(b, "channels/shared", "", None).await.ok();
    eventually("the removal to be seen through A", TIMEOUT, || async {
        (get(a, "channels/shared", "").await.status == 404).then_some(())
    })
    .await;
}
