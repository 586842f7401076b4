//! After-publish work of a killed node is taken over: a slow after-publish
//! function (the `sleepy` guest, 300 ms a copy, each reported to a local
//! recorder) is fed through two nodes while all three run copies; the third
//! is killed (`kill -9`) while it runs some. Every message's copy still
//! reaches the recorder, the killed node's copies having gone to the others
//! once their acknowledgement was late (`after_publish_ack_wait_secs`);
//! copies that ran twice are at most the ones the killed node held, and
//! `GET /v1/admin/cluster` shows copies running again meanwhile, and an
//! empty queue at the end.

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;

use edgefn_e2e::nats::start_nodes;
use edgefn_e2e::recorder::Recorder;
use edgefn_e2e::wait::{TIMEOUT, eventually};
use edgefn_e2e::*;
use reqwest::Method;

use super::NODES;

/// Messages published.
const MESSAGES: usize = 300;
/// The node killed; the others publish.
const VICTIM: usize = 0;
/// How long a taken copy may go unacknowledged before another node gets it.
const ACK_WAIT_SECS: u64 = 2;
/// The most copies one node holds of one function: the share of the
/// default 64 after-publish workers a function may run (32), and as many
/// queued to start next.
const TAKEN_AT_ONCE: usize = 64;

#[tokio::test]
async fn a_killed_nodes_after_publish_copies_run_elsewhere() {
    let nats = NatsServer::start().await;
    let config = format!(
        "{}after_publish_ack_wait_secs = {ACK_WAIT_SECS}\n",
        nats.node_config("")
    );
    let mut nodes = start_nodes(&vec![config; NODES]).await;
    let recorder = Recorder::start().await;
    let spec = json!({
        "after_publish": ["work.*"],
        "timeout_ms": 1000,
        "allow_outbound": [recorder.url("")],
        "config": {"after_sleep_ms": "300", "forward_url": recorder.url("/got")}
    });
    nodes[VICTIM].deploy_ok("sleepy", "sleepy", &spec).await;
    for node in &nodes {
        eventually("sleepy to be deployed on every node", TIMEOUT, || async {
            let answer = node.admin(Method::GET, "/functions/sleepy").await;
            (answer.status == 200).then_some(())
        })
        .await;
    }

    // Published through the nodes that stay, so every publish is acknowledged.
    let publishers = (0..NODES).filter(|&i| i != VICTIM).collect::<Vec<_>>();
    let sends = (0..MESSAGES).map(|n| {
        let node = &nodes[publishers[n % publishers.len()]];
        async move { node.publish("work.x", &json!({"id": n})).await }
    });
    futures::future::join_all(sends).await;

    // The victim is running copies: it has finished one (its log shows it).
    nodes[VICTIM]
        .wait_for_log("sleepy", &["after"], TIMEOUT)
        .await;
    nodes[VICTIM].kill9().await;
    let killed = Instant::now();
    let before_kill = recorder.all().len();
    assert!(
        before_kill < MESSAGES,
        "every copy ran before the kill ({before_kill}): nothing to take over"
    );

    // Until every copy has run, the queue shows the killed node's copies
    // running again on the others.
    let survivor = &nodes[publishers[0]];
    let redelivered = AtomicU64::new(0);
    let runs = eventually(
        "every message's after-publish copy to reach the recorder",
        TIMEOUT,
        || async {
            let backlog = backlog(survivor).await;
            redelivered.fetch_max(backlog["redelivered"].as_u64().unwrap_or(0), Relaxed);
            let runs = runs_by_id(&recorder);
            (runs.len() == MESSAGES).then_some(runs)
        },
    )
    .await;
    let done_in = killed.elapsed();
    assert!(
        (0..MESSAGES).all(|n| runs.contains_key(&n)),
        "ids outside 0..{MESSAGES} reported: {runs:?}"
    );
    let redelivered = redelivered.into_inner();
    let twice = runs.values().filter(|&&count| count > 1).count();
    assert!(
        twice <= TAKEN_AT_ONCE,
        "{twice} copies ran more than once: more than the killed node could hold"
    );
    assert!(
        redelivered >= 1,
        "no copy was seen running again after the kill"
    );

    eventually("the after-publish queue to empty", TIMEOUT, || async {
        let backlog = backlog(survivor).await;
        (backlog["waiting"] == 0 && backlog["running"] == 0).then_some(())
    })
    .await;
    eprintln!(
        "after-publish takeover: {before_kill} of {MESSAGES} copies reported before the kill; \
         all done {done_in:?} after it (ack wait {ACK_WAIT_SECS} s); {redelivered} redelivered, \
         {twice} ran twice"
    );
}

/// What `sleepy`'s after-publish queue holds, as `node` reports it.
async fn backlog(node: &Node) -> Value {
    let status = node.admin(Method::GET, "/cluster").await;
    status.ok()["after_publish"]["sleepy"].clone()
}

/// How many times the recorder got each message id.
fn runs_by_id(recorder: &Recorder) -> HashMap<usize, usize> {
    let mut runs = HashMap::new();
    for request in recorder.all() {
        let id = request.json()["message"]["id"].as_u64().expect("an id") as usize;
        *runs.entry(id).or_default() += 1;
    }
    runs
}
