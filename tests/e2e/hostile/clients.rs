//! Hostile clients: oversized bodies, heads, URLs and WebSocket frames;
//! too many channels per subscription and per connection; publishing past
//! the rate limits (per address, per verified token's user; checked before
//! the body is read); the admin API without its key.

use std::time::Duration;

use edgefn_e2e::hostile::{Outcome, RawClient};
use edgefn_e2e::ws::Ended;
use edgefn_e2e::*;
use reqwest::Method;

use super::while_good;

#[tokio::test]
async fn oversized_bodies_are_413_with_a_json_error() {
    let node = Node::start_with_config(
        "[http]\nmax_publish_body = 1024\nmax_endpoint_body = 2048\nmax_deploy_body = 1048576\n",
    )
    .await;
    node.deploy_good().await;
    node.deploy_hostile("ep", "ok", json!({"endpoint": true}), json!({}))
        .await;
    while_good(&node, async {
        let body = format!("\"{}\"", "x".repeat(2000));
        let answer = node.post_message(Op::Publish, "big.body", body, &[]).await;
        let message = answer.message(413, "too_large");
        assert!(message.contains("larger than 1024 bytes"), "{message}");

        let answer = node
            .send(
                node.http()
                    .post(node.url("/v1/fn/ep/x"))
                    .body(vec![b'y'; 4096]),
            )
            .await;
        let message = answer.message(413, "too_large");
        assert!(message.contains("larger than 2048 bytes"), "{message}");

        let answer = node
            .deploy_bytes("huge", &json!({"endpoint": true}), vec![0; 8 << 20])
            .await;
        assert_eq!(answer.status, 413, "{}", answer.body);
        assert!(
            answer.body["error"]["code"].is_string(),
            "not a JSON error: {}",
            answer.body
        );
    })
    .await;
    assert!(node.history("big.body", "").await.is_empty());
}

#[tokio::test]
async fn oversized_heads_and_urls_are_431_and_the_connection_closes() {
    let node = Node::start().await;
    node.deploy_good().await;
    let big_header = format!(
        "GET /healthz HTTP/1.1\r\nhost: x\r\nx-big: {}\r\n\r\n",
        "a".repeat(20 * 1024)
    );
    let many_headers = format!(
        "GET /healthz HTTP/1.1\r\nhost: x\r\n{}\r\n",
        (0..150)
            .map(|i| format!("x-h{i}: 1\r\n"))
            .collect::<String>()
    );
    let long_url = format!(
        "GET /v1/history/{} HTTP/1.1\r\nhost: x\r\n\r\n",
        "a".repeat(20 * 1024)
    );
    // SSE subscribes are served by their own connection code
    // (`event_stream.rs`), held to the same limits; one that carries a
    // body is a 400.
    let subscribe = |request: &str| request.replace("GET /healthz", "GET /v1/subscribe/a");
    let (big_subscribe, many_subscribe) = (subscribe(&big_header), subscribe(&many_headers));
    let long_subscribe = long_url.replace("/v1/history/", "/v1/subscribe/");
    while_good(&node, async {
        for (what, request) in [
            ("a 20 KiB header", &big_header),
            ("150 headers", &many_headers),
            ("a 20 KiB URL", &long_url),
            ("a subscribe with a 20 KiB header", &big_subscribe),
            ("a subscribe with 150 headers", &many_subscribe),
            ("a subscribe to a 20 KiB URL", &long_subscribe),
        ] {
            let mut client = RawClient::connect(&node).await;
            client.send(request.as_bytes()).await;
            match client.outcome_within(wait::TIMEOUT).await {
                Outcome::Answered(text) => {
                    assert!(text.starts_with("HTTP/1.1 431"), "{what}: {text}");
                    assert!(text.contains("connection: close"), "{what}: {text}");
                }
                other => panic!("{what}: no answer ({other:?})"),
            }
        }
        let mut client = RawClient::connect(&node).await;
        client
            .send(b"GET /v1/subscribe/a HTTP/1.1\r\nhost: x\r\ncontent-length: 3\r\n\r\nabc")
            .await;
        match client.outcome_within(wait::TIMEOUT).await {
            Outcome::Answered(text) => {
                assert!(text.starts_with("HTTP/1.1 400"), "{text}");
                assert!(text.contains("unexpected_body"), "{text}");
            }
            other => panic!("a subscribe with a body: no answer ({other:?})"),
        }
    })
    .await;
}

