//! NATS killed (SIGKILL) and restarted under load: while it is down,
//! publishes on every node fail fast with 503 (each answered within a few
//! seconds, never hanging) and `/healthz` says so; the nodes keep running;
//! once NATS is back they take publishes again by themselves, and every
//! publish acknowledged before, during or after the outage is in the
//! history of every node, in one order.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use edgefn_e2e::check::short;
use edgefn_e2e::nats::wait_healthy;
use edgefn_e2e::wait::{TIMEOUT, eventually};
use edgefn_e2e::*;

use super::load::Load;
use super::{NODES, assert_same_histories, cluster};

const CHANNEL: &str = "outage.x";
/// Room in history for everything the writers manage to publish.
const CONFIG: &str = "[bus]\nhistory_per_channel = 100000\n";
const HISTORY_LIMIT: usize = 100_000;
/// The longest a publish may take to be answered, during the outage too.
const ANSWER_WITHIN: Duration = Duration::from_secs(5);
/// Acknowledged publishes each writer makes before the kill and after the restart.
const ACKED: usize = 20;
/// Refused publishes each writer sees during the outage.
const REFUSED: usize = 5;

#[tokio::test]
async fn publishes_fail_fast_while_nats_is_down_and_resume_after() {
    let (mut nats, nodes) = cluster(CONFIG).await;
    let load = Load::start(&nodes, CHANNEL);
    let started = Instant::now();
    let acked_since = |since: Instant| {
        let load = &load;
        move || async move {
            (0..NODES)
                .all(|w| load.count_since(w, since, Some(200)) >= ACKED)
                .then_some(())
        }
    };
    eventually(
        "every writer to be acknowledged",
        TIMEOUT,
        acked_since(started),
    )
    .await;

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
    eventually(
        "every writer to be acknowledged after the restart",
        TIMEOUT,
        acked_since(restarted),
    )
    .await;
    let outcomes = load.stop().await;

    // Every answer came in time, and was a success or a 503.
    let mut acknowledged = HashMap::new();
    for outcome in outcomes.iter().flatten() {
        assert!(
            outcome.took <= ANSWER_WITHIN,
            "writer {}'s publish took {:?} to answer (sent {:?} after the kill): {:?} {}",
            outcome.writer,
            outcome.took,
            outcome.sent.saturating_duration_since(killed),
            outcome.status,
            short(&outcome.body)
        );
        let during_outage = outcome.sent >= killed && outcome.sent + outcome.took <= restarted;
        match outcome.status {
            Some(200) if during_outage => panic!(
                "writer {}'s publish was acknowledged while NATS was down: {}",
                outcome.writer,
                short(&outcome.body)
            ),
            Some(200) => {
                let timetoken = outcome.timetoken().expect("a timetoken");
                let previous = acknowledged.insert(timetoken, outcome.message.clone());
                assert!(previous.is_none(), "timetoken {timetoken} given twice");
            }
            Some(503) => {}
            _ => panic!(
                "writer {}'s publish (sent {:?} after the kill) answered {:?}: {}",
                outcome.writer,
                outcome.sent.saturating_duration_since(killed),
                outcome.status,
                short(&outcome.body)
            ),
        }
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
