//! A three-server NATS cluster under three nodes (JetStream with three
//! replicas; node i lists server i first): one NATS server killed (SIGKILL)
//! under load, then restarted. Its node moves to another server by itself;
//! with two servers of three up JetStream keeps its quorum, so publishes on
//! every node go on (at most a short run of fast 503s, measured); nothing
//! acknowledged is lost, every node holds one identical history, and
//! delivery across nodes works throughout.

use std::time::Instant;

use edgefn_e2e::nats::{node_config, start_nodes, wait_healthy};
use edgefn_e2e::sse::Sse;
use edgefn_e2e::wait::TIMEOUT;
use edgefn_e2e::*;

use super::load::{ANSWER_WITHIN, HISTORY_LIMIT, Load, ROOMY_HISTORY, acknowledged};
use super::{NODES, assert_same_histories};

const CHANNEL: &str = "failover.x";
/// Acknowledged publishes each writer makes before the kill, after it, and
/// after the restart.
const ACKED: usize = 20;
/// The NATS server killed (node 0's first choice).
const VICTIM: usize = 0;

#[tokio::test]
async fn a_nats_server_killed_under_load_loses_nothing() {
    let mut servers = NatsServer::start_cluster(NODES).await;
    // Node i prefers server i, then the others; JetStream keeps 3 copies.
    let configs: Vec<String> = (0..NODES)
        .map(|i| {
            let urls: Vec<String> = (0..NODES).map(|j| servers[(i + j) % NODES].url()).collect();
            let config = node_config(ROOMY_HISTORY, &urls.join(","));
            format!("{config}replicas = {NODES}\n")
        })
        .collect();
    let nodes = start_nodes(&configs).await;
    let (mut across, _) = Sse::ready(&nodes[VICTIM], "failover.marker", None).await;
    let writers: Vec<usize> = (0..NODES).collect();

    let load = Load::start(&nodes, CHANNEL);
    load.wait_acked(&writers, Instant::now(), ACKED).await;

    servers[VICTIM].kill().await;
    let killed = Instant::now();
    load.wait_acked(&writers, killed, ACKED).await;
    let recovered = killed.elapsed();
    for node in &nodes {
        wait_healthy(node, TIMEOUT).await;
    }
    // Delivery across nodes, to the node whose server died.
    nodes[2]
        .publish("failover.marker", &json!({"after": "kill"}))
        .await;
    let delivered = across.next_message().await;
    assert_eq!(delivered["message"]["after"], "kill", "{delivered}");

    servers[VICTIM].restart().await;
    load.wait_acked(&writers, Instant::now(), ACKED).await;
    let outcomes = load.stop().await;
    let acknowledged = acknowledged(&outcomes, ANSWER_WITHIN);

    let refused: Vec<_> = outcomes
        .iter()
        .flatten()
        .filter(|o| o.status == Some(503))
        .collect();
    let slowest = refused.iter().map(|o| o.took).max().unwrap_or_default();
    eprintln!(
        "NATS server killed in a three-server cluster: {} publishes acknowledged, {} refused \
         with 503 (slowest answer {slowest:?}); every writer acknowledged again {recovered:?} \
         after the kill",
        acknowledged.len(),
        refused.len()
    );
    let nodes: Vec<&Node> = nodes.iter().collect();
    assert_same_histories(&nodes, CHANNEL, HISTORY_LIMIT, &acknowledged).await;
}
