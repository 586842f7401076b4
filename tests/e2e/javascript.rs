//! JavaScript functions: `.js` modules written the way PubNub Functions are,
//! deployed as they are and run by the built-in QuickJS runner — the JS
//! examples against their Rust twins, every trigger, the PubNub modules
//! backed by edgefn's capabilities, errors a user can act on, redeploy and
//! restart (the snapshot is kept, not rebuilt).

use std::time::Duration;

use edgefn_e2e::paths::repo_root;
use edgefn_e2e::wait::{eventually, within};
use edgefn_e2e::*;
use reqwest::Method;

const LIMIT: Duration = Duration::from_secs(20);

fn example(name: &str) -> String {
    let path = repo_root().join("examples/js").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

#[tokio::test]
async fn moderate_js_decides_like_the_rust_example() {
    let node = Node::start().await;
    let config = json!({"banned_words": "spam, free money"});
    node.deploy_ok(
        "rust-moderate",
        "moderate",
        &json!({"before_publish": ["rust.*"], "config": config}),
    )
    .await;
    let deployed = node
        .deploy_js_ok(
            "js-moderate",
            &example("moderate.js"),
            &json!({"before_publish": ["js.*"], "config": config}),
        )
        .await;
    assert_eq!(deployed["source"]["language"], "javascript");

    let cases = [
        json!({"text": "  hello \n  world  ", "n": 1}),
        json!({"text": "get FREE   money now"}),
        json!({"text": "no spammers here"}),
        json!({"text": "SPAM!"}),
        json!({"other": true}),
        json!(42),
        json!("just text"),
    ];
    for case in &cases {
        let rust = node
            .post_message(Op::Publish, "rust.room", case.to_string(), &[])
            .await;
        let js = node
            .post_message(Op::Publish, "js.room", case.to_string(), &[])
            .await;
        assert_eq!(
            rust.status, js.status,
            "{case}: {} vs {}",
            rust.body, js.body
        );
        if rust.status != 200 {
            assert_eq!(
                rust.body["message"]
                    .as_str()
                    .map(|m| m.replace("rust-moderate", "F")),
                js.body["message"]
                    .as_str()
                    .map(|m| m.replace("js-moderate", "F")),
                "{case}"
            );
        }
    }
    let stored = |channel: &'static str| {
        let node = &node;
        async move {
            node.history(channel, "")
                .await
                .into_iter()
                .map(|m| m["message"].clone())
                .collect::<Vec<_>>()
        }
    };
    let rust = stored("rust.room").await;
    assert_eq!(rust.len(), 5, "{rust:?}");
    assert_eq!(stored("js.room").await, rust);
    assert_eq!(
        rust[0],
        json!({"text": "hello world", "n": 1, "moderated": true})
    );
}

#[tokio::test]
async fn counter_js_counts_after_publish_and_answers_requests() {
    let node = Node::start().await;
    node.deploy_js_ok(
        "js-counter",
        &example("counter.js"),
        &json!({"after_publish": ["chat.*"], "endpoint": true}),
    )
    .await;
    for _ in 0..3 {
        node.publish("chat.a", &json!({"text": "hi"})).await;
    }
    node.publish("chat.b", &json!(1)).await;
    node.publish("other", &json!(1)).await;
    eventually("three counted on chat.a", LIMIT, || async {
        let answer = node.get("/v1/fn/js-counter/chat.a").await;
        (answer.ok()["count"] == 3).then_some(())
    })
    .await;
    let b = node.get("/v1/fn/js-counter/chat.b").await;
    assert_eq!(b.ok().clone(), json!({"channel": "chat.b", "count": 1}));
    assert_eq!(node.get("/v1/fn/js-counter/other").await.ok()["count"], 0);
    let bad = node.get("/v1/fn/js-counter/a/b").await;
    assert_eq!(bad.status, 404, "{}", bad.body);
    let post = node
        .send(node.http().post(node.url("/v1/fn/js-counter/chat.a")))
        .await;
    assert_eq!(post.status, 405, "{}", post.body);
    assert_eq!(post.headers["allow"], "GET");
    // kvstore counters are edgefn's KV, which every function and the CLI share.
    let key = node.cli(&["kv", "get", "pn.counter/count:chat.a"]).await;
    assert_eq!(key.ok().trim(), "3");
}

