//! Revocations are the cluster's: on nodes sharing a secret key, a token
//! granted through one node works on the others, and once it is revoked
//! through a second node, the third refuses it (403 `token_revoked`) and
//! ends the subscription using it, within a second.

use std::time::{Duration, Instant};

use edgefn_e2e::wait::eventually;
use edgefn_e2e::*;

use super::cluster;

const SECRET_KEY: &str = "cluster-revocation-secret";
const CHANNEL: &str = "rv.cluster";
/// How soon a revocation must hold on every node.
const WITHIN: Duration = Duration::from_secs(1);

#[tokio::test]
async fn a_token_revoked_on_one_node_is_refused_on_the_others() {
    let (_nats, nodes) = cluster(&format!("secret_key = \"{SECRET_KEY}\"\n")).await;
    let (a, b, c) = (&nodes[0], &nodes[1], &nodes[2]);
    let grant = json!({"ttl_minutes": 5, "channels": {CHANNEL: ["read", "write"]}});
    let doomed = a.grant(&grant).await;
    let auth = Auth::token(&doomed);

    // It works everywhere, and C refuses no token at all.
    let mut subscription = Sse::ready_as(c, CHANNEL, &auth).await;
    for node in &nodes {
        node.post_message_as(Op::Publish, CHANNEL, r#"{"n":1}"#, &[], &auth)
            .await
            .ok();
    }
    for _ in &nodes {
        assert_eq!(
            subscription.next_message().await["message"],
            json!({"n": 1})
        );
    }
    c.post_message(Op::Publish, CHANNEL, r#"{"n":0}"#, &[])
        .await
        .error(403, "token_missing");

    b.revoke(&doomed).await;
    let revoked = Instant::now();
    eventually(
        "C to refuse the token revoked through B",
        WITHIN,
        || async {
            let answer = c
                .post_message_as(Op::Publish, CHANNEL, r#"{"n":2}"#, &[], &auth)
                .await;
            match answer.status {
                200 => None,
                _ => Some(answer),
            }
        },
    )
    .await
    .error(403, "token_revoked");
    let end = subscription.final_error_within(WITHIN).await;
    assert_eq!(end["code"], "token_revoked", "{end}");
    assert!(
        revoked.elapsed() < WITHIN + Duration::from_millis(500),
        "C's subscription ended {:?} after the revocation",
        revoked.elapsed()
    );
    let answer = a
        .post_message_as(Op::Publish, CHANNEL, r#"{"n":3}"#, &[], &auth)
        .await;
    answer.error(403, "token_revoked");
}
