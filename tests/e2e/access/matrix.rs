//! The access matrix: each kind of token (none, another channel's,
//! read-only, forged, another node's, malformed, revoked, pattern grants,
//! bound to a user) on each surface, with the exact status and code; pattern
//! grants are full-match regular expressions, compiled within limits. Off
//! by default: a node without a secret key takes no tokens at all.

use std::time::{Duration, Instant};

use edgefn_e2e::auth::{alter_permissions, base64url_encode};
use edgefn_e2e::*;

use super::Expect::{Allowed, Refused};
use super::{check, grant_on};

const SECRET_KEY: &str = "matrix-secret-key";

#[tokio::test]
async fn tokens_on_every_surface() {
    let node = Node::start_secured(SECRET_KEY).await;
    let read_write = grant_on(&node, "m.a", &["read", "write"], 5).await;
    let read_only = grant_on(&node, "m.a", &["read"], 5).await;
    let write_only = grant_on(&node, "m.a", &["write"], 5).await;
    let other_channel = grant_on(&node, "m.b", &["read", "write"], 5).await;
    let revoked = grant_on(&node, "m.a", &["read", "write"], 5).await;
    node.revoke(&revoked).await;
    // The read-only token edited to say read+write (bits 1 -> 3): the
    // signature no longer matches.
    let escalated = alter_permissions(&read_only, "m.a", 3);
    assert_eq!(
        node.inspect(&escalated).await["token"]["resources"]["channels"]["m.a"],
        json!(["read", "write"]),
        "the edit changed what the token says"
    );
    let other = Node::start_secured("another-nodes-key").await;
    let foreign = grant_on(&other, "m.a", &["read", "write"], 5).await;

    let cases = [
        (
            "no token",
            Auth::none(),
            Refused("token_missing"),
            Refused("token_missing"),
        ),
        ("read+write", Auth::token(&read_write), Allowed, Allowed),
        (
            "read+write as bearer",
            Auth::bearer(&read_write),
            Allowed,
            Allowed,
        ),
        (
            "read-only",
            Auth::token(&read_only),
            Allowed,
            Refused("forbidden"),
        ),
        (
            "read-only as bearer",
            Auth::bearer(&read_only),
            Allowed,
            Refused("forbidden"),
        ),
        (
            "write-only",
            Auth::token(&write_only),
            Refused("forbidden"),
            Allowed,
        ),
        (
            "another channel's",
            Auth::token(&other_channel),
            Refused("forbidden"),
            Refused("forbidden"),
        ),
        (
            "revoked",
            Auth::token(&revoked),
            Refused("token_revoked"),
            Refused("token_revoked"),
        ),
        (
            "altered",
            Auth::token(&escalated),
            Refused("token_invalid_signature"),
            Refused("token_invalid_signature"),
        ),
        (
            "another node's",
            Auth::token(&foreign),
            Refused("token_invalid_signature"),
            Refused("token_invalid_signature"),
        ),
        (
            "not base64",
            Auth::token("not*a*token"),
            Refused("token_malformed"),
            Refused("token_malformed"),
        ),
        (
            "not CBOR",
            Auth::token(&base64url_encode(b"hello")),
            Refused("token_malformed"),
            Refused("token_malformed"),
        ),
        (
            "truncated",
            Auth::token(&read_write[..read_write.len() / 2]),
            Refused("token_malformed"),
            Refused("token_malformed"),
        ),
        (
            "empty auth",
            Auth::token(""),
            Refused("token_missing"),
            Refused("token_missing"),
        ),
    ];
    for (case, auth, reads, writes) in &cases {
        check(&node, case, auth, "m.a", *reads, *writes).await;
    }
    // The same token is fine on its own channel.
    check(
        &node,
        "own channel",
        &Auth::token(&other_channel),
        "m.b",
        Allowed,
        Allowed,
    )
    .await;
    // The admin API says why each is refused.
    for (token, status) in [
        (&read_write, "valid"),
        (&revoked, "token_revoked"),
        (&escalated, "token_invalid_signature"),
        (&foreign, "token_invalid_signature"),
    ] {
        assert_eq!(node.inspect(token).await["status"], status);
    }
}

