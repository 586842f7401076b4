//! Redeploying a name swaps atomically: publishes running in a loop while two
//! versions (different components *and* different configs) are deployed in
//! turn never fail, and each message is stamped by exactly one whole version
//! — never build `a` with the config of `b` or the reverse.

use std::sync::atomic::{AtomicBool, Ordering};

use edgefn_e2e::*;

const REDEPLOYS: usize = 12;
const WRITERS: usize = 3;

/// The deployment spec of version `v` ("a" or "b").
fn spec(v: &str) -> Value {
    json!({"before_publish": ["swap.*"], "endpoint": true, "config": {"VERSION": v}})
}

#[tokio::test]
async fn redeploys_swap_atomically_under_publishing() {
    // A deep subscriber queue: this test is about redeploys, not slow readers.
    let node = Node::start_with_config("[bus]\nsubscriber_queue = 100000\n").await;
    node.deploy_ok("stamp", "stamp-a", &spec("a")).await;
    let (mut sse, _) = Sse::ready(&node, "swap.*", None).await;
    let stop = AtomicBool::new(false);

    // Writers publish until the redeploys are over; every publish must succeed.
    let writers = (0..WRITERS).map(|w| {
        let (node, stop) = (&node, &stop);
        async move {
            let mut sent = 0u64;
            while !stop.load(Ordering::SeqCst) {
                let answer = node
                    .post_message(
                        Op::Publish,
                        "swap.load",
                        json!({"writer": w, "n": sent}).to_string(),
                        &[],
                    )
                    .await;
                assert_eq!(
                    answer.status, 200,
                    "a publish failed during a redeploy: {}",
                    answer.body
                );
                sent += 1;
            }
            sent
        }
    });
    // Meanwhile: redeploy, alternating versions; once a deploy has answered,
    // the next publish must see the version just deployed.
    let redeploys = async {
        let mut probes = Vec::new();
        for i in 0..REDEPLOYS {
            let (guest, v) = if i % 2 == 0 {
                ("stamp-b", "b")
            } else {
                ("stamp-a", "a")
            };
            let deployed = node.deploy_ok("stamp", guest, &spec(v)).await;
            assert_eq!(
                deployed["version"],
                i as u64 + 2,
                "each redeploy is a new version"
            );
            assert_eq!(
                node.get("/v1/fn/stamp/who").await.ok()["build"],
                v,
                "the endpoint still runs the old version"
            );
            let tt = node.publish("swap.probe", &json!({"probe": i})).await;
            probes.push((tt, v));
        }
        stop.store(true, Ordering::SeqCst);
        probes
    };
    let (sent, probes) = tokio::join!(futures::future::join_all(writers), redeploys);
    let total = sent.iter().sum::<u64>() as usize + probes.len();

    let mut seen = std::collections::HashSet::new();
    for _ in 0..total {
        let got = sse.next_message().await;
        let stamps = got["message"]["stamps"]
            .as_array()
            .unwrap_or_else(|| panic!("not stamped: {got}"));
        assert_eq!(stamps.len(), 1, "stamped by several versions: {got}");
        let (build, config) = (&stamps[0]["build"], &stamps[0]["config"]);
        assert_eq!(
            build, config,
            "a half-deployed function: component of one version, config of another: {got}"
        );
        assert_eq!(
            got["meta"]["stamped_by"], *config,
            "payload and meta from different versions: {got}"
        );
        seen.insert(build.as_str().unwrap().to_owned());
        if let Some((_, v)) = probes.iter().find(|(tt, _)| got["timetoken"] == *tt) {
            assert_eq!(
                build, v,
                "a publish after a deploy answered ran the previous version: {got}"
            );
        }
    }
    assert_eq!(
        seen.len(),
        2,
        "the publishes did not see both versions: {seen:?}"
    );
    assert!(
        sent.iter().all(|&n| n > 0),
        "a writer never published: {sent:?}"
    );
}
