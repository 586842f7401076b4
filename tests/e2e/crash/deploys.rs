//! A deploy refused at validation or compilation leaves the previous
//! version running and the store unchanged, also across a restart.

use edgefn_e2e::paths::guest_bytes;
use edgefn_e2e::*;
use reqwest::Method;

/// A spec for the stamp guest on `fail.*`, version `tag`.
fn fail_spec(tag: &str) -> Value {
    json!({"before_publish": ["fail.*"], "endpoint": true, "config": {"VERSION": tag}})
}

/// Asserts that `stamp` still runs build `a` with config `good`, as
/// `listed` says, and that nothing called `fresh` exists.
async fn assert_previous_version(node: &Node, listed: &Value, when: &str) {
    assert_eq!(
        node.admin(Method::GET, "/functions").await.ok(),
        listed,
        "{when}: the deployments changed"
    );
    assert_eq!(
        node.get("/v1/fn/stamp/who").await.ok(),
        &json!({"build": "a", "config": "good"}),
        "{when}: the endpoint does not run the previous version"
    );
    let tt = node.publish("fail.x", &json!({"probe": when})).await;
    let history = node.history("fail.x", "").await;
    let probe = history
        .iter()
        .find(|m| m["timetoken"] == tt)
        .expect("the probe is in history");
    assert_eq!(
        probe["message"]["stamps"],
        json!([{"build": "a", "config": "good", "calls": 1}]),
        "{when}: the hook is not the previous version"
    );
    node.admin(Method::GET, "/functions/fresh")
        .await
        .error(404, "not_found");
    node.get("/v1/fn/fresh/x").await.error(404, "not_found");
}

