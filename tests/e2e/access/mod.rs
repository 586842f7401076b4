//! Access control on the bus, on a node started with `--secret-key`: every
//! publish, fire, signal, subscription (SSE and WebSocket) and history read
//! needs a token that covers the channel, presented as `?auth=` or
//! `Authorization: Bearer`, by the client it is bound to (`uuid`).
//! Refusals are 403 with a code per reason (and, for `forbidden`, the
//! missing permission and the channel); over WebSocket they are error
//! frames with the same body.
//!
//! - [`expiry`]: a token's lifetime ending (the one slow test: it waits out
//!   a one-minute token, so it is named to start first);
//! - [`here_now`]: global here now answers only the channels a token reads;
//! - [`matrix`]: each kind of token on each surface;
//! - [`revocation`]: revoking ends open subscriptions within a second; the
//!   `edgefn token` commands;
//! - [`signatures`]: secret-key signatures on the PubNub API, v1 only on
//!   reads.

mod expiry;
mod here_now;
mod matrix;
mod revocation;
mod signatures;

use std::sync::atomic::{AtomicU64, Ordering};

use edgefn_e2e::check::short;
use edgefn_e2e::*;

/// What a surface should answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// The request goes through.
    Allowed,
    /// 403 with this code (`forbidden` also names the permission the
    /// surface needs and the channel).
    Refused(&'static str),
}

/// Checks every surface for a client presenting `auth` on `channel`: the
/// reading ones (SSE and WebSocket subscribe, history) answer `reads`, the
/// writing ones (publish, fire, signal, WebSocket publish) `writes`. `case`
/// names the check in failures.
pub async fn check(
    node: &Node,
    case: &str,
    auth: &Auth,
    channel: &str,
    reads: Expect,
    writes: Expect,
) {
    // Server-Sent Events.
    match (Sse::open_as(node, channel, None, auth).await, reads) {
        (Ok(mut sse), Expect::Allowed) => {
            sse.until_ready().await;
        }
        (Ok(_), Expect::Refused(code)) => panic!("{case}: SSE subscribe allowed, expected {code}"),
        (Err(answer), expected) => {
            refused(case, "SSE subscribe", &answer, expected, "read", channel)
        }
    }
    // History.
    let answer = node.history_as(channel, auth).await;
    match reads {
        Expect::Allowed => assert_eq!(answer.status, 200, "{case}: history: {}", answer.body),
        expected => refused(case, "history", &answer, expected, "read", channel),
    }
    // Publish, fire, signal.
    for op in [Op::Publish, Op::Fire, Op::Signal] {
        let answer = node
            .post_message_as(op, channel, r#""hi""#, &[], auth)
            .await;
        match writes {
            Expect::Allowed => assert_eq!(answer.status, 200, "{case}: {op:?}: {}", answer.body),
            expected => refused(
                case,
                &format!("{op:?}"),
                &answer,
                expected,
                "write",
                channel,
            ),
        }
    }
    // WebSocket: one connection, a subscribe frame and a publish frame.
    let mut ws = Ws::connect_as(node, auth).await;
    let frames = [
        (
            json!({"type": "subscribe", "channels": [channel]}),
            "subscribed",
            reads,
            "read",
        ),
        (
            json!({"type": "publish", "channel": channel, "message": "hi"}),
            "published",
            writes,
            "write",
        ),
    ];
    for (frame, success, expected, permission) in frames {
        let answer = ws.call(frame.clone()).await;
        let what = format!("WebSocket {}", frame["type"]);
        match expected {
            Expect::Allowed => assert_eq!(
                answer["type"],
                success,
                "{case}: {what}: {}",
                short(&answer)
            ),
            Expect::Refused(code) => {
                assert_eq!(
                    answer["type"],
                    "error",
                    "{case}: {what}: {}",
                    short(&answer)
                );
                assert_refusal(case, &what, &answer["error"], code, permission, channel);
            }
        }
    }
}

/// Asserts that `answer` is the 403 refusal `expected`.
#[track_caller]
fn refused(
    case: &str,
    what: &str,
    answer: &Answer,
    expected: Expect,
    permission: &str,
    channel: &str,
) {
    let Expect::Refused(code) = expected else {
        panic!("{case}: {what} refused: {} {}", answer.status, answer.body);
    };
    assert_eq!(answer.status, 403, "{case}: {what}: {}", answer.body);
    assert_refusal(
        case,
        what,
        answer.error(403, code),
        code,
        permission,
        channel,
    );
}

/// Checks a refusal's error object: its code, and for `forbidden` the
/// permission and channel it names.
#[track_caller]
fn assert_refusal(
    case: &str,
    what: &str,
    error: &Value,
    code: &str,
    permission: &str,
    channel: &str,
) {
    assert_eq!(error["code"], code, "{case}: {what}: {error}");
    assert_eq!(error["retryable"], false, "{case}: {what}: {error}");
    if code == "forbidden" {
        assert_eq!(error["permission"], permission, "{case}: {what}: {error}");
        assert_eq!(error["channel"], channel, "{case}: {what}: {error}");
        let message = error["message"].as_str().unwrap_or_default();
        assert!(
            message.contains(permission) && message.contains(channel),
            "{case}: {what}: {error}"
        );
    }
}

/// A grant through the admin API of `permissions` on `channel` for `ttl`
/// minutes. Each call's token is distinct (a counter in its meta): two
/// identical grants in the same second would be the same token, and
/// revoking one would revoke the other.
pub async fn grant_on(node: &Node, channel: &str, permissions: &[&str], ttl: u32) -> String {
    static GRANTS: AtomicU64 = AtomicU64::new(0);
    let n = GRANTS.fetch_add(1, Ordering::Relaxed);
    node.grant(&json!({"ttl_minutes": ttl, "channels": {channel: permissions}, "meta": {"n": n}}))
        .await
}
