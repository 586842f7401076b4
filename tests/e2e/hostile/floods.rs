//! Guests that flood the host's capabilities: KV and bus calls past their
//! budgets, a hook publishing to its own channel (the chain limit), and
//! megabytes of output (stdout/stderr and the log interface).

use edgefn_e2e::*;

use super::while_good;

#[tokio::test]
async fn kv_and_bus_floods_stop_at_their_budgets() {
    let node = Node::start().await;
    node.deploy_good().await;
    let flood = json!({"count": "1000", "channel": "hostile.spam"});
    node.deploy_hostile(
        "kv-bp",
        "kv-flood",
        json!({"before_publish": ["hostile.kv"], "timeout_ms": 5000}),
        flood.clone(),
    )
    .await;
    node.deploy_hostile(
        "bus-ap",
        "bus-flood",
        json!({"after_publish": ["hostile.bus"]}),
        flood.clone(),
    )
    .await;
    while_good(&node, async {
        node.publish("hostile.kv", &json!({"n": 1})).await;
        let stored = node.history("hostile.kv", "").await;
        let report = &stored[0]["message"]["hostile"];
        assert_eq!(report["ok"], 10, "{report}");
        assert_eq!(report["refused"], 990, "{report}");
        assert_eq!(
            report["first_error"],
            "KV budget exhausted: at most 10 calls per invocation"
        );

        node.publish("hostile.bus", &json!({"n": 1})).await;
        let line = node
            .wait_for_log("bus-ap", &["`bus-ap` failed: report"], wait::TIMEOUT)
            .await;
        let text = line["text"].as_str().unwrap();
        assert!(
            text.contains(r#""ok":10"#)
                && text.contains(r#""refused":990"#)
                && text.contains("bus budget exhausted: at most 10 calls per invocation"),
            "{text}"
        );
    })
    .await;
    // One host line per exhausted budget and invocation, not 990.
    let lines = node.logs("bus-ap").await;
    let refusals = lines
        .iter()
        .filter(|l| l["source"] == "host" && l["text"].as_str().unwrap().starts_with("bus budget"))
        .count();
    assert_eq!(refusals, 1, "{lines:?}");
    assert_eq!(node.history("hostile.spam", "limit=100").await.len(), 10);
    node.wait_for_invocations("kv-bp", "BeforePublish", "Ok", 1)
        .await;
    node.wait_for_invocations("bus-ap", "AfterPublish", "Error", 1)
        .await;
}

#[tokio::test]
async fn a_hook_publishing_to_its_own_channel_stops_at_the_chain_limit() {
    // A before-publish hook that publishes to the channel it guards runs
    // itself again, synchronously, one level deeper each time: depth 1, 2
    // and 3 are published, depth 4 is refused, and the whole chain unwinds.
    let node = Node::start().await;
    node.deploy_good().await;
    node.deploy_hostile(
        "echo-self",
        "self-publish",
        json!({"before_publish": ["hostile.self"], "timeout_ms": 5000}),
        json!({}),
    )
    .await;
    while_good(&node, async {
        node.publish("hostile.self", &json!({"hop": 0})).await;
    })
    .await;
    let stored = node.history("hostile.self", "").await;
    let mut hops: Vec<u64> = stored
        .iter()
        .map(|m| m["message"]["hop"].as_u64().unwrap())
        .collect();
    hops.sort_unstable();
    assert_eq!(hops, [0, 1, 2, 3], "{stored:?}");
    let innermost = stored
        .iter()
        .find(|m| m["message"]["hop"] == 3)
        .expect("hop 3 stored");
    let error = innermost["message"]["hostile"]["error"].as_str().unwrap();
    assert!(
        error.contains("chain limit") && error.contains("hop 4"),
        "{error}"
    );
    node.wait_for_invocations("echo-self", "BeforePublish", "Ok", 4)
        .await;
}

#[tokio::test]
async fn megabytes_of_stdout_and_stderr_are_capped_per_invocation() {
    let node = Node::start().await;
    node.deploy_good().await;
    node.deploy_hostile(
        "chatty",
        "stdout",
        json!({"endpoint": true}),
        json!({"mb": "8"}),
    )
    .await;
    node.get("/v1/fn/chatty/go").await.ok();
    let rss_before = node.rss_kib();
    let stderr_before = node.stderr().len();
    while_good(&node, async {
        for _ in 0..5 {
            assert_eq!(
                node.get("/v1/fn/chatty/go").await.ok()["report"]["wrote_mb"],
                16
            );
        }
    })
    .await;
    let lines = node.logs("chatty").await;
    let last = lines.last().unwrap()["invocation"].clone();
    let kept: usize = lines
        .iter()
        .filter(|l| l["invocation"] == last && (l["source"] == "stdout" || l["source"] == "stderr"))
        .map(|l| l["text"].as_str().unwrap().len() + 1)
        .sum();
    assert!(
        kept <= 64 * 1024,
        "{kept} bytes of output kept for one invocation"
    );
    let truncated = lines
        .iter()
        .find(|l| l["invocation"] == last && l["source"] == "host")
        .unwrap_or_else(|| panic!("no truncation line: {:?}", lines.last()));
    // 16 MiB written, 64 KiB kept, less the guest's opening log line
    // ("hostile stdout in endpoint", 26 bytes), which draws on the same budget.
    let dropped = 16 * 1024 * 1024 - 64 * 1024 + "hostile stdout in endpoint".len();
    assert_eq!(
        truncated["text"],
        format!(
            "output truncated: {dropped} bytes beyond the 65536-byte limit per invocation were dropped"
        )
    );
    let grown_mib = node.rss_kib().saturating_sub(rss_before) / 1024;
    assert!(grown_mib < 64, "the node's memory grew by {grown_mib} MiB");
    let logged = node.stderr().len() - stderr_before;
    assert!(
        logged < 5 * 200 * 1024,
        "the node logged {logged} bytes for 5 invocations"
    );
}

#[tokio::test]
async fn megabytes_through_the_log_interface_are_capped_per_invocation() {
    // The `log` interface is output too: 100 lines of 32 fields of 4 KiB
    // names and values (~26 MB) must be capped like stdout (64 KiB per
    // invocation), not kept in the function's log and written to the
    // node's own log whole.
    let node = Node::start().await;
    node.deploy_good().await;
    node.deploy_hostile(
        "logorrhea",
        "log-flood",
        json!({"endpoint": true}),
        json!({"count": "100"}),
    )
    .await;
    let rss_before = node.rss_kib();
    let stderr_before = node.stderr().len();
    while_good(&node, async {
        assert_eq!(
            node.get("/v1/fn/logorrhea/go").await.ok()["report"]["logged"],
            100
        );
    })
    .await;
    let lines = node.logs("logorrhea").await;
    let kept: usize = lines
        .iter()
        .filter(|l| l["source"] == "log")
        .map(|l| l.to_string().len())
        .sum();
    let logged = node.stderr().len() - stderr_before;
    let grown_mib = node.rss_kib().saturating_sub(rss_before) / 1024;
    eprintln!(
        "log flood: {kept} bytes kept in the function's log, {logged} bytes in the node's log, memory +{grown_mib} MiB"
    );
    assert!(
        kept <= 128 * 1024,
        "one invocation left {kept} bytes of log-interface lines in the function's log (stdout and stderr are capped at 64 KiB)"
    );
    assert!(
        logged <= 1024 * 1024,
        "one invocation wrote {logged} bytes to the node's own log"
    );
}
