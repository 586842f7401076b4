//! One node partitioned away from NATS while the others stay joined: node
//! 0 reaches NATS through a proxy that the test cuts under load. While cut,
//! node 0 answers publishes with fast 503s and `/healthz` says 503, and
//! nodes 1 and 2 go on taking publishes; once healed, node 0 reports itself
//! healthy by itself, delivers what the others publish to its subscribers
//! (the time from healing to the first such delivery is measured), and its
//! history holds everything acknowledged anywhere, in the same order.

use std::time::Instant;

use edgefn_e2e::nats::{node_config, start_nodes, wait_healthy};
use edgefn_e2e::sse::Sse;
use edgefn_e2e::tcp_proxy::TcpProxy;
use edgefn_e2e::wait::{TIMEOUT, eventually};
use edgefn_e2e::*;

use super::load::{ANSWER_WITHIN, HISTORY_LIMIT, Load, ROOMY_HISTORY, acknowledged};
use super::{NODES, assert_same_histories};

const CHANNEL: &str = "partition.x";
/// Acknowledged publishes each writer makes before the cut and after the
/// healing; and publishes of the cut-off node refused meanwhile.
const ACKED: usize = 20;
const REFUSED: usize = 5;
/// The node cut off.
const CUT: usize = 0;

#[tokio::test]
async fn a_node_cut_off_from_nats_refuses_then_catches_up() {
    let nats = NatsServer::start().await;
    let proxy = TcpProxy::start(nats.port()).await;
    let configs: Vec<String> = (0..NODES)
        .map(|i| match i {
            CUT => node_config(ROOMY_HISTORY, &format!("nats://127.0.0.1:{}", proxy.port())),
            _ => nats.node_config(ROOMY_HISTORY),
        })
        .collect();
    let nodes = start_nodes(&configs).await;
    let (mut marker, _) = Sse::ready(&nodes[CUT], "partition.marker", None).await;
    let all: Vec<usize> = (0..NODES).collect();
    let others: Vec<usize> = all.iter().copied().filter(|&i| i != CUT).collect();

    let load = Load::start(&nodes, CHANNEL);
    load.wait_acked(&all, Instant::now(), ACKED).await;

    proxy.cut();
    let cut = Instant::now();
    let refused = || async { (load.count_since(CUT, cut, Some(503)) >= REFUSED).then_some(()) };
    eventually("the cut-off node to refuse publishes", TIMEOUT, refused).await;
    load.wait_acked(&others, cut, ACKED).await;
    let health = nodes[CUT].get("/healthz").await;
    assert_eq!(health.status, 503, "cut off, yet healthy: {}", health.body);

    proxy.heal();
    let healed = Instant::now();
    wait_healthy(&nodes[CUT], TIMEOUT).await;
    let healthy_in = healed.elapsed();
    // What another node publishes reaches the healed node's subscriber.
    nodes[1]
        .publish("partition.marker", &json!({"after": "heal"}))
        .await;
    let delivered = marker.next_message().await;
    let delivered_in = healed.elapsed();
    assert_eq!(delivered["message"]["after"], "heal", "{delivered}");
    load.wait_acked(&all, healed, ACKED).await;
    let outcomes = load.stop().await;
    let acknowledged = acknowledged(&outcomes, ANSWER_WITHIN);
    let refused = outcomes[CUT]
        .iter()
        .filter(|o| o.status == Some(503))
        .count();
    eprintln!(
        "node cut off from NATS: {refused} publishes refused on it; healthy {healthy_in:?} after \
         healing, first cross-node delivery {delivered_in:?} after healing; {} acknowledged in all",
        acknowledged.len()
    );
    let nodes: Vec<&Node> = nodes.iter().collect();
    assert_same_histories(&nodes, CHANNEL, HISTORY_LIMIT, &acknowledged).await;
}
