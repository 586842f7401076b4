//! PubNub message actions over plain HTTP (`/v1/message-actions/...`):
//! paging by action timetoken, the events subscribers get over SSE,
//! WebSocket and long-poll, history with actions, the permissions PubNub
//! maps them to, bad input, a restart, and two nodes of a cluster sharing
//! them (the cluster test needs `EDGEFN_NATS_SERVER`, see
//! [`edgefn_e2e::nats`]).

use edgefn_e2e::sse::Sse;
use edgefn_e2e::wait::{TIMEOUT, eventually};
use edgefn_e2e::*;
use reqwest::Method;

const ACTIONS: &str = "/v1/message-actions/demo/channel";

/// `POST .../channel/{channel}/message/{message}?{query}` with `body`.
async fn add_raw(node: &Node, channel: &str, message: &str, body: &str, query: &str) -> Answer {
    let url = node.url(&format!("{ACTIONS}/{channel}/message/{message}?{query}"));
    node.send(node.http().post(url).body(body.to_owned())).await
}

/// Adds `type`/`value` by `uuid`, asserting success; the action answered.
async fn add(
    node: &Node,
    channel: &str,
    message: &str,
    kind: &str,
    value: &str,
    uuid: &str,
) -> Value {
    let body = json!({"type": kind, "value": value}).to_string();
    let answer = add_raw(node, channel, message, &body, &format!("uuid={uuid}")).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["status"], 200, "{}", answer.body);
    let action = answer.body["data"].clone();
    assert_eq!(
        (
            &action["type"],
            &action["value"],
            &action["uuid"],
            &action["messageTimetoken"]
        ),
        (&json!(kind), &json!(value), &json!(uuid), &json!(message)),
        "{action}"
    );
    action
}

/// `GET .../channel/{channel}?{query}`.
async fn list(node: &Node, channel: &str, query: &str) -> Answer {
    node.get(&format!("{ACTIONS}/{channel}?{query}")).await
}

/// The action timetokens `GET .../channel/{channel}?{query}` answers.
async fn listed(node: &Node, channel: &str, query: &str) -> Vec<String> {
    timetokens(list(node, channel, query).await.ok())
}

fn timetokens(body: &Value) -> Vec<String> {
    body["data"]
        .as_array()
        .unwrap_or_else(|| panic!("no data in {body}"))
        .iter()
        .map(|a| {
            a["actionTimetoken"]
                .as_str()
                .expect("a timetoken")
                .to_owned()
        })
        .collect()
}

/// `DELETE .../message/{message}/action/{action}?{query}`.
async fn remove(node: &Node, channel: &str, message: &str, action: &str, query: &str) -> Answer {
    let url = node.url(&format!(
        "{ACTIONS}/{channel}/message/{message}/action/{action}?{query}"
    ));
    node.send(node.http().delete(url)).await
}

/// `GET /v3/history-with-actions/...` of one channel: its items.
async fn history_with_actions(node: &Node, channel: &str, query: &str) -> Answer {
    node.get(&format!(
        "/v3/history-with-actions/sub-key/demo/channel/{channel}?{query}"
    ))
    .await
}

/// Asserts a 400 in the actions service's shape whose message contains `part`.
#[track_caller]
fn assert_bad(answer: &Answer, part: &str) {
    assert_eq!(answer.status, 400, "{}", answer.body);
    let error = &answer.body["error"];
    assert_eq!(
        (&answer.body["status"], &error["source"]),
        (&json!(400), &json!("actions")),
        "{}",
        answer.body
    );
    let message = error["message"].as_str().unwrap_or_default();
    assert!(message.contains(part), "`{part}` not in {}", answer.body);
}

