//! Interval functions run once per period cluster-wide: the `ticker` guest,
//! deployed once with `every = 1`, is scheduled on all three nodes, but each
//! period is claimed by one of them, so reports come about a second apart
//! rather than three a second.

use edgefn_e2e::*;

use super::cluster;

#[tokio::test]
async fn an_interval_function_runs_once_per_period_across_the_cluster() {
    let (_nats, nodes) = cluster("").await;
    let recorder = Recorder::start().await;
    let spec = json!({
        "every": 1,
        "allow_outbound": [recorder.url("")],
        "config": {"ticker_url": recorder.url("/tick")},
    });
    nodes[0].deploy_ok("ticker", "ticker", &spec).await;
    let mut starts = Vec::new();
    for _ in 0..5 {
        starts.push(recorder.next().await.json()["start_ms"].as_u64().unwrap());
    }
    starts.sort_unstable();
    for pair in starts.windows(2) {
        let gap = pair[1] - pair[0];
        // Three nodes each running every period would report ~3 runs a
        // second; one run per period keeps them about 1 s apart (less a
        // margin for scheduling jitter).
        assert!(
            gap >= 500,
            "runs {gap} ms apart with `every = 1` on 3 nodes: {starts:?}"
        );
    }
}
