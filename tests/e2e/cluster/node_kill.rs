//! A node killed (`kill -9`) under load: the other nodes keep taking
//! publishes without a failure and hold every message the killed node
//! acknowledged; restarted on its data dir, the killed node catches up
//! with the log, and all three histories are equal.

use std::collections::HashMap;
use std::time::Instant;

use edgefn_e2e::check::short;
use edgefn_e2e::nats::wait_healthy;
use edgefn_e2e::wait::TIMEOUT;
use edgefn_e2e::*;

use super::load::{HISTORY_LIMIT, Load, ROOMY_HISTORY};
use super::{assert_same_histories, cluster};

const CHANNEL: &str = "kill.x";
/// Acknowledged publishes each writer makes before the kill and after it.
const ACKED: usize = 30;
/// The node killed.
const VICTIM: usize = 2;

#[tokio::test]
async fn a_killed_node_loses_nothing_it_acknowledged_and_catches_up() {
    let (_nats, mut nodes) = cluster(ROOMY_HISTORY).await;
    let load = Load::start(&nodes, CHANNEL);
    let writers: Vec<usize> = (0..nodes.len()).collect();
    load.wait_acked(&writers, Instant::now(), ACKED).await;

    nodes[VICTIM].kill9().await;
    let killed = Instant::now();
    let survivors: Vec<usize> = writers.into_iter().filter(|&i| i != VICTIM).collect();
    load.wait_acked(&survivors, killed, ACKED).await;
    let outcomes = load.stop().await;

    // The survivors answered every publish with success; the victim did
    // until it died.
    let mut acknowledged = HashMap::new();
    for outcome in outcomes.iter().flatten() {
        if outcome.writer != VICTIM {
            assert_eq!(
                outcome.status,
                Some(200),
                "node {}'s publish (sent {:?} after the kill) failed: {}",
                outcome.writer,
                outcome.sent.saturating_duration_since(killed),
                short(&outcome.body)
            );
        }
        if let Some(timetoken) = outcome.timetoken() {
            let previous = acknowledged.insert(timetoken, outcome.message.clone());
            assert!(previous.is_none(), "timetoken {timetoken} given twice");
        }
    }
    let by_victim = outcomes[VICTIM]
        .iter()
        .filter(|o| o.timetoken().is_some())
        .count();
    assert!(by_victim >= ACKED, "the victim acknowledged {by_victim}");

    // The survivors hold everything, the victim's acknowledgements included.
    let survivors: Vec<&Node> = survivors.iter().map(|&i| &nodes[i]).collect();
    assert_same_histories(&survivors, CHANNEL, HISTORY_LIMIT, &acknowledged).await;

    // Restarted, the victim catches up.
    nodes[VICTIM].restart().await;
    wait_healthy(&nodes[VICTIM], TIMEOUT).await;
    let all: Vec<&Node> = nodes.iter().collect();
    assert_same_histories(&all, CHANNEL, HISTORY_LIMIT, &acknowledged).await;
}