#[tokio::test]
async fn get_pages_the_newest_actions_first_with_more_links() {
    let node = Node::start().await;
    let message = node.publish("paged", &json!("react")).await;
    let mut all = Vec::new();
    for n in 0..7 {
        let action = add(&node, "paged", &message, "reaction", &format!("v{n}"), "u").await;
        all.push(action["actionTimetoken"].as_str().unwrap().to_owned());
    }
    let mut sorted = all.clone();
    sorted.sort();
    assert_eq!(all, sorted, "action timetokens increase");

    let everything = list(&node, "paged", "").await;
    assert_eq!(timetokens(everything.ok()), all);
    assert!(everything.body.get("more").is_none(), "{}", everything.body);

    // The newest 3, then older pages through the `more` links.
    let mut page = list(&node, "paged", "limit=3").await;
    let mut pages = Vec::new();
    loop {
        pages.push(timetokens(page.ok()));
        let Some(more) = page.body.get("more").cloned() else {
            break;
        };
        let oldest = pages.last().unwrap()[0].clone();
        assert_eq!(
            (&more["start"], &more["limit"]),
            (&json!(oldest), &json!(3)),
            "{more}"
        );
        page = node.get(more["url"].as_str().expect("a more url")).await;
    }
    assert_eq!(pages, [&all[4..], &all[1..4], &all[..1]]);

    // A range: end <= action timetoken < start.
    let range = format!("start={}&end={}", all[5], all[2]);
    assert_eq!(listed(&node, "paged", &range).await, &all[2..5]);
    let truncated = list(&node, "paged", &format!("{range}&limit=2")).await;
    assert_eq!(timetokens(truncated.ok()), &all[3..5]);
    let more = &truncated.body["more"];
    assert_eq!(
        (&more["start"], &more["end"]),
        (&json!(all[3]), &json!(all[2])),
        "{more}"
    );
    assert_eq!(
        listed(
            &node,
            "paged",
            more["url"].as_str().unwrap().split('?').nth(1).unwrap()
        )
        .await,
        &all[2..3]
    );

    // At most 100 per answer, however many are asked for.
    assert_eq!(listed(&node, "paged", "limit=5000").await, all);

    remove(&node, "paged", &message, &all[3], "uuid=u")
        .await
        .ok();
    let mut rest = all.clone();
    rest.remove(3);
    assert_eq!(listed(&node, "paged", "").await, rest);
    assert!(listed(&node, "other", "").await.is_empty());
}

/// The next poll's envelopes from `cursor` on `channel`, moving `cursor`.
async fn poll(node: &Node, channel: &str, cursor: &mut String) -> Vec<Value> {
    let answer = node
        .get(&format!(
            "/v2/subscribe/demo/{channel}/0?uuid=poller&tt={cursor}"
        ))
        .await;
    let body = answer.ok();
    *cursor = body["t"]["t"].as_str().expect("a cursor").to_owned();
    body["m"].as_array().expect("envelopes").clone()
}

#[tokio::test]
async fn subscribers_get_action_events_in_order_over_every_transport() {
    let node = Node::start().await;
    let (mut sse, _) = Sse::ready(&node, "ev", None).await;
    let mut ws = Ws::connect(&node).await;
    ws.call_ok(
        json!({"type": "subscribe", "channels": ["ev"]}),
        "subscribed",
    )
    .await;
    let handshake = node.get("/v2/subscribe/demo/ev/0?uuid=poller&tt=0").await;
    let mut cursor = handshake.ok()["t"]["t"].as_str().unwrap().to_owned();

    let first = node.publish("ev", &json!({"text": "one"})).await;
    let action = add(&node, "ev", &first, "reaction", "smile", "alice").await;
    let att = action["actionTimetoken"].as_str().unwrap();
    remove(&node, "ev", &first, att, "uuid=bob").await.ok();
    node.publish("ev", &json!({"text": "two"})).await;

    let event =
        |kind: &str| json!({"source": "actions", "version": "1.0", "event": kind, "data": action});
    let expected = [
        ("message", json!({"text": "one"})),
        ("action", event("added")),
        ("action", event("removed")),
        ("message", json!({"text": "two"})),
    ];
    for (kind, payload) in &expected {
        let got = sse.next_event().await;
        assert_eq!(
            (got.event.as_str(), &got.data["message"]),
            (*kind, payload),
            "{:?}",
            got
        );
        let publisher = if *kind == "action" {
            json!("alice")
        } else {
            Value::Null
        };
        assert_eq!(got.data["publisher"], publisher, "{:?}", got);
        let frame = ws.next_message().await;
        let view_kind = if *kind == "action" {
            "action"
        } else {
            "publish"
        };
        assert_eq!(
            (&frame["kind"], &frame["message"]),
            (&json!(view_kind), payload)
        );
    }
    let mut envelopes = Vec::new();
    while envelopes.len() < expected.len() {
        envelopes.extend(poll(&node, "ev", &mut cursor).await);
    }
    let got: Vec<(Value, Value)> = envelopes
        .iter()
        .map(|e| (e["e"].clone(), e["d"].clone()))
        .collect();
    let want: Vec<(Value, Value)> = expected
        .iter()
        .map(|(kind, d)| {
            (
                if *kind == "action" {
                    json!(3)
                } else {
                    Value::Null
                },
                d.clone(),
            )
        })
        .collect();
    assert_eq!(got, want);
    assert_eq!(envelopes[1]["i"], "alice");

    // Events are not history.
    let stored = node.history("ev", "").await;
    let texts: Vec<&Value> = stored.iter().map(|m| &m["message"]["text"]).collect();
    assert_eq!(texts, [&json!("one"), &json!("two")]);
}

