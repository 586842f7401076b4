//! Access tokens from inside a function (`caps`): only a deployment with
//! `allow_token_grant` may grant or revoke (others get a clear `denied`
//! error); any function may parse. A granted token works on the bus as its
//! grant says, and a revocation by the function ends it everywhere, open
//! subscriptions included.

use std::time::Duration;

use edgefn_e2e::caps::{self, err, ok};
use edgefn_e2e::*;

const SECRET_KEY: &str = "fn-tokens-secret";

/// What the functions grant: carol may read and write `fn.tok`, read the
/// channels matching `fn\.tok\..*`, for 5 minutes, with meta.
fn carols_grant() -> Value {
    caps::grant(json!({
        "ttl": 5,
        "user": "carol",
        "channels": {"fn.tok": ["read", "write"]},
        "patterns": {"fn\\.tok\\..*": ["read"]},
        "meta": {"tier": "gold"},
    }))
}

#[tokio::test]
async fn only_functions_allowed_to_may_grant_and_revoke() {
    let node = Node::start_secured(SECRET_KEY).await;
    node.deploy_caps("plain", json!({})).await;
    node.deploy_caps("issuer", json!({"allow_token_grant": true}))
        .await;

    let token = node.run_op("issuer", carols_grant()).await;
    let token = token.as_str().expect("a token").to_owned();
    let results = node
        .run_ops(
            "plain",
            &[carols_grant(), caps::revoke(&token), caps::parse(&token)],
        )
        .await;
    let denied = err(&results[0], "denied");
    assert!(
        denied.contains("`plain` may not grant tokens") && denied.contains("--allow-token-grant"),
        "{denied}"
    );
    assert!(err(&results[1], "denied").contains("may not revoke"));

    // Parsing needs no permission, and reads back the grant.
    let info = ok(&results[2]);
    assert_eq!(info["ttl_minutes"], 5);
    assert_eq!(info["user"], "carol");
    assert_eq!(info["channels"], json!({"fn.tok": ["read", "write"]}));
    assert_eq!(info["patterns"], json!({"fn\\.tok\\..*": ["read"]}));
    assert_eq!(info["meta"], json!({"tier": "gold"}));
    assert_eq!(
        info["expires_at"],
        info["issued_at"].as_u64().unwrap() + 300
    );

    // The admin API agrees, and the node accepts the token as granted.
    let inspected = node.inspect(&token).await;
    assert_eq!(inspected["status"], "valid");
    assert_eq!(inspected["token"]["authorized_uuid"], "carol");
    assert_eq!(inspected["token"]["meta"], json!({"tier": "gold"}));
    let carol = Auth::token(&token).uuid("carol");
    let mut sse = Sse::ready_as(&node, "fn.tok.news", &carol).await;
    node.post_message_as(Op::Publish, "fn.tok", "1", &[], &carol)
        .await
        .ok();
    node.post_message_as(Op::Publish, "fn.tok.news", "1", &[], &carol)
        .await
        .error(403, "forbidden");

    // Revoked by the function that may: refused from now on, and the open
    // subscription ends.
    ok(&node.run_ops("issuer", &[caps::revoke(&token)]).await[0]);
    let end = sse.final_error_within(Duration::from_secs(1)).await;
    assert_eq!(end["code"], "token_revoked");
    node.post_message_as(Op::Publish, "fn.tok", "1", &[], &carol)
        .await
        .error(403, "token_revoked");
    assert_eq!(node.inspect(&token).await["status"], "token_revoked");
}

#[tokio::test]
async fn invalid_grants_fail_in_the_guest() {
    let node = Node::start_secured(SECRET_KEY).await;
    node.deploy_caps("issuer", json!({"allow_token_grant": true}))
        .await;
    let channel = json!({"fn.x": ["read"]});
    let long_pattern = json!({ "a".repeat(300): ["read"] });
    let results = node
        .run_ops(
            "issuer",
            &[
                caps::grant(json!({"ttl": 0, "channels": channel})),
                caps::grant(json!({"ttl": 43_201, "channels": channel})),
                caps::grant(json!({"ttl": 43_200, "channels": channel})),
                caps::grant(json!({"ttl": 1, "channels": channel})),
                caps::grant(json!({"ttl": 5})),
                caps::grant(json!({"ttl": 5, "patterns": {"(": ["read"]}})),
                caps::grant(json!({"ttl": 5, "patterns": long_pattern})),
                caps::parse("not-a-token"),
                caps::revoke("not-a-token"),
            ],
        )
        .await;
    assert!(err(&results[0], "invalid").contains("between 1 and 43200"));
    assert!(err(&results[1], "invalid").contains("between 1 and 43200"));
    for (i, ttl) in [(2, 43_200), (3, 1)] {
        let token = ok(&results[i]).as_str().unwrap().to_owned();
        assert_eq!(node.inspect(&token).await["token"]["ttl_minutes"], ttl);
    }
    assert!(err(&results[4], "invalid").contains("at least one"));
    assert!(err(&results[5], "invalid").contains("not a valid regular expression"));
    assert!(err(&results[6], "invalid").contains("longer than"));
    err(&results[7], "invalid");
    err(&results[8], "invalid");
}

#[tokio::test]
async fn without_a_secret_key_a_function_cannot_grant() {
    let node = Node::start().await;
    node.deploy_caps("issuer", json!({"allow_token_grant": true}))
        .await;
    let results = node.run_ops("issuer", &[carols_grant()]).await;
    assert!(err(&results[0], "denied").contains("--secret-key"));
}
