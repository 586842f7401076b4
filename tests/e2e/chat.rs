//! The chat flow end to end on a node with access control on, with the
//! `token-issuer` and `counter` examples: users are created with the setup
//! key (a secret of the function) and stored hashed in the KV store; a login
//! answers a token for `chat.{user}` (read, write) and `chat.public`
//! (read), a wrong password a 401 from the function; a user publishes with
//! that token; a moderator, whose token reads every `chat.*` channel by a
//! pattern grant, receives it; other users cannot read it; `counter`
//! counts it.

use edgefn_e2e::wait::{TIMEOUT, eventually};
use edgefn_e2e::*;
use reqwest::Method;

const SETUP_KEY: &str = "setup-key-5f2c";

/// `POST /v1/fn/token-issuer{path}` with `body`, and `X-Setup-Key` if given.
async fn issuer(node: &Node, path: &str, body: Value, setup_key: Option<&str>) -> Answer {
    let mut request = node
        .http()
        .post(node.url(&format!("/v1/fn/token-issuer{path}")))
        .json(&body);
    if let Some(key) = setup_key {
        request = request.header("x-setup-key", key);
    }
    node.send(request).await
}

/// Logs `user` in and returns the token.
async fn login(node: &Node, user: &str, password: &str) -> String {
    let answer = issuer(
        node,
        "/login",
        json!({"user": user, "password": password}),
        None,
    )
    .await;
    let body = answer.ok();
    assert_eq!(body["user"], user);
    assert_eq!(body["ttl_minutes"], 60);
    assert_eq!(
        body["channels"],
        json!([format!("chat.{user}"), "chat.public"])
    );
    body["token"].as_str().expect("a token").to_owned()
}

/// The count `counter` keeps for `channel`.
async fn count(node: &Node, channel: &str) -> u64 {
    let answer = node.get(&format!("/v1/fn/counter/{channel}")).await;
    assert_eq!(answer.ok()["channel"], channel);
    answer.body["count"].as_u64().expect("a count")
}

#[tokio::test]
async fn log_in_publish_receive_and_count() {
    let node = Node::start_secured("chat-secret-key").await;
    let issuer_spec = json!({
        "endpoint": true,
        "allow_token_grant": true,
        "secrets": {"SETUP_KEY": SETUP_KEY},
    });
    node.deploy_ok("token-issuer", "token-issuer", &issuer_spec)
        .await;
    let counter_spec = json!({"endpoint": true, "after_publish": ["chat.*"]});
    node.deploy_ok("counter", "counter", &counter_spec).await;

    // Users: created with the setup key only; stored hashed.
    for user in ["alice", "bob"] {
        let body = json!({"user": user, "password": format!("{user}-pass-123")});
        let created = issuer(&node, "/users", body, Some(SETUP_KEY)).await;
        assert_eq!(created.status, 201, "{}", created.body);
        assert_eq!(created.body, json!({"user": user}));
    }
    let mallory = json!({"user": "mallory", "password": "x"});
    for key in [Some("wrong-key"), None] {
        let refused = issuer(&node, "/users", mallory.clone(), key).await;
        assert_eq!(refused.status, 403, "{}", refused.body);
    }
    let record = node.admin(Method::GET, "/kv/user:alice").await;
    let record: Value = serde_json::from_str(record.ok()["value"].as_str().unwrap()).unwrap();
    assert!(
        record["hash"].is_string() && record["salt"].is_string(),
        "{record}"
    );
    assert!(!record.to_string().contains("alice-pass-123"), "{record}");
    assert_eq!(
        node.admin(Method::GET, "/kv/user:mallory").await.status,
        404
    );

    // Logins: a wrong password and an unknown user get the same 401.
    for (user, password) in [("alice", "wrong"), ("nobody", "alice-pass-123")] {
        let answer = issuer(
            &node,
            "/login",
            json!({"user": user, "password": password}),
            None,
        )
        .await;
        assert_eq!(answer.status, 401, "{}", answer.body);
        assert_eq!(answer.body, json!({"error": "invalid user or password"}));
    }
    let alice = login(&node, "alice", "alice-pass-123").await;
    let bob = login(&node, "bob", "bob-pass-123").await;
    let inspected = node.inspect(&alice).await;
    assert_eq!(inspected["status"], "valid");
    assert_eq!(inspected["token"]["authorized_uuid"], "alice");
    assert_eq!(
        inspected["token"]["resources"]["channels"],
        json!({"chat.alice": ["read", "write"], "chat.public": ["read"]})
    );

    // A moderator reads every chat channel by pattern; bob reads his own
    // and the public one only.
    let moderator = node
        .grant(&json!({"ttl_minutes": 5, "authorized_uuid": "mod", "channel_patterns": {"chat\\..*": ["read"]}}))
        .await;
    let moderator = Auth::token(&moderator).uuid("mod");
    let mut watcher = Sse::ready_as(&node, "chat.alice", &moderator).await;
    let mut everything = Sse::ready_as(&node, "chat.*", &moderator).await;
    let bob = Auth::token(&bob).uuid("bob");
    let refused = Sse::open_as(&node, "chat.alice", None, &bob).await;
    let answer = refused.err().expect("bob may not read chat.alice");
    assert_eq!(answer.error(403, "forbidden")["channel"], "chat.alice");
    let mut bob_public = Sse::ready_as(&node, "chat.public", &bob).await;

    // Alice publishes with her token to her channel, and only there.
    let alice = Auth::bearer(&alice).uuid("alice");
    let sent = node
        .post_message_as(
            Op::Publish,
            "chat.alice",
            r#"{"text":"hi from alice"}"#,
            &[],
            &alice,
        )
        .await;
    let timetoken = sent.ok()["timetoken"].clone();
    for channel in ["chat.public", "chat.bob"] {
        let answer = node
            .post_message_as(Op::Publish, channel, r#"{"text":"no"}"#, &[], &alice)
            .await;
        assert_eq!(answer.error(403, "forbidden")["permission"], "write");
    }
    for sse in [&mut watcher, &mut everything] {
        let message = sse.next_message().await;
        assert_eq!(message["channel"], "chat.alice");
        assert_eq!(message["timetoken"], timetoken);
        assert_eq!(message["message"], json!({"text": "hi from alice"}));
        assert_eq!(message["publisher"], "alice");
    }

    // The counter counts it (after publish: eventually), and nothing else.
    eventually("the counter to count alice's message", TIMEOUT, || async {
        (count(&node, "chat.alice").await == 1).then_some(())
    })
    .await;
    assert_eq!(count(&node, "chat.public").await, 0);
    assert_eq!(count(&node, "chat.bob").await, 0);
    for n in 2..=3 {
        node.post_message_as(
            Op::Publish,
            "chat.alice",
            format!(r#"{{"n":{n}}}"#),
            &[],
            &alice,
        )
        .await
        .ok();
    }
    eventually("the counter to reach 3", TIMEOUT, || async {
        (count(&node, "chat.alice").await == 3).then_some(())
    })
    .await;
    // Bob's public subscription saw none of it.
    let admin_token = node
        .grant(&json!({"ttl_minutes": 5, "channels": {"chat.public": ["write"]}}))
        .await;
    node.post_message_as(
        Op::Publish,
        "chat.public",
        r#"{"text":"announcement"}"#,
        &[],
        &Auth::token(&admin_token),
    )
    .await
    .ok();
    assert_eq!(
        bob_public.next_message().await["message"],
        json!({"text": "announcement"}),
        "the first message bob sees is the public one"
    );
}
