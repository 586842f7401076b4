//! A busy function's after-publish copies are not used up: the `sleepy`
//! guest (400 ms a copy) may run one invocation at a time
//! (`max_concurrency = 1`) while each node starts many copies of it at
//! once, so most answer "busy". Each copy still runs, exactly once: a busy
//! answer keeps the copy on its node (its acknowledgement deadline pushed
//! back) and tries it again after a backoff, using none of the copy's
//! deliveries (five busy answers used to drop it without a trace).

use edgefn_e2e::nats::start_nodes;
use edgefn_e2e::recorder::Recorder;
use edgefn_e2e::wait::{TIMEOUT, eventually};
use edgefn_e2e::*;
use reqwest::Method;

/// Messages published: 16 copies of 400 ms, one at a time on each of two
/// nodes, take about 3.2 s, far more than five busy answers 500 ms apart.
const MESSAGES: usize = 16;

#[tokio::test]
async fn a_busy_functions_after_publish_copies_all_run_once() {
    let nats = NatsServer::start().await;
    let nodes = start_nodes(&vec![nats.node_config(""); 2]).await;
    let recorder = Recorder::start().await;
    let spec = json!({
        "after_publish": ["busy.*"],
        "timeout_ms": 2000,
        "max_concurrency": 1,
        "allow_outbound": [recorder.url("")],
        "config": {"after_sleep_ms": "400", "forward_url": recorder.url("/got")}
    });
    nodes[0].deploy_ok("sleepy", "sleepy", &spec).await;
    for node in &nodes {
        eventually("sleepy to be deployed on every node", TIMEOUT, || async {
            let answer = node.admin(Method::GET, "/functions/sleepy").await;
            (answer.status == 200).then_some(())
        })
        .await;
    }
    let sends = (0..MESSAGES).map(|n| {
        let node = &nodes[n % nodes.len()];
        async move { node.publish("busy.x", &json!({"id": n})).await }
    });
    futures::future::join_all(sends).await;

    let mut ids = eventually("every copy to run", TIMEOUT, || async {
        let got = recorder.all();
        (got.len() >= MESSAGES).then_some(got)
    })
    .await
    .iter()
    .map(|request| request.json()["message"]["id"].as_u64().expect("an id"))
    .collect::<Vec<_>>();
    ids.sort_unstable();
    assert_eq!(
        ids,
        (0..MESSAGES as u64).collect::<Vec<_>>(),
        "each copy once"
    );
    for node in &nodes {
        let metrics = node.metrics_text().await;
        assert!(
            metrics.contains("edgefn_after_publish_dropped_total 0"),
            "{metrics}"
        );
    }
}