#[tokio::test]
async fn forward_js_posts_each_message_within_its_allow_list() {
    let node = Node::start().await;
    let receiver = Recorder::start().await;
    node.deploy_js_ok(
        "forward",
        &example("forward.js"),
        &json!({
            "after_publish": ["chat.*"],
            "allow_outbound": [format!("http://127.0.0.1:{}", receiver.port())],
            "config": {"forward_url": receiver.url("/hook")},
        }),
    )
    .await;
    let answer = node
        .post_message(
            Op::Publish,
            "chat.x",
            json!({"text": "hi"}).to_string(),
            &[("meta", r#"{"m":1}"#), ("uuid", "alice")],
        )
        .await;
    let timetoken = answer.ok()["timetoken"].as_str().unwrap().to_owned();
    let got = within("the forwarded message", LIMIT, receiver.next()).await;
    assert_eq!(
        got.json(),
        json!({"channel": "chat.x", "timetoken": timetoken, "message": {"text": "hi"},
               "meta": {"m": 1}, "publisher": "alice"})
    );
    node.wait_for_log("forward", &["forwarded", &timetoken], LIMIT)
        .await;

    // Outside the allow-list: the fetch fails, the log says so.
    node.deploy_js_ok(
        "forward",
        &example("forward.js"),
        &json!({"after_publish": ["chat.*"], "config": {"forward_url": "http://127.0.0.1:9/x"}}),
    )
    .await;
    node.publish("chat.x", &json!({"text": "blocked"})).await;
    node.wait_for_log("forward", &["xhr:"], LIMIT).await;
}

#[tokio::test]
async fn interval_js_runs_on_schedule_with_kvstore() {
    let node = Node::start().await;
    let source = r#"
        const db = require('kvstore');
        export default async (event) => {
          await db.incrCounter('ticks');
          return event.ok();
        };"#;
    node.deploy_js_ok("ticker", source, &json!({"every": 1}))
        .await;
    eventually("two ticks", LIMIT, || async {
        let ticks = node.cli(&["kv", "get", "pn.counter/ticks"]).await;
        ticks.stdout.trim().parse::<u32>().ok().filter(|n| *n >= 2)
    })
    .await;
}

#[tokio::test]
async fn pubnub_module_publishes_grants_and_parses_tokens() {
    let node = Node::start_secured("js-secret").await;
    let source = r#"
        const pubnub = require('pubnub');
        export default async (request, response) => {
          const { timetoken } = await pubnub.publish({ channel: 'out', message: { from: 'js' }, meta: { k: 1 } });
          const token = await pubnub.grantToken({
            ttl: 15, authorized_uuid: 'alice',
            resources: {
              channels: { 'chat.alice': { read: true, write: true } },
              groups: { 'cg.alice': { read: true } },
              uuids: { alice: { get: true, update: true } },
            },
            patterns: {
              channels: { '^chat\\.public\\..*$': { read: true } },
              uuids: { '^bot-.*$': { get: true } },
            },
            meta: { role: 'user' },
          });
          const parsed = pubnub.parseToken(token);
          return response.send({ timetoken, token, parsed }, 200);
        };"#;
    node.deploy_js_ok(
        "issuer",
        source,
        &json!({"endpoint": true, "allow_token_grant": true}),
    )
    .await;
    let answer = node
        .send(
            node.http()
                .get(node.url("/v1/fn/issuer"))
                .bearer_auth(node.admin_key()),
        )
        .await;
    let body = answer.ok().clone();
    let parsed = &body["parsed"];
    assert_eq!(parsed["ttl"], 15);
    assert_eq!(parsed["authorized_uuid"], "alice");
    assert_eq!(
        parsed["resources"]["channels"]["chat.alice"],
        json!({"read": true, "write": true})
    );
    assert_eq!(
        parsed["patterns"]["channels"]["^chat\\.public\\..*$"],
        json!({"read": true})
    );
    assert_eq!(
        (
            &parsed["resources"]["groups"],
            &parsed["resources"]["uuids"],
            &parsed["patterns"]["uuids"]
        ),
        (
            &json!({"cg.alice": {"read": true}}),
            &json!({"alice": {"get": true, "update": true}}),
            &json!({"^bot-.*$": {"get": true}})
        )
    );
    assert!(parsed["patterns"].get("groups").is_none(), "{parsed}");
    assert_eq!(parsed["meta"], json!({"role": "user"}));
    // The token works: alice may read chat.alice, and set her App Context
    // metadata (its `uuids` grant), not another's.
    let token = body["token"].as_str().unwrap();
    let profile = |uuid: &str| {
        let path = format!("/v2/objects/demo/uuids/{uuid}?uuid=alice&auth={token}");
        node.http()
            .patch(node.url(&path))
            .json(&json!({"name": uuid}))
    };
    let set = node.send(profile("alice")).await;
    assert_eq!(set.status, 200, "{}", set.body);
    let other = node.send(profile("bob")).await;
    assert_eq!(other.status, 403, "{}", other.body);
    let read = node
        .history_as("chat.alice", &Auth::token(token).uuid("alice"))
        .await;
    assert_eq!(read.status, 200, "{}", read.body);
    let stored = node
        .send(
            node.http()
                .get(node.url("/v1/history/out"))
                .bearer_auth(token),
        )
        .await;
    assert_eq!(
        stored.status, 403,
        "the token must not cover `out`: {}",
        stored.body
    );
    assert!(body["timetoken"].as_str().unwrap().len() == 17);
}

#[tokio::test]
async fn vault_reads_secrets_then_settings() {
    let node = Node::start().await;
    let source = r#"
        const vault = require('vault');
        export default async (request, response) => {
          const key = await vault.get('API_KEY');
          const region = await vault.get('region');
          const missing = await vault.get('nope').then(() => 'found', (e) => e.message);
          return response.send({ key, region, missing });
        };"#;
    node.deploy_js_ok(
        "vaulted",
        source,
        &json!({"endpoint": true, "secrets": {"API_KEY": "s3cret"}, "config": {"region": "eu"}}),
    )
    .await;
    let answer = node.get("/v1/fn/vaulted").await;
    assert_eq!(
        answer.ok().clone(),
        json!({"key": "s3cret", "region": "eu", "missing": "vault: no secret or setting called 'nope'"})
    );
}

#[tokio::test]
async fn errors_name_what_is_wrong() {
    let node = Node::start().await;
    let spec = json!({"before_publish": ["bad.*"]});
    let refused = |source: &'static str| {
        let (node, spec) = (&node, &spec);
        async move {
            node.deploy_js("bad", source, spec)
                .await
                .message(400, "invalid_javascript")
        }
    };
    let syntax = refused("export default (request) => {\n  const x = ;\n};\n").await;
    assert!(syntax.contains("handler.js:2:13: SyntaxError"), "{syntax}");
    let unknown = refused("const x = require('nope');\nexport default (r) => r.ok();").await;
    assert!(
        unknown.contains("there is no module called 'nope'"),
        "{unknown}"
    );
    let no_default = refused("export const handler = 1;").await;
    assert!(
        no_default.contains("default export must be the handler"),
        "{no_default}"
    );
    let host_at_load = refused(
        "const db = require('kvstore');\nawait db.get('x');\nexport default (r) => r.ok();",
    )
    .await;
    assert!(
        host_at_load.contains("inside the handler"),
        "{host_at_load}"
    );
    let endless = refused("while (true) {}\nexport default (r) => r.ok();").await;
    assert!(endless.contains("did not finish"), "{endless}");

    // A thrown exception refuses the message (on_error = reject), with the
    // JavaScript error and its stack in the function's log.
    let thrower = "export default async (request) => {\n  throw new TypeError('no ' + request.message.x);\n};\n";
    node.deploy_js_ok("thrower", thrower, &json!({"before_publish": ["t"]}))
        .await;
    let answer = node
        .post_message(Op::Publish, "t", r#"{"x":"way"}"#, &[])
        .await;
    assert_eq!(answer.status, 502, "{}", answer.body);
    node.wait_for_log("thrower", &["TypeError: no way"], LIMIT)
        .await;
    node.wait_for_log("thrower", &["handler.js:2"], LIMIT).await;

    // An endless handler is cut off at its deadline; the node carries on.
    let spinner = "export default (request) => { for (;;) {} };";
    node.deploy_js_ok(
        "spinner",
        spinner,
        &json!({"before_publish": ["s"], "timeout_ms": 100}),
    )
    .await;
    let answer = node.post_message(Op::Publish, "s", "1", &[]).await;
    assert_eq!(answer.status, 504, "{}", answer.body);
    node.publish("elsewhere", &json!(1)).await;

    // A Promise that can never settle is an error, not a hang.
    let stuck = "export default (request) => new Promise(() => {});";
    node.deploy_js_ok("stuck", stuck, &json!({"before_publish": ["p"]}))
        .await;
    let answer = node.post_message(Op::Publish, "p", "1", &[]).await;
    assert_eq!(answer.status, 502, "{}", answer.body);
    node.wait_for_log("stuck", &["never settled"], LIMIT).await;

    // On Request: an exception answers 502 with the message.
    let failing = "export default (request, response) => { throw new Error('kaput'); };";
    node.deploy_js_ok("failing", failing, &json!({"endpoint": true}))
        .await;
    let answer = node.get("/v1/fn/failing").await;
    assert_eq!(answer.status, 502, "{}", answer.body);
    assert_eq!(answer.body["message"], "Error: kaput");
}

#[tokio::test]
async fn each_invocation_starts_fresh_with_its_own_randomness() {
    let node = Node::start().await;
    let source = r#"
        const loaded = Math.random();
        let calls = 0;
        export default (request, response) => {
          calls += 1;
          return response.send({ loaded, calls, now: Math.random() });
        };"#;
    node.deploy_js_ok("fresh", source, &json!({"endpoint": true}))
        .await;
    let first = node.get("/v1/fn/fresh").await.ok().clone();
    let second = node.get("/v1/fn/fresh").await.ok().clone();
    // Top-level state comes from the snapshot, never from a previous call.
    assert_eq!(first["calls"], 1);
    assert_eq!(second["calls"], 1);
    assert_eq!(first["loaded"], second["loaded"]);
    assert_ne!(
        first["now"], second["now"],
        "Math.random must be reseeded per call"
    );
}

#[tokio::test]
async fn redeploy_and_restart_keep_the_snapshot() {
    let mut node = Node::start().await;
    let source = "const loaded = Math.random();\nexport default (request, response) => response.send({ loaded });";
    let spec = json!({"endpoint": true});
    let first = node.deploy_js_ok("snap", source, &spec).await;
    assert_eq!(first["version"], 1);
    // The same source again changes nothing.
    let again = node.deploy_js_ok("snap", source, &spec).await;
    assert_eq!(again["version"], 1);
    let loaded = node.get("/v1/fn/snap").await.ok()["loaded"].clone();

    node.kill9().await;
    node.restart().await;
    // Restored from the stored snapshot: the top-level code did not run again.
    let after = node.get("/v1/fn/snap").await;
    assert_eq!(after.ok()["loaded"], loaded);
    let shown = node
        .admin(Method::GET, "/functions/snap")
        .await
        .ok()
        .clone();
    assert_eq!(shown["source"]["language"], "javascript", "{shown}");

    let changed = node
        .deploy_js_ok(
            "snap",
            "export default (request, response) => response.send('v2');",
            &spec,
        )
        .await;
    assert_eq!(changed["version"], 2);
    assert_eq!(node.get("/v1/fn/snap").await.body, "v2");
}

#[tokio::test]
async fn cli_deploys_a_js_file() {
    let node = Node::start().await;
    let dir = Node::temp_dir();
    let file = dir.path().join("greet.js");
    std::fs::write(
        &file,
        "export default (request, response) => response.send({ hello: request.params.name });",
    )
    .unwrap();
    let out = node
        .cli(&[
            "deploy",
            file.to_str().unwrap(),
            "--name",
            "greet",
            "--endpoint",
        ])
        .await;
    assert!(
        out.ok().contains("deployed `greet` version 1"),
        "{}",
        out.ok()
    );
    let answer = node.get("/v1/fn/greet?name=ann").await;
    assert_eq!(answer.ok().clone(), json!({"hello": "ann"}));
}

#[tokio::test]
async fn after_presence_js_sees_joins_state_and_leaves() {
    use crate::after_presence::{LONG, heartbeat, leave, set_state};
    let node = Node::start().await;
    let source = r#"
        const pubnub = require('pubnub');
        export default async (request) => {
          await pubnub.publish({ channel: 'js-presence', message: { channel: request.channels[0], ...request.message } });
          return request.ok();
        };"#;
    node.deploy_js_ok("watcher", source, &json!({"after_presence": ["room.*"]}))
        .await;
    let (mut reports, _) = Sse::ready(&node, "js-presence", None).await;
    let mut next = async || reports.next_message().await["message"].clone();

    heartbeat(&node, "room.a", "ann", LONG, Some(&json!({"mood": "calm"}))).await;
    let join = next().await;
    assert_eq!(
        (
            &join["action"],
            &join["uuid"],
            &join["occupancy"],
            &join["channel"],
            &join["state"]
        ),
        (
            &json!("join"),
            &json!("ann"),
            &json!(1),
            &json!("room.a"),
            &json!({"mood": "calm"})
        ),
        "{join}"
    );
    assert!(join["timestamp"].as_u64().is_some(), "{join}");
    set_state(&node, "room.a", "ann", &json!({"mood": "busy"})).await;
    let change = next().await;
    assert_eq!(change["action"], "state-change", "{change}");
    assert_eq!(change["state"], json!({"mood": "busy"}));
    leave(&node, "room.a", "ann").await;
    let left = next().await;
    assert_eq!(
        (&left["action"], &left["occupancy"]),
        (&json!("leave"), &json!(0)),
        "{left}"
    );
}

#[tokio::test]
async fn the_demo_config_deploys_the_javascript_counter_beside_the_rust_one() {
    let node = Node::start_with(NodeOptions {
        config: Some(repo_root().join("examples/edgefn.toml")),
        ..NodeOptions::default()
    })
    .await;
    node.publish("chat.lobby", &json!({"text": "  hello   demo "}))
        .await;
    for function in ["counter", "js-counter"] {
        let what = format!("{function} to count the message");
        let path = format!("/v1/fn/{function}/chat.lobby");
        eventually(&what, LIMIT, || async {
            (node.get(&path).await.ok()["count"] == 1).then_some(())
        })
        .await;
    }
    let stored = node.history("chat.lobby", "").await;
    assert_eq!(
        stored[0]["message"],
        json!({"text": "hello demo", "moderated": true})
    );
}

#[tokio::test]
async fn token_issuer_js_issues_tokens_that_the_bus_honours() {
    let node = Node::start_secured("issuer-secret").await;
    node.deploy_js_ok(
        "token-issuer",
        &example("token-issuer.js"),
        &json!({"endpoint": true, "allow_token_grant": true,
                "secrets": {"SETUP_KEY": "setup"}, "config": {"hash_rounds": "50"}}),
    )
    .await;
    let post = |path: &str, body: Value, setup: Option<&str>| {
        let mut request = node
            .http()
            .post(node.url(&format!("/v1/fn/token-issuer{path}")))
            .bearer_auth(node.admin_key())
            .json(&body);
        if let Some(key) = setup {
            request = request.header("x-setup-key", key);
        }
        node.send(request)
    };
    let alice = json!({"user": "alice", "password": "wonderland"});
    assert_eq!(post("/users", alice.clone(), None).await.status, 403);
    assert_eq!(
        post("/users", alice.clone(), Some("wrong")).await.status,
        403
    );
    let bad = post(
        "/users",
        json!({"user": "Alice!", "password": "x"}),
        Some("setup"),
    )
    .await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    let created = post("/users", alice.clone(), Some("setup")).await;
    assert_eq!(created.status, 201, "{}", created.body);

    let wrong = post("/login", json!({"user": "alice", "password": "nope"}), None).await;
    assert_eq!(wrong.status, 401, "{}", wrong.body);
    let unknown = post("/login", json!({"user": "bob", "password": "x"}), None).await;
    assert_eq!(unknown.status, 401, "{}", unknown.body);
    let login = post("/login", alice, None).await;
    let body = login.ok().clone();
    assert_eq!(body["channels"], json!(["chat.alice", "chat.public"]));
    let token = body["token"].as_str().unwrap();

    let auth = Auth::token(token).uuid("alice");
    let own = node
        .post_message_as(Op::Publish, "chat.alice", "\"hi\"", &[], &auth)
        .await;
    assert_eq!(own.status, 200, "{}", own.body);
    let public = node
        .post_message_as(Op::Publish, "chat.public", "\"hi\"", &[], &auth)
        .await;
    assert_eq!(public.status, 403, "read-only there: {}", public.body);
    node.wait_for_log("token-issuer", &["token issued to alice"], LIMIT)
        .await;
}
