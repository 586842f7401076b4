//! Revocation: a revoked token is refused everywhere from then on, and the
//! subscriptions that use it (SSE, with the token as `?auth=` or a Bearer
//! header, and WebSocket) end within a second: SSE with an `error` event
//! `token_revoked`, WebSocket with close code 4003. Subscriptions with
//! other tokens go on. A publish whose token is revoked while its body is
//! still arriving is refused (the token is verified once, before the body,
//! and checked for revocation again after). Also the `edgefn token
//! grant|parse|revoke` commands.
//! (Revocations surviving `kill -9` are in `restart`.)

use std::time::{Duration, Instant};

use edgefn_e2e::cli::{command, run};
use edgefn_e2e::hostile::{Outcome, RawClient};
use edgefn_e2e::wait::within;
use edgefn_e2e::*;

use super::Expect::{Allowed, Refused};
use super::{check, grant_on};

const SECRET_KEY: &str = "revocation-secret-key";
const WITHIN: Duration = Duration::from_secs(1);

/// A WebSocket presenting `auth`, subscribed to `channel`.
async fn ws_subscribed(node: &Node, auth: &Auth, channel: &str) -> Ws {
    let mut ws = Ws::connect_as(node, auth).await;
    ws.call_ok(
        json!({"type": "subscribe", "channels": [channel]}),
        "subscribed",
    )
    .await;
    ws
}