#[tokio::test]
async fn history_with_actions_groups_them_by_type_and_value() {
    let node = Node::start().await;
    let first = node.publish("hist", &json!("first")).await;
    let second = node.publish("hist", &json!("second")).await;
    let smile = add(&node, "hist", &first, "reaction", "smile", "bob").await;
    let also = add(&node, "hist", &first, "reaction", "smile", "alice").await;
    let read = add(&node, "hist", &first, "receipt", "read", "bob").await;

    let answer = history_with_actions(&node, "hist", "include_uuid=true").await;
    let items = answer.ok()["channels"]["hist"].as_array().unwrap().clone();
    let author = |a: &Value| json!({"uuid": a["uuid"], "actionTimetoken": a["actionTimetoken"]});
    assert_eq!(items.len(), 2, "{}", answer.body);
    assert_eq!(
        (&items[0]["timetoken"], &items[1]["timetoken"]),
        (&json!(first), &json!(second))
    );
    assert_eq!(
        items[0]["actions"],
        json!({"reaction": {"smile": [author(&smile), author(&also)]}, "receipt": {"read": [author(&read)]}})
    );
    assert_eq!(items[1]["actions"], json!({}));
    // Plain history has no actions.
    let plain = node.get("/v3/history/sub-key/demo/channel/hist").await;
    assert!(plain.ok()["channels"]["hist"][0].get("actions").is_none());
}

#[tokio::test]
async fn actions_need_write_read_and_delete_on_the_channel() {
    let node = Node::start_secured("actions-secret").await;
    let token = |permissions: Value| {
        let node = &node;
        async move {
            node.grant(&json!({"ttl_minutes": 5, "channels": {"pam": permissions}}))
                .await
        }
    };
    let writer = token(json!(["write"])).await;
    let reader = token(json!(["read"])).await;
    let deleter = token(json!(["delete"])).await;
    let alice = node
        .grant(
            &json!({"ttl_minutes": 5, "authorized_uuid": "alice", "channels": {"pam": ["write"]}}),
        )
        .await;
    let body = json!({"type": "reaction", "value": "smile"}).to_string();
    let message = "17000000000000000";
    // Without a token: 403 naming what is missing; with one that lacks the
    // permission: 403 naming the channel.
    let forbidden = |answer: Answer| {
        assert_eq!(answer.status, 403, "{}", answer.body);
        assert_eq!(answer.body["service"], "Access Manager", "{}", answer.body);
        let payload = &answer.body["payload"];
        let named = payload["channels"] == json!(["pam"]) || payload["code"] == "token_missing";
        assert!(named, "{}", answer.body);
    };

    // Adding needs write.
    forbidden(add_raw(&node, "pam", message, &body, "uuid=bob").await);
    forbidden(
        add_raw(
            &node,
            "pam",
            message,
            &body,
            &format!("uuid=bob&auth={reader}"),
        )
        .await,
    );
    let added = add_raw(
        &node,
        "pam",
        message,
        &body,
        &format!("uuid=bob&auth={writer}"),
    )
    .await;
    let att = added.ok()["data"]["actionTimetoken"]
        .as_str()
        .unwrap()
        .to_owned();
    // A token bound to a uuid names the author when the request does not.
    let by_alice = json!({"type": "reaction", "value": "wave"}).to_string();
    let added = add_raw(&node, "pam", message, &by_alice, &format!("auth={alice}")).await;
    assert_eq!(added.ok()["data"]["uuid"], "alice");

    // Reading (and history with actions) needs read.
    forbidden(list(&node, "pam", "").await);
    forbidden(list(&node, "pam", &format!("auth={writer}")).await);
    forbidden(history_with_actions(&node, "pam", &format!("auth={writer}")).await);
    assert_eq!(
        listed(&node, "pam", &format!("auth={reader}")).await.len(),
        2
    );
    history_with_actions(&node, "pam", &format!("auth={reader}"))
        .await
        .ok();

    // Removing needs delete.
    for auth in [
        String::new(),
        format!("auth={reader}"),
        format!("auth={writer}"),
    ] {
        forbidden(remove(&node, "pam", message, &att, &auth).await);
    }
    assert_eq!(
        listed(&node, "pam", &format!("auth={reader}")).await.len(),
        2
    );
    let removed = remove(&node, "pam", message, &att, &format!("auth={deleter}")).await;
    assert_eq!(removed.ok(), &json!({"status": 200, "data": {}}));
    assert_eq!(
        listed(&node, "pam", &format!("auth={reader}")).await.len(),
        1
    );
}

