//! The cluster's secrets key comes from each node's configuration
//! (`[nats] secrets_key_file`), never from NATS: whoever can read NATS
//! finds only sealed secrets there, and a node started without the key
//! refuses to start, saying how to make one.

use std::time::Duration;

use edgefn_e2e::caps::{self, ok};
use edgefn_e2e::nats::secrets_key_file;
use edgefn_e2e::node::{serve_command, write_config};
use edgefn_e2e::wait::eventually;
use edgefn_e2e::*;
use futures::StreamExt;

const SECRET: &str = "cluster-secret-VGFuZ2VyaW5l";

#[tokio::test]
async fn a_cluster_node_without_a_secrets_key_refuses_to_start_saying_what_to_do() {
    let nats = NatsServer::start().await;
    let dir = Node::temp_dir();
    let config = write_config(&dir, &format!("[nats]\nurl = \"{}\"\n", nats.url()));
    let options = NodeOptions {
        config: Some(config),
        ..NodeOptions::default()
    };
    let output = tokio::time::timeout(
        wait::TIMEOUT,
        serve_command(dir.path(), &options)
            .env_remove("EDGEFN_SECRETS_KEY_FILE")
            .output(),
    )
    .await
    .expect("the node to exit")
    .expect("edgefn serve runs");
    assert!(!output.status.success(), "started without a secrets key");
    let stderr = String::from_utf8_lossy(&output.stderr);
    for hint in [
        "secrets_key_file",
        "EDGEFN_SECRETS_KEY_FILE",
        "openssl rand",
    ] {
        assert!(stderr.contains(hint), "no `{hint}` in: {stderr}");
    }
}

#[tokio::test]
async fn secrets_open_on_every_node_with_the_configured_key_and_nats_holds_no_key() {
    let nats = NatsServer::start().await;
    let nodes = nats.start_nodes(2, "").await;
    let (a, b) = (&nodes[0], &nodes[1]);
    a.deploy_caps("vault", json!({"secrets": {"TOKEN": SECRET}}))
        .await;
    eventually(
        "vault, deployed on A, to answer on B",
        Duration::from_secs(5),
        || async {
            let answer = b
                .http()
                .post(b.url("/v1/fn/vault/run"))
                .json(&json!({ "ops": [caps::secret("TOKEN")] }))
                .send()
                .await
                .ok()?;
            (answer.status() == 200).then_some(())
        },
    )
    .await;
    let results = b.run_ops("vault", &[caps::secret("TOKEN")]).await;
    assert_eq!(
        ok(&results[0]),
        SECRET,
        "unsealed on B with the configured key"
    );

    // What NATS holds: the sealed record, and no key.
    let client = async_nats::connect(nats.url()).await.expect("NATS answers");
    let js = async_nats::jetstream::new(client);
    let bucket = js
        .get_key_value("edgefn_deployments")
        .await
        .expect("the deployments bucket");
    let keys: Vec<String> = bucket
        .keys()
        .await
        .expect("keys")
        .map(|k| k.expect("a key"))
        .collect()
        .await;
    assert_eq!(keys, ["vault"], "NATS holds more than the deployment");
    let record = bucket.get("vault").await.expect("get").expect("the record");
    let record = String::from_utf8_lossy(&record);
    assert!(
        !record.contains(SECRET),
        "the secret in clear in NATS: {record}"
    );
    let key = std::fs::read_to_string(secrets_key_file()).unwrap();
    assert!(!record.contains(key.trim()), "the key in NATS: {record}");
}
