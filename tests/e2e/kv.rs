//! The key-value store through a real guest (`caps`): get, set with a TTL
//! (expired keys are never returned), delete, incr, list-keys paged by a
//! cursor (at most 100 keys a page); keys up to 1,000 bytes and values up to
//! 32 KiB, at and past the edge; and the operator's side (`edgefn kv
//! get|set|delete|list` and the admin API) reading and writing the same
//! store. Durability across `kill -9` is in `restart`.

use std::time::Duration;

use edgefn_e2e::caps::{self, err, ok};
use edgefn_e2e::wait::eventually;
use edgefn_e2e::*;
use reqwest::Method;

/// A node with `caps` deployed as an endpoint.
async fn caps_node() -> Node {
    let node = Node::start().await;
    node.deploy_caps("caps", json!({})).await;
    node
}

#[tokio::test]
async fn get_set_incr_and_delete_through_a_guest() {
    let node = caps_node().await;
    let results = node
        .run_ops(
            "caps",
            &[
                caps::kv_get("k:a"),
                caps::kv_set("k:a", "hello", None),
                caps::kv_get("k:a"),
                caps::kv_incr("k:n", 5),
                caps::kv_incr("k:n", -7),
                caps::kv_set("k:s", "not a number", None),
                caps::kv_incr("k:s", 1),
                caps::kv_delete("k:a"),
                caps::kv_delete("k:a"),
                caps::kv_get("k:a"),
            ],
        )
        .await;
    assert_eq!(ok(&results[0]), &Value::Null, "missing key");
    assert_eq!(ok(&results[1]), &Value::Null);
    assert_eq!(ok(&results[2]), "hello");
    assert_eq!(ok(&results[3]), 5);
    assert_eq!(ok(&results[4]), -2);
    assert!(err(&results[6], "invalid").contains("not an integer"));
    assert_eq!(ok(&results[7]), true, "delete of a present key");
    assert_eq!(ok(&results[8]), false, "delete of a deleted key");
    assert_eq!(ok(&results[9]), &Value::Null);

    // A later invocation (a fresh instance) sees what this one wrote; the
    // failed incr left the value alone.
    assert_eq!(node.run_op("caps", caps::kv_get("k:n")).await, "-2");
    assert_eq!(
        node.run_op("caps", caps::kv_get("k:s")).await,
        "not a number"
    );
    let read = node.admin(Method::GET, "/kv/k:n").await;
    assert_eq!(read.ok(), &json!({"key": "k:n", "value": "-2"}));
}

#[tokio::test]
async fn expired_keys_are_never_returned() {
    let node = caps_node().await;
    let results = node
        .run_ops(
            "caps",
            &[
                caps::kv_set("ttl:a", "short", Some(1)),
                caps::kv_set("ttl:c", "5", Some(1)),
                caps::kv_set("ttl:keep", "long", None),
                caps::kv_get("ttl:a"),
                caps::kv_list("ttl:", None, None),
            ],
        )
        .await;
    assert_eq!(ok(&results[3]), "short", "read back before it expires");
    assert_eq!(
        ok(&results[4]),
        &json!({"keys": ["ttl:a", "ttl:c", "ttl:keep"], "cursor": null})
    );
    node.cli(&["kv", "set", "ttl:op", "operator", "--ttl", "1"])
        .await
        .ok();
    assert_eq!(
        node.run_op("caps", caps::kv_get("ttl:op")).await,
        "operator"
    );

    // Wait (bounded) for the expiry as the operator sees it...
    eventually(
        "ttl:a and ttl:op to expire",
        Duration::from_secs(10),
        || async {
            let a = node.admin(Method::GET, "/kv/ttl:a").await.status;
            let op = node.admin(Method::GET, "/kv/ttl:op").await.status;
            (a == 404 && op == 404).then_some(())
        },
    )
    .await;
    // ...then nothing returns them: get, list, incr (which starts from 0).
    let results = node
        .run_ops(
            "caps",
            &[
                caps::kv_get("ttl:a"),
                caps::kv_get("ttl:op"),
                caps::kv_list("ttl:", None, None),
                caps::kv_incr("ttl:c", 1),
                caps::kv_delete("ttl:a"),
            ],
        )
        .await;
    assert_eq!(ok(&results[0]), &Value::Null);
    assert_eq!(ok(&results[1]), &Value::Null);
    assert_eq!(
        ok(&results[2]),
        &json!({"keys": ["ttl:keep"], "cursor": null})
    );
    assert_eq!(ok(&results[3]), 1, "incr on an expired counter starts over");
    assert_eq!(ok(&results[4]), false, "an expired key was not there");
    let listed = node.admin(Method::GET, "/kv?prefix=ttl:").await;
    assert_eq!(listed.ok()["keys"], json!(["ttl:c", "ttl:keep"]));
    node.cli(&["kv", "get", "ttl:a"]).await.failed();
}