#[tokio::test]
async fn refused_deploys_leave_the_previous_version_and_the_store_unchanged() {
    let mut node = Node::start().await;
    node.deploy_ok("stamp", "stamp-a", &fail_spec("good")).await;
    let listed = node.admin(Method::GET, "/functions").await.ok().clone();
    let stamp_b = guest_bytes("stamp-b");
    let core_module = b"\0asm\x01\0\0\0".to_vec();
    let mut garbage_component = b"\0asm\x0d\0\x01\0".to_vec();
    garbage_component.extend((0..4096u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
    let truncated = stamp_b[..stamp_b.len() / 2].to_vec();

    // (what, spec, component, status, code)
    let cases: Vec<(&str, Value, Vec<u8>, &str)> = vec![
        (
            "not WebAssembly",
            fail_spec("bad"),
            b"definitely not wasm".to_vec(),
            "invalid_component",
        ),
        (
            "an empty file",
            fail_spec("bad"),
            Vec::new(),
            "invalid_component",
        ),
        (
            "a core module",
            fail_spec("bad"),
            core_module,
            "invalid_component",
        ),
        (
            "a component header and garbage",
            fail_spec("bad"),
            garbage_component,
            "invalid_component",
        ),
        (
            "a truncated component",
            fail_spec("bad"),
            truncated,
            "invalid_component",
        ),
        (
            "a missing after-publish export",
            json!({"after_publish": ["fail.*"], "config": {"VERSION": "bad"}}),
            stamp_b.clone(),
            "invalid_component",
        ),
        (
            "a missing interval export",
            json!({"every": 5, "config": {"VERSION": "bad"}}),
            stamp_b.clone(),
            "invalid_component",
        ),
        (
            "a missing endpoint export",
            json!({"endpoint": true, "config": {"VERSION": "bad"}}),
            guest_bytes("spin"),
            "invalid_component",
        ),
        (
            "no trigger",
            json!({"config": {"VERSION": "bad"}}),
            stamp_b.clone(),
            "invalid_spec",
        ),
        (
            "every = 0",
            json!({"before_publish": ["fail.*"], "every": 0, "config": {"VERSION": "bad"}}),
            stamp_b.clone(),
            "invalid_spec",
        ),
        (
            "timeout_ms = 0",
            json!({"before_publish": ["fail.*"], "timeout_ms": 0, "config": {"VERSION": "bad"}}),
            stamp_b.clone(),
            "invalid_spec",
        ),
        (
            "memory_mb past the node's limit",
            json!({"before_publish": ["fail.*"], "memory_mb": 1_000_000, "config": {"VERSION": "bad"}}),
            stamp_b.clone(),
            "invalid_spec",
        ),
        (
            "an unknown field",
            json!({"before_publish": ["fail.*"], "bogus": true, "config": {"VERSION": "bad"}}),
            stamp_b.clone(),
            "invalid_spec",
        ),
        (
            "a bad config key",
            json!({"before_publish": ["fail.*"], "config": {"VERSION": "bad", "1-no": "x"}}),
            stamp_b.clone(),
            "invalid_spec",
        ),
        (
            "a bad secret name",
            json!({"before_publish": ["fail.*"], "secrets": {"bad name": "x"}, "config": {"VERSION": "bad"}}),
            stamp_b.clone(),
            "invalid_spec",
        ),
        (
            "a bad channel pattern",
            json!({"before_publish": ["fail..*!"], "config": {"VERSION": "bad"}}),
            stamp_b.clone(),
            "invalid_spec",
        ),
        (
            "a spec naming another function",
            json!({"name": "other", "before_publish": ["fail.*"], "config": {"VERSION": "bad"}}),
            stamp_b.clone(),
            "invalid_spec",
        ),
    ];
    for (what, spec, bytes, code) in &cases {
        for name in ["stamp", "fresh"] {
            let answer = node.deploy_bytes(name, spec, bytes.clone()).await;
            let message = answer.message(400, code);
            println!("{what} → {name}: 400 {code}: {message}");
        }
        assert_previous_version(&node, &listed, &format!("after {what}")).await;
    }

    // The store has not changed either: a restart (after kill -9, so nothing
    // is flushed on the way out) finds the same deployment...
    node.kill9().await;
    node.restart().await;
    assert_previous_version(&node, &listed, "after the restart").await;
    let stderr = node.stderr();
    assert!(
        !stderr.contains("ERROR"),
        "the restarted node logged errors:\n{stderr}"
    );
    // ... and no refused deploy used up a version number.
    let next = node.deploy_ok("stamp", "stamp-b", &fail_spec("next")).await;
    assert_eq!(next["version"], 2, "{next}");
    assert_eq!(
        node.get("/v1/fn/stamp/who").await.ok(),
        &json!({"build": "b", "config": "next"})
    );
}

/// A `spec` part that is valid JSON but not an object (`"stamp"`, `[...]`,
/// `1`, `true`) is a bad spec like any other: 400, not a dropped
/// connection.
#[tokio::test]
async fn a_deploy_spec_that_is_not_an_object_is_refused_and_changes_nothing() {
    let mut node = Node::start().await;
    node.deploy_ok("stamp", "stamp-a", &fail_spec("good")).await;
    let listed = node.admin(Method::GET, "/functions").await.ok().clone();
    // Valid JSON, but not an object: refused like any other bad spec, with
    // an answer (not a dropped connection).
    for spec in [json!("stamp"), json!(["stamp"]), json!(1), json!(true)] {
        for name in ["stamp", "fresh"] {
            let request = node
                .http()
                .put(node.url(&format!("/v1/admin/functions/{name}")))
                .bearer_auth(node.admin_key())
                .multipart(edgefn_e2e::api::deploy_form(
                    name,
                    &spec,
                    guest_bytes("stamp-b"),
                ));
            match request.send().await {
                Ok(response) => {
                    Answer::read(response).await.error(400, "invalid_spec");
                }
                Err(e) => panic!(
                    "deploying `{name}` with the spec {spec} got no answer (the handler panicked?): {e:?}\nstderr:\n{}",
                    node.stderr()
                ),
            }
        }
    }
    assert_previous_version(&node, &listed, "after specs that are not objects").await;
    node.kill9().await;
    node.restart().await;
    assert_previous_version(&node, &listed, "after the restart").await;
}