#[tokio::test]
async fn pattern_grants_match_whole_channel_names() {
    let node = Node::start_secured(SECRET_KEY).await;
    let readers = node
        .grant(&json!({"ttl_minutes": 5, "channel_patterns": {"chat\\..*": ["read"]}}))
        .await;
    let writers = node
        .grant(&json!({"ttl_minutes": 5, "channel_patterns": {"room-[0-9]+": ["read", "write"]}}))
        .await;
    let readers = Auth::token(&readers);
    let writers = Auth::token(&writers);
    for channel in ["chat.alice", "chat.public", "chat.a.b"] {
        check(
            &node,
            "reader",
            &readers,
            channel,
            Allowed,
            Refused("forbidden"),
        )
        .await;
    }
    for channel in ["chat", "xchat.a", "chatxa", "m.chat.a"] {
        check(
            &node,
            "reader elsewhere",
            &readers,
            channel,
            Refused("forbidden"),
            Refused("forbidden"),
        )
        .await;
    }
    check(&node, "writer", &writers, "room-42", Allowed, Allowed).await;
    for channel in ["room-", "room-4x", "xroom-4"] {
        check(
            &node,
            "writer elsewhere",
            &writers,
            channel,
            Refused("forbidden"),
            Refused("forbidden"),
        )
        .await;
    }

    // Patterns match in linear time (nested repetition is harmless), and
    // one whose compiled form would be too large is refused at grant time.
    let nested = node
        .grant(&json!({"ttl_minutes": 5, "channel_patterns": {"(a+)+b": ["read"]}}))
        .await;
    let started = Instant::now();
    let answer = node
        .history_as(&"a".repeat(92), &Auth::token(&nested))
        .await;
    answer.error(403, "forbidden");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    let request = node
        .http()
        .post(node.url("/v1/admin/tokens"))
        .bearer_auth(node.admin_key())
        .json(&json!({"ttl_minutes": 5, "channel_patterns": {"a{1000}{1000}": ["read"]}}));
    node.send(request).await.error(400, "invalid_grant");

    // A wildcard subscription is checked by its text (`chat.*` matches the
    // pattern); a grant on one channel does not cover the wildcard.
    let mut sse = Sse::ready_as(&node, "chat.*", &readers).await;
    let one = grant_on(&node, "chat.a", &["read", "write"], 5).await;
    let refused = Sse::open_as(&node, "chat.*", None, &Auth::token(&one)).await;
    let answer = refused
        .err()
        .expect("a wildcard subscription without a pattern grant");
    let error = answer.error(403, "forbidden");
    assert_eq!(error["channel"], "chat.*");
    assert_eq!(error["permission"], "read");
    node.post_message_as(Op::Publish, "chat.a", r#"{"n":1}"#, &[], &Auth::token(&one))
        .await
        .ok();
    let message = sse.next_message().await;
    assert_eq!(message["channel"], "chat.a");
    assert_eq!(message["message"], json!({"n": 1}));
}

#[tokio::test]
async fn tokens_bound_to_a_user_need_that_client_id() {
    let node = Node::start_secured(SECRET_KEY).await;
    let alice = node
        .grant(&json!({"ttl_minutes": 5, "authorized_uuid": "alice", "channels": {"u.a": ["read", "write"]}}))
        .await;
    let wrong = Refused("token_wrong_user");
    check(
        &node,
        "as alice",
        &Auth::token(&alice).uuid("alice"),
        "u.a",
        Allowed,
        Allowed,
    )
    .await;
    check(
        &node,
        "as bob",
        &Auth::token(&alice).uuid("bob"),
        "u.a",
        wrong,
        wrong,
    )
    .await;
    check(
        &node,
        "bearer as bob",
        &Auth::bearer(&alice).uuid("bob"),
        "u.a",
        wrong,
        wrong,
    )
    .await;
    // Without a client id, the token's user is assumed: messages say alice.
    check(
        &node,
        "no client id",
        &Auth::token(&alice),
        "u.a",
        Allowed,
        Allowed,
    )
    .await;
    let answer = node.history_as("u.a", &Auth::token(&alice)).await;
    let publishers: Vec<&Value> = answer.ok()["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| &m["publisher"])
        .collect();
    assert!(
        !publishers.is_empty() && publishers.iter().all(|p| *p == "alice"),
        "{publishers:?}"
    );
    // Naming another publisher than the token's user is refused too.
    let answer = node
        .post_message_as(
            Op::Publish,
            "u.a",
            "1",
            &[("publisher", "mallory")],
            &Auth::token(&alice),
        )
        .await;
    assert!(answer.message(403, "token_wrong_user").contains("alice"));
}

#[tokio::test]
async fn without_a_secret_key_access_control_is_off() {
    let node = Node::start().await;
    check(
        &node,
        "dev node, no token",
        &Auth::none(),
        "d.a",
        Allowed,
        Allowed,
    )
    .await;
    check(
        &node,
        "dev node, any text",
        &Auth::token("junk"),
        "d.a",
        Allowed,
        Allowed,
    )
    .await;
    // And it cannot issue tokens.
    let request = node
        .http()
        .post(node.url("/v1/admin/tokens"))
        .bearer_auth(node.admin_key())
        .json(&json!({"ttl_minutes": 5, "channels": {"d.a": ["read"]}}));
    let answer = node.send(request).await;
    assert!(
        answer
            .message(409, "no_secret_key")
            .contains("--secret-key")
    );
}
