//! NATS killed (SIGKILL) and restarted under load: while it is down,
//! publishes on every node fail fast with 503 (each answered within a few
//! seconds, never hanging) and `/healthz` says so; the nodes keep running;
//! once NATS is back they take publishes again by themselves, and every
//! publish acknowledged before, during or after the outage is in the
//! history of every node, in one order.

use std::time::Instant;

use edgefn_e2e::check::short;
use edgefn_e2e::nats::wait_healthy;
use edgefn_e2e::wait::{TIMEOUT, eventually};
use edgefn_e2e::*;

use super::load::{ANSWER_WITHIN, HISTORY_LIMIT, Load, ROOMY_HISTORY, acknowledged};
use super::{NODES, assert_same_histories, cluster};

const CHANNEL: &str = "outage.x";
/// Acknowledged publishes each writer makes before the kill and after the restart.
const ACKED: usize = 20;
/// Refused publishes each writer sees during the outage.
const REFUSED: usize = 5;

#[tokio::test]
async fn publishes_fail_fast_while_nats_is_down_and_resume_after() {
    let (mut nats, nodes) = cluster(ROOMY_HISTORY).await;
    let writers: Vec<usize> = (0..NODES).collect();
    let load = Load::start(&nodes, CHANNEL);
    load.wait_acked(&writers, Instant::now(), ACKED).await;

    nats.kill().await;
    let killed = Instant::now();
    eventually(
        "every writer to be refused with 503 during the outage",
        TIMEOUT,
        || async {
            (0..NODES)
                .all(|w| load.count_since(w, killed, Some(503)) >= REFUSED)
                .then_some(())
        },
    )
    .await;
    for (i, node) in nodes.iter().enumerate() {
        let health = node.get("/healthz").await;
        assert_eq!(
            health.status, 503,
            "node {i} says it is healthy while NATS is down: {}",
            health.body
        );
    }

    nats.restart().await;
    let restarted = Instant::now();
    for node in &nodes {
        wait_healthy(node, TIMEOUT).await;
    }
    let reconnected = restarted.elapsed();
    load.wait_acked(&writers, restarted, ACKED).await;
    let outcomes = load.stop().await;

    // Every answer came in time, was a success or a 503, and none was a
    // success while NATS was down.
    let acknowledged = acknowledged(&outcomes, ANSWER_WITHIN);
    for outcome in outcomes.iter().flatten() {
        let during_outage = outcome.sent >= killed && outcome.sent + outcome.took <= restarted;
        assert!(
            !(during_outage && outcome.status == Some(200)),
            "writer {}'s publish was acknowledged while NATS was down: {}",
            outcome.writer,
            short(&outcome.body)
        );
    }

    let refused = outcomes.iter().flatten().filter(|o| o.status == Some(503));
    let slowest = refused.clone().map(|o| o.took).max().unwrap_or_default();
    eprintln!(
        "NATS outage: {} publishes acknowledged, {} refused with 503 (slowest answer {slowest:?}); \
         nodes healthy {reconnected:?} after the restart",
        acknowledged.len(),
        refused.count()
    );

    // Every node holds every acknowledged publish, and all in one order.
    let nodes: Vec<&Node> = nodes.iter().collect();
    assert_same_histories(&nodes, CHANNEL, HISTORY_LIMIT, &acknowledged).await;
}