#[tokio::test]
async fn bad_input_is_refused_and_limits_hold() {
    let config = "[pubnub]\nmax_actions_per_message = 2\nmax_actions_per_channel = 3\nmax_action_value_bytes = 8\n";
    let node = Node::start_with_config(config).await;
    let message = "17000000000000001";
    let raw = |message: &'static str, body: &'static str, query: &'static str| {
        let node = &node;
        async move { add_raw(node, "bad", message, body, query).await }
    };

    assert_bad(
        &raw("12ab", r#"{"type":"r","value":"v"}"#, "uuid=u").await,
        "timetoken",
    );
    assert_bad(
        &raw(
            "123456789012345678901",
            r#"{"type":"r","value":"v"}"#,
            "uuid=u",
        )
        .await,
        "timetoken",
    );
    assert_bad(&raw(message, "not json", "uuid=u").await, "Invalid action");
    assert_bad(
        &raw(message, r#"{"type":"r","value":7}"#, "uuid=u").await,
        "Invalid action",
    );
    assert_bad(
        &raw(message, r#"{"value":"v"}"#, "uuid=u").await,
        "Missing action type",
    );
    assert_bad(
        &raw(message, r#"{"type":"r","value":""}"#, "uuid=u").await,
        "Missing action value",
    );
    assert_bad(
        &raw(message, r#"{"type":"r","value":"v"}"#, "").await,
        "Missing uuid",
    );
    assert_bad(
        &raw(
            message,
            r#"{"type":"sixteen-chars-xx","value":"v"}"#,
            "uuid=u",
        )
        .await,
        "15 characters",
    );
    assert_bad(
        &raw(message, r#"{"type":"r","value":"nine-byte"}"#, "uuid=u").await,
        "max_action_value_bytes",
    );
    assert_bad(&list(&node, "bad", "start=yesterday").await, "start");
    assert_bad(&list(&node, "bad", "limit=many").await, "limit");
    assert_bad(
        &remove(&node, "bad", message, "x1", "uuid=u").await,
        "action timetoken",
    );
    let wrong_key = node
        .get("/v1/message-actions/not-the-key/channel/bad?uuid=u")
        .await;
    assert_eq!(wrong_key.status, 400, "{}", wrong_key.body);
    assert!(
        listed(&node, "bad", "").await.is_empty(),
        "nothing was written"
    );

    // The same action twice is a conflict; a message holds at most 2.
    let first = add(&node, "bad", message, "r", "a", "u").await;
    let again = raw(message, r#"{"type":"r","value":"a"}"#, "uuid=u").await;
    assert_eq!(again.status, 409, "{}", again.body);
    assert_eq!(
        again.body["error"]["message"], "Action Already Added",
        "{}",
        again.body
    );
    add(&node, "bad", message, "r", "b", "u").await;
    assert_bad(
        &raw(message, r#"{"type":"r","value":"c"}"#, "uuid=u").await,
        "max_actions_per_message",
    );

    // A channel keeps its newest 3: the oldest goes.
    let other = add(&node, "bad", "17000000000000002", "r", "a", "u").await;
    let newest = add(&node, "bad", "17000000000000003", "r", "a", "u").await;
    let kept = listed(&node, "bad", "").await;
    assert_eq!(kept.len(), 3);
    assert!(!kept.contains(&first["actionTimetoken"].as_str().unwrap().to_owned()));
    assert_eq!(
        kept[1..],
        [
            other["actionTimetoken"].as_str().unwrap(),
            newest["actionTimetoken"].as_str().unwrap()
        ]
    );
    // Removing one that is not there changes nothing.
    let gone = first["actionTimetoken"].as_str().unwrap();
    assert_eq!(
        remove(&node, "bad", message, gone, "uuid=u").await.ok()["data"],
        json!({})
    );
    assert_eq!(listed(&node, "bad", "").await, kept);
}

#[tokio::test]
async fn actions_survive_kill_9_and_a_restart() {
    let mut node = Node::start().await;
    let message = node.publish("kept", &json!("m")).await;
    let action = add(&node, "kept", &message, "receipt", "read", "u").await;
    node.kill9().await;
    node.restart().await;
    let after = list(&node, "kept", "").await;
    assert_eq!(after.ok()["data"], json!([action]));
}

#[tokio::test]
async fn cluster_nodes_share_actions_and_their_events() {
    let nats = NatsServer::start().await;
    let nodes = nats.start_nodes(2, "").await;
    let (a, b) = (&nodes[0], &nodes[1]);
    // An after-publish function on the channel counts its messages; action
    // events are no function's work.
    let spec = json!({"endpoint": true, "after_publish": ["shared"]});
    a.deploy_ok("counter", "counter", &spec).await;
    let (mut on_b, _) = Sse::ready(b, "shared", None).await;

    let message = a.publish("shared", &json!("hello")).await;
    let action = add(a, "shared", &message, "reaction", "smile", "alice").await;
    let att = action["actionTimetoken"].as_str().unwrap().to_owned();

    // B's subscriber gets the message, then the event; B reads the action.
    assert_eq!(on_b.next_message().await["message"], "hello");
    let event = on_b.next_event().await;
    assert_eq!(
        (event.event.as_str(), &event.data["message"]["event"]),
        ("action", &json!("added"))
    );
    assert_eq!(event.data["message"]["data"], action);
    assert_eq!(list(b, "shared", "").await.ok()["data"], json!([action]));
    let history = history_with_actions(b, "shared", "").await;
    let author = json!({"uuid": "alice", "actionTimetoken": att});
    assert_eq!(
        history.ok()["channels"]["shared"][0]["actions"],
        json!({"reaction": {"smile": [author]}})
    );

    // The duplicate check holds across nodes; concurrent additions through
    // both nodes all land, each with its own timetoken.
    let again = add_raw(
        b,
        "shared",
        &message,
        r#"{"type":"reaction","value":"smile"}"#,
        "uuid=alice",
    )
    .await;
    assert_eq!(again.status, 409, "{}", again.body);
    let message = message.as_str();
    let adds = (0..10).map(|n| {
        let node = if n % 2 == 0 { a } else { b };
        async move { add(node, "shared", message, "vote", &format!("v{n}"), "bob").await }
    });
    futures::future::join_all(adds).await;
    let mut on_a = listed(a, "shared", "").await;
    assert_eq!(on_a.len(), 11);
    on_a.dedup();
    assert_eq!(on_a.len(), 11, "action timetokens are distinct");

    // Removed through B: gone through A, and B's subscriber hears of it.
    remove(b, "shared", message, &att, "uuid=alice").await.ok();
    eventually("the removal to be seen through A", TIMEOUT, || async {
        (!listed(a, "shared", "").await.contains(&att)).then_some(())
    })
    .await;
    let removed = loop {
        let event = on_b.next_event().await;
        if event.data["message"]["event"] == "removed" {
            break event;
        }
    };
    assert_eq!(removed.data["message"]["data"], action);

    a.publish("shared", &json!("bye")).await;
    // Once its queue is drained, the function has counted both messages
    // and nothing else.
    let counted = eventually("the counter's queue to drain", TIMEOUT, || async {
        let status = a.admin(Method::GET, "/cluster").await;
        let queue = &status.body["after_publish"]["counter"];
        let drained = queue["waiting"] == 0 && queue["running"] == 0;
        let count = b.get("/v1/fn/counter/shared").await.body["count"].as_u64()?;
        (drained && count >= 2).then_some(count)
    })
    .await;
    assert_eq!(counted, 2, "the function ran for action events");
}
