//! Interval functions (`every`): the `ticker` guest reports each run to a
//! local server; runs repeat every N seconds and never overlap, even when a
//! run lasts longer than the period.

use edgefn_e2e::*;

/// Deploys `ticker` every second, each run lasting `sleep_ms`, and returns
/// the first `runs` reports as (start_ms, end_ms).
async fn ticks(sleep_ms: u64, runs: usize) -> Vec<(u64, u64)> {
    let node = Node::start().await;
    let recorder = Recorder::start().await;
    let spec = json!({
        "every": 1,
        "allow_outbound": [recorder.url("")],
        "config": {"ticker_url": recorder.url("/tick"), "sleep_ms": sleep_ms.to_string()},
    });
    node.deploy_ok("ticker", "ticker", &spec).await;
    let mut reports = Vec::new();
    for _ in 0..runs {
        let report = recorder.next().await.json();
        reports.push((
            report["start_ms"].as_u64().unwrap(),
            report["end_ms"].as_u64().unwrap(),
        ));
    }
    node.wait_for_log("ticker", &["tick", "reported (200)"], wait::TIMEOUT)
        .await;
    reports.sort_unstable();
    reports
}

#[tokio::test]
async fn runs_every_n_seconds() {
    let reports = ticks(0, 4).await;
    for pair in reports.windows(2) {
        let gap = pair[1].0 - pair[0].0;
        // A lower bound only: runs are not more frequent than the period
        // (less a margin for scheduling jitter of one tick).
        assert!(
            gap >= 800,
            "runs {gap} ms apart with `every = 1`: {reports:?}"
        );
    }
}

#[tokio::test]
async fn runs_never_overlap() {
    // Each run lasts 1.5 periods: a scheduler that started runs on time
    // regardless would overlap them.
    let reports = ticks(1500, 3).await;
    for pair in reports.windows(2) {
        assert!(
            pair[1].0 >= pair[0].1,
            "a run started before the previous one ended: {reports:?}"
        );
    }
    for (start, end) in &reports {
        assert!(
            end - start >= 1500,
            "a run did not last its sleep: {reports:?}"
        );
    }
}
