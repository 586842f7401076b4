//! The functions' KV store is the cluster's: a key written through one node
//! (with the `edgefn kv` CLI or the admin API) is read through the others,
//! an overwrite and a delete are seen everywhere, and a function on another
//! node reads what the operator wrote.

use std::time::Duration;

use edgefn_e2e::wait::eventually;
use edgefn_e2e::*;
use reqwest::Method;

use super::cluster;

/// How long a write may take to be seen through another node.
const SEEN: Duration = Duration::from_secs(5);

/// `PUT /v1/admin/kv/{key}` with `value` through `node`.
async fn put(node: &Node, key: &str, value: &str) -> Answer {
    let request = node
        .http()
        .put(node.url(&format!("/v1/admin/kv/{key}")))
        .bearer_auth(node.admin_key())
        .body(value.to_owned());
    node.send(request).await
}

/// Waits until `GET /v1/admin/kv/{key}` through `node` answers `status`
/// (and, for 200, `value`).
async fn wait_read(node: &Node, name: &str, key: &str, status: u16, value: Option<&str>) {
    let what = format!("{key} to read {status} {value:?} through node {name}");
    eventually(&what, SEEN, || async {
        let answer = node.admin(Method::GET, &format!("/kv/{key}")).await;
        let expected = match value {
            Some(value) => json!({"key": key, "value": value}),
            None => answer.body.clone(),
        };
        (answer.status == status && answer.body == expected).then_some(())
    })
    .await;
}

#[tokio::test]
async fn kv_writes_and_deletes_are_seen_through_every_node() {
    let (_nats, nodes) = cluster("").await;
    let (a, b, c) = (&nodes[0], &nodes[1], &nodes[2]);

    // Written with the CLI through A; read through B (admin API) and C (CLI).
    a.cli(&["kv", "set", "shared:greeting", "hello from A"])
        .await
        .ok();
    wait_read(b, "B", "shared:greeting", 200, Some("hello from A")).await;
    assert_eq!(
        c.cli(&["kv", "get", "shared:greeting"]).await.ok(),
        "hello from A\n"
    );

    // Overwritten through C with the admin API; read through A.
    put(c, "shared:greeting", "hello from C").await.ok();
    put(c, "shared:other", "x").await.ok();
    wait_read(a, "A", "shared:greeting", 200, Some("hello from C")).await;
    let listed = b.cli(&["kv", "list", "shared:"]).await;
    assert_eq!(listed.ok(), "shared:greeting\nshared:other\n");

    // A function deployed through A (the counter) reads, through C, a count
    // the operator wrote through B.
    let spec = json!({"endpoint": true, "after_publish": ["chat.*"]});
    a.deploy_ok("counter", "counter", &spec).await;
    put(b, "count:chat.kv", "41").await.ok();
    let count = eventually("the counter to answer on C", SEEN, || async {
        let answer = c.get("/v1/fn/counter/chat.kv").await;
        (answer.status == 200).then_some(answer.body)
    })
    .await;
    assert_eq!(count["count"], 41, "{count}");

    // Deleted with the CLI through B: gone through A and C.
    b.cli(&["kv", "delete", "shared:greeting"]).await.ok();
    wait_read(a, "A", "shared:greeting", 404, None).await;
    wait_read(c, "C", "shared:greeting", 404, None).await;
    let missing = c.cli(&["kv", "get", "shared:greeting"]).await;
    assert!(
        missing.failed().contains("shared:greeting"),
        "{}",
        missing.stderr
    );
    let listed = a.cli(&["kv", "list", "shared:"]).await;
    assert_eq!(listed.ok(), "shared:other\n");
}