#[tokio::test]
async fn revoking_ends_open_subscriptions_within_a_second() {
    let node = Node::start_secured(SECRET_KEY).await;
    let doomed = grant_on(&node, "rv.a", &["read", "write"], 5).await;
    let kept = grant_on(&node, "rv.a", &["read", "write"], 5).await;
    let mut by_query = Sse::ready_as(&node, "rv.a", &Auth::token(&doomed)).await;
    let mut by_header = Sse::ready_as(&node, "rv.a", &Auth::bearer(&doomed)).await;
    let mut ws_query = ws_subscribed(&node, &Auth::token(&doomed), "rv.a").await;
    let mut ws_header = ws_subscribed(&node, &Auth::bearer(&doomed), "rv.a").await;
    let mut survivor = Sse::ready_as(&node, "rv.a", &Auth::token(&kept)).await;
    let mut ws_survivor = ws_subscribed(&node, &Auth::token(&kept), "rv.a").await;
    let kept = Auth::token(&kept);
    node.post_message_as(Op::Publish, "rv.a", r#"{"n":1}"#, &[], &kept)
        .await
        .ok();
    for sse in [&mut by_query, &mut by_header, &mut survivor] {
        assert_eq!(sse.next_message().await["message"], json!({"n": 1}));
    }
    for ws in [&mut ws_query, &mut ws_header, &mut ws_survivor] {
        assert_eq!(ws.next_message().await["message"], json!({"n": 1}));
    }

    node.revoke(&doomed).await;
    let revoked = Instant::now();
    for sse in [&mut by_query, &mut by_header] {
        let end = sse.final_error_within(WITHIN).await;
        assert_eq!(end["code"], "token_revoked", "{end}");
        assert!(
            end["message"]
                .as_str()
                .is_some_and(|m| m.contains("revoked"))
        );
    }
    for ws in [&mut ws_query, &mut ws_header] {
        let closed = within("the WebSocket to close", WITHIN, ws.closed()).await;
        assert_eq!(closed, (4003, "token_revoked".to_owned()));
    }
    assert!(
        revoked.elapsed() < WITHIN,
        "disconnected after {:?}",
        revoked.elapsed()
    );

    // The others go on; the revoked token is refused everywhere.
    node.post_message_as(Op::Publish, "rv.a", r#"{"n":2}"#, &[], &kept)
        .await
        .ok();
    assert_eq!(survivor.next_message().await["message"], json!({"n": 2}));
    assert_eq!(ws_survivor.next_message().await["message"], json!({"n": 2}));
    let refused = Refused("token_revoked");
    check(
        &node,
        "revoked",
        &Auth::token(&doomed),
        "rv.a",
        refused,
        refused,
    )
    .await;
}

#[tokio::test]
async fn tokens_from_the_cli() {
    let node = Node::start_secured(SECRET_KEY).await;
    let granted = node
        .cli(&[
            "token",
            "grant",
            "--ttl",
            "5",
            "--user",
            "dave",
            "--channel",
            "cli.a=read,write",
            "--pattern",
            r"cli\.b\..*=read",
            "--group",
            "cli-group=read,manage",
            "--uuid",
            "dave=get,update",
            "--category",
            "channels=get",
            "--meta",
            r#"{"team": "ops"}"#,
        ])
        .await;
    let token = granted.ok().trim().to_owned();

    // `token parse` needs no node.
    let parsed = run(command(["token", "parse", &token])).await;
    let parsed: Value = serde_json::from_str(parsed.ok()).expect("token parse prints JSON");
    assert_eq!(parsed["ttl_minutes"], 5);
    assert_eq!(parsed["authorized_uuid"], "dave");
    assert_eq!(
        parsed["resources"]["channels"],
        json!({"cli.a": ["read", "write"]})
    );
    assert_eq!(
        parsed["patterns"]["channels"],
        json!({r"cli\.b\..*": ["read"]})
    );
    assert_eq!(
        parsed["resources"]["groups"],
        json!({"cli-group": ["read", "manage"]})
    );
    assert_eq!(
        parsed["resources"]["uuids"],
        json!({"dave": ["get", "update"]})
    );
    assert_eq!(parsed["categories"]["channels"], json!(["get"]));
    assert_eq!(parsed["categories"]["uuids"], json!([]));
    assert_eq!(parsed["meta"], json!({"team": "ops"}));
    let issued = parsed["issued_at"].as_u64().unwrap();
    assert_eq!(parsed["expires_at"], issued + 300);

    let dave = Auth::token(&token).uuid("dave");
    check(
        &node,
        "granted by the CLI",
        &dave,
        "cli.a",
        Allowed,
        Allowed,
    )
    .await;
    check(
        &node,
        "its pattern",
        &dave,
        "cli.b.x",
        Allowed,
        Refused("forbidden"),
    )
    .await;
    let mut sse = Sse::ready_as(&node, "cli.a", &dave).await;
    let revoked = node.cli(&["token", "revoke", &token]).await;
    assert_eq!(revoked.ok().trim(), "revoked");
    let end = sse.final_error_within(WITHIN).await;
    assert_eq!(end["code"], "token_revoked");

    // Mistakes are reported, and change nothing.
    for (args, says) in [
        (
            &["token", "grant", "--channel", "cli.a=fly"][..],
            "unknown permission",
        ),
        (
            &["token", "grant", "--ttl", "0", "--channel", "cli.a=read"],
            "between 1 and 43200",
        ),
        (
            &["token", "grant", "--pattern", "(=read"],
            "not a valid regular expression",
        ),
        (&["token", "grant", "--ttl", "5"], "at least one"),
        (
            &["token", "grant", "--category", "groups=get"],
            "unknown category `groups`",
        ),
        (
            &["token", "grant", "--category", "uuids=get,update"],
            "may grant only `get`",
        ),
        (&["token", "revoke", "garbage"], "malformed"),
        (&["token", "parse", "garbage"], "malformed"),
    ] {
        let output = node.cli(args).await;
        let stderr = output.failed();
        assert!(
            stderr.contains(says),
            "`edgefn {}`: {stderr}",
            args.join(" ")
        );
    }
}

#[tokio::test]
async fn a_token_revoked_while_the_publish_body_arrives_is_refused() {
    let node = Node::start_secured(SECRET_KEY).await;
    let token = node
        .grant(&json!({"ttl_minutes": 5, "channels": {"slow": ["write"]}}))
        .await;
    // The head and half the body: the node verifies the token for the
    // rate limit, then waits for the rest of the body.
    let body = r#"{"text":"sent slowly"}"#;
    let (first, rest) = body.split_at(8);
    let mut client = RawClient::connect(&node).await;
    let head = format!(
        "POST /v1/publish/slow HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {token}\r\n\
         content-type: application/json\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{first}",
        body.len()
    );
    client.send(head.as_bytes()).await;
    node.revoke(&token).await;
    client.send(rest.as_bytes()).await;
    match client.outcome_within(wait::TIMEOUT).await {
        Outcome::Answered(text) => {
            assert!(text.starts_with("HTTP/1.1 403"), "{text}");
            assert!(text.contains("token_revoked"), "{text}");
        }
        other => panic!("no answer to the publish: {other:?}"),
    }
}
