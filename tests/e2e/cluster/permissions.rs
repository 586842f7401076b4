//! The NATS permissions a node needs (README, "A cluster of nodes"), and
//! only those, run a working cluster: two nodes logged in as the `node`
//! user of a nats-server with accounts carry a publish from one to a
//! subscriber and the history of the other, and run an after-publish
//! function deployed with a secret. A `client` user of the same account,
//! denied the node's subjects, can neither append to the cluster log
//! (`edgefn.msg.>`, which would bypass hooks and access control: NATS
//! answers with a permissions violation and nothing reaches the nodes)
//! nor read the deployments bucket that holds the sealed secrets.

use std::time::Duration;

use edgefn_e2e::nats::{node_config, start_nodes};
use edgefn_e2e::recorder::Recorder;
use edgefn_e2e::wait::{TIMEOUT, eventually};
use edgefn_e2e::*;
use reqwest::Method;

/// An account with JetStream, its `node` user allowed what the README
/// lists, and a `client` user denied the nodes' subjects.
const SERVER_CONFIG: &str = r#"
accounts {
  EDGEFN {
    jetstream: enabled
    users: [
      {
        user: node, password: node-pass,
        permissions: {
          publish: { allow: ["edgefn.>", "$JS.API.>", "$JS.ACK.>", "$JS.FC.>", "$KV.>", "$O.>", "_INBOX.>"] }
          subscribe: { allow: ["edgefn.>", "_INBOX.>", "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.EDGEFN_MESSAGES.*"] }
        }
      }
      {
        user: client, password: client-pass,
        permissions: {
          publish: { deny: ["edgefn.>", "$JS.>", "$KV.>", "$O.>"] }
          subscribe: { deny: ["edgefn.>", "$JS.>", "$KV.>", "$O.>"] }
        }
      }
    ]
  }
}
"#;

const SECRET: &str = "nats-permission-secret-Q2hlcnJ5";

#[tokio::test]
async fn nodes_run_with_the_documented_permissions_and_a_client_cannot_write_the_log() {
    let nats = NatsServer::start_with_config(SERVER_CONFIG).await;
    let url = nats.url().replace("nats://", "nats://node:node-pass@");
    let nodes = start_nodes(&vec![node_config("", &url); 2]).await;
    let (a, b) = (&nodes[0], &nodes[1]);

    let recorder = Recorder::start().await;
    let spec = json!({
        "after_publish": ["perm.*"],
        "allow_outbound": [recorder.url("")],
        "secrets": {"TOKEN": SECRET},
        "config": {"forward_url": recorder.url("/got")}
    });
    a.deploy_ok("sleepy", "sleepy", &spec).await;
    eventually("sleepy to be deployed on B", TIMEOUT, || async {
        let answer = b.admin(Method::GET, "/functions/sleepy").await;
        (answer.status == 200).then_some(())
    })
    .await;
    let (mut sse, _) = Sse::ready(b, "perm.x", None).await;
    let timetoken = a.publish("perm.x", &json!({"id": 1})).await;
    let delivered = sse.next_message().await;
    assert_eq!(delivered["message"], json!({"id": 1}), "{delivered}");
    assert_eq!(delivered["timetoken"], timetoken, "{delivered}");
    let forwarded = eventually("the after-publish copy to run", TIMEOUT, || async {
        recorder.all().into_iter().next()
    })
    .await;
    assert_eq!(forwarded.json()["message"], json!({"id": 1}));

    // The client user: refused the log and the buckets.
    let (violations, mut seen) = tokio::sync::mpsc::unbounded_channel();
    let client =
        async_nats::ConnectOptions::with_user_and_password("client".into(), "client-pass".into())
            .event_callback(move |event| {
                let violations = violations.clone();
                async move {
                    if let async_nats::Event::ServerError(e) = event {
                        let _ = violations.send(e.to_string());
                    }
                }
            })
            .connect(nats.url())
            .await
            .expect("the client user connects");
    client
        .publish("edgefn.msg.perm.x", "forged".into())
        .await
        .expect("the publish is sent");
    client.flush().await.expect("flushed");
    let refusal = tokio::time::timeout(TIMEOUT, seen.recv())
        .await
        .expect("NATS to refuse the forged append")
        .expect("an error");
    assert!(
        refusal.to_lowercase().contains("permissions violation"),
        "{refusal}"
    );
    let js = async_nats::jetstream::ContextBuilder::new()
        .timeout(Duration::from_secs(2))
        .build(client);
    let bucket = js.get_key_value("edgefn_deployments").await;
    assert!(bucket.is_err(), "the client read the deployments bucket");

    // Nothing forged reached the nodes: the next message B delivers is
    // the next one published.
    a.publish("perm.x", &json!({"id": 2})).await;
    let delivered = sse.next_message().await;
    assert_eq!(delivered["message"], json!({"id": 2}), "{delivered}");
}
