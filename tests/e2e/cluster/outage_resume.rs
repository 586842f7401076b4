//! Delivery across nodes resumes promptly after a NATS restart: once the
//! nodes report themselves healthy again, a message published through one
//! node reaches subscribers on the others (opened before the outage, and
//! still open) within a few seconds, as the next message they get (nothing
//! delivered before the outage is delivered again), and their histories.

use std::time::{Duration, Instant};

use edgefn_e2e::nats::wait_healthy;
use edgefn_e2e::wait::{TIMEOUT, eventually};
use edgefn_e2e::*;

use super::{cluster, history};

const CHANNEL: &str = "resume.x";
/// How soon after the nodes report healthy a publish must reach the others.
const RESUME: Duration = Duration::from_secs(5);

#[tokio::test]
async fn delivery_across_nodes_resumes_soon_after_nats_is_back() {
    let (mut nats, nodes) = cluster("").await;
    let mut subscribers = Vec::new();
    for node in &nodes[1..] {
        subscribers.push(Sse::ready(node, CHANNEL, None).await.0);
    }
    let before = nodes[0].publish(CHANNEL, &json!({"n": "before"})).await;
    for sse in &mut subscribers {
        assert_eq!(sse.next_message().await["timetoken"], before);
    }

    nats.kill().await;
    for node in &nodes {
        eventually("the node to report NATS down", TIMEOUT, || async {
            (node.get("/healthz").await.status == 503).then_some(())
        })
        .await;
    }
    nats.restart().await;
    for node in &nodes {
        wait_healthy(node, TIMEOUT).await;
    }

    // Healthy again: a publish through A is taken at once...
    let healthy = Instant::now();
    let answer = eventually("A to take a publish again", RESUME, || async {
        let answer = nodes[0]
            .post_message(Op::Publish, CHANNEL, r#"{"n":"after"}"#, &[])
            .await;
        (answer.status == 200).then_some(answer)
    })
    .await;
    let after = answer.body["timetoken"].clone();

    // ...and reaches B and C soon after, like before the outage: as the
    // next message (nothing delivered again), within RESUME.
    for (i, sse) in subscribers.iter_mut().enumerate() {
        let event = sse.next_event_within(TIMEOUT).await;
        let arrived = healthy.elapsed();
        assert!(
            event.data["timetoken"] != before,
            "node {}'s subscriber got the message published before the outage a second time \
             ({arrived:?} after the nodes were healthy again): {:?}",
            i + 1,
            event
        );
        assert_eq!(
            event.data["timetoken"],
            after,
            "node {}'s subscriber got something else: {:?}",
            i + 1,
            event
        );
        assert!(
            arrived <= RESUME,
            "the publish through A reached node {}'s subscriber {arrived:?} after the nodes were healthy again",
            i + 1
        );
    }
    for (i, node) in nodes.iter().enumerate() {
        let what = format!("node {i}'s history to hold the publish made after the restart");
        let stored = eventually(&what, TIMEOUT, || async {
            let stored = history(node, CHANNEL, 100).await;
            let last = stored.last().map(|(tt, _)| tt.to_string());
            (last.as_deref() == after.as_str()).then_some(stored)
        })
        .await;
        let timetokens: Vec<String> = stored.iter().map(|(tt, _)| tt.to_string()).collect();
        assert_eq!(
            timetokens,
            [
                before.clone(),
                after.as_str().unwrap_or_default().to_owned()
            ],
            "node {i}'s history"
        );
    }
}
