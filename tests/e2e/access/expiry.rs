//! A token's lifetime ending: subscriptions that use it end within a
//! second of its expiry (SSE `error` event `token_expired`, WebSocket close
//! 4003), and from then on it is refused everywhere with `token_expired`.
//!
//! The shortest lifetime that can be granted is one minute, and tokens are
//! signed by the node, so this test waits for a real one-minute token to
//! expire. It is the suite's only slow test: its name sorts first so that
//! it starts with the first batch of tests and runs alongside all others.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use edgefn_e2e::wait::within;
use edgefn_e2e::*;

use super::Expect::Refused;
use super::{check, grant_on};

/// Milliseconds since the Unix epoch.
fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[tokio::test]
async fn a_one_minute_token_ends_its_subscriptions_when_it_expires() {
    let node = Node::start_secured("expiry-secret-key").await;
    let token = grant_on(&node, "exp.a", &["read", "write"], 1).await;
    let inspected = node.inspect(&token).await;
    assert_eq!(inspected["status"], "valid");
    let expires_ms = inspected["token"]["expires_at"]
        .as_u64()
        .expect("expires_at")
        * 1000;
    let auth = Auth::token(&token);
    let mut sse = Sse::ready_as(&node, "exp.a", &auth).await;
    let mut ws = Ws::connect_as(&node, &Auth::bearer(&token)).await;
    ws.call_ok(
        json!({"type": "subscribe", "channels": ["exp.a"]}),
        "subscribed",
    )
    .await;
    node.post_message_as(Op::Publish, "exp.a", r#"{"n":1}"#, &[], &auth)
        .await
        .ok();
    assert_eq!(sse.next_message().await["message"], json!({"n": 1}));
    assert_eq!(ws.next_message().await["message"], json!({"n": 1}));

    // Nothing more until the expiry (up to a minute away), then the end.
    let left = Duration::from_millis(expires_ms.saturating_sub(now_ms()));
    let end = sse.final_error_within(left + Duration::from_secs(5)).await;
    let ended_ms = now_ms();
    assert_eq!(end["code"], "token_expired", "{end}");
    assert!(
        ended_ms + 50 >= expires_ms && ended_ms < expires_ms + 1000,
        "the subscription ended at {ended_ms}, the token expired at {expires_ms}"
    );
    let closed = within(
        "the WebSocket to close",
        Duration::from_secs(1),
        ws.closed(),
    )
    .await;
    assert_eq!(closed, (4003, "token_expired".to_owned()));

    let expired = Refused("token_expired");
    check(&node, "expired", &auth, "exp.a", expired, expired).await;
    assert_eq!(node.inspect(&token).await["status"], "token_expired");
    let revoke = node
        .admin(reqwest::Method::DELETE, &format!("/tokens/{token}"))
        .await;
    revoke.error(403, "token_expired");
}