#[tokio::test]
async fn keys_and_values_at_and_past_their_limits() {
    let node = caps_node().await;
    // Limits are in bytes: `é` is two.
    let key_1000 = "é".repeat(500);
    let key_1001 = format!("{key_1000}k");
    let value_32k = "é".repeat(16 * 1024);
    let value_past = format!("{value_32k}v");
    let results = node
        .run_ops(
            "caps",
            &[
                caps::kv_set(&key_1000, "at the edge", None),
                caps::kv_get(&key_1000),
                caps::kv_set(&key_1001, "past it", None),
                caps::kv_incr(&key_1001, 1),
                caps::kv_get(""),
                caps::kv_set("big", &value_32k, None),
                caps::kv_get("big"),
                caps::kv_set("bigger", &value_past, None),
                caps::kv_get("bigger"),
            ],
        )
        .await;
    assert_eq!(ok(&results[0]), &Value::Null);
    assert_eq!(ok(&results[1]), "at the edge");
    for i in [2, 3] {
        let message = err(&results[i], "too-large");
        assert!(
            message.contains("1000") && message.contains("1001"),
            "{message}"
        );
    }
    err(&results[4], "invalid");
    assert_eq!(ok(&results[5]), &Value::Null);
    assert_eq!(ok(&results[6]).as_str().map(str::len), Some(32 * 1024));
    assert_eq!(ok(&results[6]), value_32k.as_str());
    let message = err(&results[7], "too-large");
    assert!(
        message.contains("32769") && message.contains("32768"),
        "{message}"
    );
    assert_eq!(ok(&results[8]), &Value::Null, "nothing was stored");

    // The operator's side has the same limits.
    let put = |key: &str, value: &str| {
        let url = node.url(&format!("/v1/admin/kv/{key}"));
        let request = node
            .http()
            .put(url)
            .bearer_auth(node.admin_key())
            .body(value.to_owned());
        node.send(request)
    };
    put("op-big", &value_32k).await.ok();
    put("op-bigger", &value_past).await.error(413, "too_large");
    node.cli(&["kv", "set", &key_1001, "v"]).await.failed();
    let stdout = node.cli(&["kv", "get", &key_1000]).await.ok().to_owned();
    assert_eq!(stdout, "at the edge\n");
}

#[tokio::test]
async fn list_keys_pages_of_at_most_100_with_a_cursor() {
    let node = caps_node().await;
    // 205 keys `p:000`..`p:204` written in one invocation (budget raised),
    // and neighbours that the prefix excludes.
    node.deploy_caps("filler", json!({"kv_calls": 300})).await;
    let mut fill: Vec<Value> = (0..205)
        .map(|i| caps::kv_set(&format!("p:{i:03}"), "x", None))
        .collect();
    fill.extend([caps::kv_set("p", "x", None), caps::kv_set("q:0", "x", None)]);
    for result in node.run_ops("filler", &fill).await {
        ok(&result);
    }
    let names = |range: std::ops::Range<usize>| -> Vec<String> {
        range.map(|i| format!("p:{i:03}")).collect()
    };

    let page = |cursor: Option<&str>, limit: Option<u32>| caps::kv_list("p:", cursor, limit);
    let results = node
        .run_ops(
            "caps",
            &[
                page(None, None),
                page(Some("p:099"), None),
                page(Some("p:199"), None),
                page(None, Some(500)),
                page(None, Some(7)),
                caps::kv_list("p:1", None, None),
                caps::kv_list("none:", None, None),
            ],
        )
        .await;
    assert_eq!(
        ok(&results[0]),
        &json!({"keys": names(0..100), "cursor": "p:099"})
    );
    assert_eq!(
        ok(&results[1]),
        &json!({"keys": names(100..200), "cursor": "p:199"})
    );
    assert_eq!(
        ok(&results[2]),
        &json!({"keys": names(200..205), "cursor": null})
    );
    assert_eq!(
        ok(&results[3]),
        ok(&results[0]),
        "a page never has more than 100 keys"
    );
    assert_eq!(
        ok(&results[4]),
        &json!({"keys": names(0..7), "cursor": "p:006"})
    );
    assert_eq!(ok(&results[5])["keys"], json!(names(100..200)));
    assert_eq!(ok(&results[6]), &json!({"keys": [], "cursor": null}));

    // The operator lists them all (the CLI follows the cursor) or a page.
    let listed = node.cli(&["kv", "list", "p:"]).await.ok().to_owned();
    assert_eq!(listed.lines().collect::<Vec<_>>(), names(0..205));
    let page = node.admin(Method::GET, "/kv?prefix=p:&limit=1000").await;
    assert_eq!(page.ok()["keys"], json!(names(0..100)));
    assert_eq!(page.ok()["cursor"], "p:099");
}

#[tokio::test]
async fn the_operator_and_functions_share_the_store() {
    let node = caps_node().await;
    node.cli(&["kv", "set", "op:greeting", "hello"]).await.ok();
    node.cli(&["kv", "set", "op:json", r#"{"a": [1, 2]}"#])
        .await
        .ok();
    let results = node
        .run_ops(
            "caps",
            &[
                caps::kv_get("op:greeting"),
                caps::kv_get("op:json"),
                caps::kv_set("op:reply", "from the guest", None),
            ],
        )
        .await;
    assert_eq!(ok(&results[0]), "hello");
    assert_eq!(ok(&results[1]), r#"{"a": [1, 2]}"#);
    ok(&results[2]);
    let stdout = node.cli(&["kv", "get", "op:reply"]).await.ok().to_owned();
    assert_eq!(stdout, "from the guest\n");
    let stdout = node.cli(&["kv", "list", "op:"]).await.ok().to_owned();
    assert_eq!(stdout, "op:greeting\nop:json\nop:reply\n");

    node.cli(&["kv", "delete", "op:greeting"]).await.ok();
    assert_eq!(
        node.run_op("caps", caps::kv_get("op:greeting")).await,
        Value::Null
    );
    let again = node.cli(&["kv", "delete", "op:greeting"]).await;
    assert!(again.ok().is_empty());
    assert!(again.stderr.contains("was not there"), "{}", again.stderr);
    let missing = node.cli(&["kv", "get", "op:greeting"]).await;
    assert!(
        missing.failed().contains("op:greeting"),
        "{}",
        missing.stderr
    );
}