#[tokio::test]
async fn an_oversized_websocket_frame_closes_with_1009() {
    let node = Node::start_with_config("[http]\nmax_ws_frame = 1024\n").await;
    node.deploy_good().await;
    let mut ws = Ws::connect(&node).await;
    ws.call_ok(
        json!({"type": "subscribe", "channels": ["a"]}),
        "subscribed",
    )
    .await;
    let ended = while_good(&node, async {
        let frame = json!({"type": "publish", "channel": "a", "message": "x".repeat(2048)});
        ws.send(&frame).await;
        ws.next_frame().await
    })
    .await;
    match ended {
        Err(Ended::Closed(Some(close))) => {
            assert_eq!(u16::from(close.code), 1009, "closed with {close:?}");
        }
        other => panic!(
            "a 2 KiB frame over the 1 KiB limit should close the WebSocket with 1009 (message too big); got {other:?}"
        ),
    }
    assert!(node.history("a", "").await.is_empty());
}

#[tokio::test]
async fn channels_per_subscription_and_per_connection_are_capped() {
    let node = Node::start_with_config("[http]\nmax_patterns_per_subscriber = 4\n").await;
    node.deploy_good().await;
    while_good(&node, async {
        let (_sse, _) = Sse::ready(&node, "a,b,c.*,d", None).await;
        let answer = Sse::open(&node, "a,b,c,d,e", None)
            .await
            .err()
            .expect("5 accepted");
        let message = answer.message(400, "too_many_channels");
        assert!(message.contains("at most 4"), "{message}");

        let mut ws = Ws::connect(&node).await;
        ws.call_ok(
            json!({"type": "subscribe", "channels": ["a", "b", "c"]}),
            "subscribed",
        )
        .await;
        let answer = ws
            .call(json!({"type": "subscribe", "channels": ["d", "e"]}))
            .await;
        assert_eq!(answer["type"], "error", "{answer}");
        assert_eq!(answer["error"]["code"], "too_many_channels", "{answer}");
        let held = ws
            .call_ok(
                json!({"type": "subscribe", "channels": ["d"]}),
                "subscribed",
            )
            .await;
        assert_eq!(held["channels"], json!(["a", "b", "c", "d"]));
        let answer = ws
            .call(json!({"type": "subscribe", "channels": ["x.*"]}))
            .await;
        assert_eq!(answer["error"]["code"], "too_many_channels", "{answer}");

        let pubnub = node.get("/v2/subscribe/demo/a,b,c,d,e/0?uuid=u").await;
        assert_eq!(pubnub.status, 400, "{}", pubnub.body);
    })
    .await;
}

/// Publishes `{"n": i}` to `channel` presenting `auth` until the first
/// refusal (at most `limit` tries); the number of successes and the refusal.
async fn publish_until_limited(
    node: &Node,
    channel: &str,
    auth: &Auth,
    limit: usize,
) -> (usize, Answer) {
    for i in 0..limit {
        let answer = node
            .post_message_as(Op::Publish, channel, json!({"n": i}).to_string(), &[], auth)
            .await;
        if answer.status != 200 {
            return (i, answer);
        }
    }
    panic!("{limit} publishes to {channel} and none refused");
}

/// Checks a 429: JSON body, `Retry-After` of at least a second, the limit
/// named.
#[track_caller]
fn assert_limited(answer: &Answer, by: &str) -> u64 {
    let error = answer.error(429, "rate_limited");
    assert_eq!(error["retryable"], true);
    let message = error["message"].as_str().unwrap();
    assert!(message.contains(&format!("from this {by}")), "{message}");
    let retry: u64 = answer
        .headers
        .get("retry-after")
        .expect("no Retry-After")
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry >= 1, "Retry-After: {retry}");
    retry
}

#[tokio::test]
async fn publishes_past_the_address_limit_get_429_with_retry_after() {
    let node = Node::start_with_config(
        "[http]\npublish_rate_per_address = 5\npublish_burst_secs = 1\nmax_publish_body = 1024\n",
    )
    .await;
    let (ok, refused) = publish_until_limited(&node, "rated", &Auth::none(), 50).await;
    assert!(ok >= 5, "refused after {ok} publishes: {}", refused.body);
    let retry = assert_limited(&refused, "address");
    // The limit is checked before the body is read: a limited client's
    // oversized body is answered 429, not read to find it 413.
    let big = format!("\"{}\"", "x".repeat(2000));
    let answer = node.post_message(Op::Publish, "rated", big, &[]).await;
    assert_limited(&answer, "address");
    assert_eq!(
        answer
            .headers
            .get("connection")
            .map(|v| v.to_str().unwrap()),
        Some("close")
    );

    // The other ways in count against the same address and are refused
    // the same way (the bucket refills meanwhile, so each goes on until
    // its first refusal); nothing refused is stored.
    let mut ws = Ws::connect(&node).await;
    let mut ws_ok = 0;
    loop {
        let answer = ws
            .call(json!({"type": "publish", "channel": "rated", "message": ws_ok}))
            .await;
        if answer["type"] == "published" {
            ws_ok += 1;
            assert!(ws_ok < 50, "50 WebSocket publishes and none refused");
            continue;
        }
        assert_eq!(answer["error"]["code"], "rate_limited", "{answer}");
        assert_eq!(answer["error"]["retryable"], true, "{answer}");
        break;
    }
    let mut pubnub_ok = 0;
    loop {
        let url = node.url(&format!("/publish/demo/demo/0/rated/0/{pubnub_ok}?uuid=u"));
        let answer = node.send(node.http().get(url)).await;
        if answer.status == 200 {
            pubnub_ok += 1;
            assert!(pubnub_ok < 50, "50 PubNub publishes and none refused");
            continue;
        }
        assert_eq!(answer.status, 429, "{}", answer.body);
        assert!(
            answer.headers.contains_key("retry-after"),
            "{:?}",
            answer.headers
        );
        break;
    }
    assert_eq!(
        node.history("rated", "limit=200").await.len(),
        ok + ws_ok + pubnub_ok,
        "a refused publish was stored"
    );
    // Each refusal counted: the first, the big body, WebSocket, PubNub.
    assert_eq!(rate_refusals(&node, "address").await, 4.0);
    assert_eq!(rate_refusals(&node, "user").await, 0.0);

    tokio::time::sleep(Duration::from_secs(retry)).await;
    node.publish("rated", &json!({"after": "waiting"})).await;
}

/// Publishes the rate limits refused, counted against `key`, in `/metrics`.
async fn rate_refusals(node: &Node, key: &str) -> f64 {
    node.metric("edgefn_rate_limit_refusals_total", &[("key", key)])
        .await
}

#[tokio::test]
async fn verified_tokens_have_their_own_limits_and_made_up_ones_none() {
    // An address gets one publish a second, a token's user three.
    let config = "[http]\npublish_rate_per_address = 1\npublish_rate_per_token = 3\npublish_burst_secs = 1\n";
    let options = NodeOptions {
        secret_key: Some("limits-secret".into()),
        ..NodeOptions::default()
    };
    let node = Node::start_configured(config, options).await;
    let grant = |uuid: &str| json!({"ttl_minutes": 5, "authorized_uuid": uuid, "channels": {"tok": ["write"]}});
    let alice_token = node.grant(&grant("alice")).await;
    let alice = Auth::bearer(&alice_token).uuid("alice");
    let bob = Auth::bearer(&node.grant(&grant("bob")).await).uuid("bob");
    let (ok, refused) = publish_until_limited(&node, "tok", &alice, 50).await;
    assert!(ok >= 3, "refused after {ok}: {}", refused.body);
    assert_limited(&refused, "user");

    // Made-up tokens buy no bucket of their own: they count against the
    // address, which soon refuses them (before access control says 403).
    let mut limited = None;
    for n in 0..20 {
        let forged = Auth::bearer(&format!("made-up-token-{n}"));
        let answer = node
            .post_message_as(Op::Publish, "tok", "1", &[], &forged)
            .await;
        if answer.status == 429 {
            limited = Some(answer);
            break;
        }
        assert_eq!(answer.status, 403, "{}", answer.body);
    }
    assert_limited(
        &limited.expect("20 made-up tokens and none limited"),
        "address",
    );

    assert_eq!(rate_refusals(&node, "user").await, 1.0);
    assert_eq!(rate_refusals(&node, "address").await, 1.0);

    // Bob, from the same address, has his own allowance.
    for i in 0..3 {
        let answer = node
            .post_message_as(Op::Publish, "tok", json!({"b": i}).to_string(), &[], &bob)
            .await;
        assert_eq!(answer.status, 200, "bob's publish {i}: {}", answer.body);
    }
    assert!(
        !refused.body.to_string().contains(&alice_token),
        "the token was echoed: {}",
        refused.body
    );
}

#[tokio::test]
async fn the_admin_api_refuses_everything_without_the_key_and_never_echoes_it() {
    const ADMIN: &str = "admin-key-7f3a9c-never-shown";
    const SIGNING: &str = "signing-key-51be20-never-shown";
    const SECRET: &str = "api-secret-c0ffee-never-shown";
    const WRONG: &str = "wrong-key-4d4d-never-shown";
    let node = Node::start_with(NodeOptions {
        admin_key: AdminKey::Flag(ADMIN.into()),
        secret_key: Some(SIGNING.into()),
        log_filter: Some("debug".into()),
        ..NodeOptions::default()
    })
    .await;
    node.deploy_ok(
        "keeper",
        "hostile",
        &json!({"endpoint": true, "secrets": {"API_KEY": SECRET}}),
    )
    .await;
    let token = node
        .grant(&json!({"ttl_minutes": 10, "channels": {"a": ["read"]}}))
        .await;
    let routes = [
        (Method::GET, "/v1/admin/functions".to_owned()),
        (Method::GET, "/v1/admin/functions/keeper".to_owned()),
        (Method::PUT, "/v1/admin/functions/keeper".to_owned()),
        (Method::DELETE, "/v1/admin/functions/keeper".to_owned()),
        (Method::GET, "/v1/admin/functions/keeper/logs".to_owned()),
        (
            Method::GET,
            "/v1/admin/functions/keeper/logs?follow=true".to_owned(),
        ),
        (Method::POST, "/v1/admin/tokens".to_owned()),
        (Method::GET, format!("/v1/admin/tokens/{token}")),
        (Method::DELETE, format!("/v1/admin/tokens/{token}")),
        (Method::GET, "/v1/admin/kv".to_owned()),
        (Method::GET, "/v1/admin/kv/k".to_owned()),
        (Method::PUT, "/v1/admin/kv/k".to_owned()),
        (Method::DELETE, "/v1/admin/kv/k".to_owned()),
    ];
    for (method, path) in &routes {
        let url = node.url(path);
        let request = || node.http().request(method.clone(), &url).body("{}");
        let attempts = [
            ("no key", request()),
            ("a wrong bearer key", request().bearer_auth(WRONG)),
            (
                "a wrong header key",
                request().header("x-edgefn-admin-key", WRONG),
            ),
            (
                "the key with a suffix",
                request().bearer_auth(format!("{ADMIN}x")),
            ),
            (
                "a prefix of the key",
                request().bearer_auth(&ADMIN[..ADMIN.len() - 1]),
            ),
            (
                "the key without Bearer",
                request().header("authorization", ADMIN),
            ),
            (
                "the key in the query",
                node.http().request(
                    method.clone(),
                    format!(
                        "{url}{}auth={ADMIN}",
                        if url.contains('?') { '&' } else { '?' }
                    ),
                ),
            ),
            ("the signing key", request().bearer_auth(SIGNING)),
        ];
        for (what, attempt) in attempts {
            let answer = node.send(attempt).await;
            answer.error(401, "unauthorized");
            let body = answer.body.to_string();
            for shown in [ADMIN, WRONG, SIGNING, SECRET] {
                assert!(
                    !body.contains(shown),
                    "{method} {path} with {what}: the answer shows {shown}: {body}"
                );
            }
        }
    }
    // Nothing was changed by the refused requests.
    assert_eq!(node.show("keeper").await["version"], 1);
    let shown = node.admin(Method::GET, "/functions/keeper").await;
    assert!(!shown.body.to_string().contains(SECRET));
    // The node's own output (at debug level) shows none of them either.
    let output = format!("{}\n{}", node.stdout(), node.stderr());
    for (name, shown) in [
        ("admin key", ADMIN),
        ("wrong key", WRONG),
        ("signing key", SIGNING),
        ("secret", SECRET),
    ] {
        assert!(!output.contains(shown), "the node's log shows the {name}");
    }
}
