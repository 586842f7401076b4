//! Per-invocation budgets at and past their edge, through a real guest
//! (`caps`): by default 10 KV calls, 10 bus calls and 5 outbound HTTP
//! requests; the next call fails in the guest with an error that names the
//! budget, the invocation goes on (the calls after it, to other
//! capabilities, succeed), and the next invocation starts afresh.
//! Deployments override them (`--kv-calls`, `--bus-calls`,
//! `--http-requests`), above or below the defaults.

use edgefn_e2e::caps::{self, err, ok};
use edgefn_e2e::paths::guest;
use edgefn_e2e::*;

/// `n` KV calls, `m` bus calls and `k` outbound requests to `recorder`,
/// then one call of each kind again (past every budget) and a log line.
fn script(n: usize, m: usize, k: usize, recorder: &Recorder) -> Vec<Value> {
    let mut ops = Vec::new();
    ops.extend((0..n).map(|_| caps::kv_incr("budget:n", 1)));
    ops.extend((0..m).map(|i| caps::bus("publish", "budget.b", json!({"i": i}), Value::Null)));
    ops.extend((0..k).map(|i| caps::http_get(&recorder.url(&format!("/r{i}")))));
    ops.push(caps::log("info", "still running", &[]));
    ops
}

/// Checks the results of [`script`]`(kv + 1, bus + 1, http + 1)` against
/// budgets of `kv`, `bus` and `http` calls.
#[track_caller]
fn assert_budgets(results: &[Value], kv: usize, bus: usize, http: usize) {
    let (kv_results, rest) = results.split_at(kv + 1);
    let (bus_results, rest) = rest.split_at(bus + 1);
    let (http_results, rest) = rest.split_at(http + 1);
    for (i, result) in kv_results[..kv].iter().enumerate() {
        assert_eq!(ok(result), i + 1, "KV call {}", i + 1);
    }
    assert_eq!(
        err(&kv_results[kv], "budget-exhausted"),
        format!("KV budget exhausted: at most {kv} calls per invocation")
    );
    for result in &bus_results[..bus] {
        ok(result);
    }
    assert_eq!(
        err(&bus_results[bus], "budget-exhausted"),
        format!("bus budget exhausted: at most {bus} calls per invocation")
    );
    for result in &http_results[..http] {
        assert_eq!(ok(result)["status"], 200);
    }
    let message = err(&http_results[http], "http");
    assert!(
        message.contains(&format!(
            "outbound HTTP budget exhausted: at most {http} calls per invocation"
        )),
        "{message}"
    );
    assert_eq!(ok(&rest[0]), &Value::Null, "the invocation went on");
}

/// Deploys `caps` as `name` allowed to reach `recorder`, through the CLI
/// with `extra` flags.
async fn deploy(node: &Node, name: &str, recorder: &Recorder, extra: &[&str]) {
    let wasm = guest("caps");
    let origin = recorder.url("");
    let mut args = vec![
        "deploy",
        wasm.to_str().unwrap(),
        "--name",
        name,
        "--endpoint",
        "--allow-outbound",
        &origin,
    ];
    args.extend(extra);
    node.cli(&args).await.ok();
}

#[tokio::test]
async fn default_budgets_end_at_10_kv_10_bus_and_5_http_calls() {
    let node = Node::start().await;
    let recorder = Recorder::start().await;
    deploy(&node, "caps", &recorder, &[]).await;
    let results = node.run_ops("caps", &script(11, 11, 6, &recorder)).await;
    assert_budgets(&results, 10, 10, 5);

    // Refused calls had no effect: 10 increments, 10 messages, 5 requests.
    assert_eq!(recorder.all().len(), 5, "the 6th request was sent");
    assert_eq!(node.history("budget.b", "").await.len(), 10);
    let results = node
        .run_ops(
            "caps",
            &[
                caps::kv_get("budget:n"),
                caps::http_get(&recorder.url("/next")),
            ],
        )
        .await;
    assert_eq!(
        ok(&results[0]),
        "10",
        "a fresh budget for the next invocation"
    );
    assert_eq!(ok(&results[1])["status"], 200);

    // The host also wrote each first refusal to the function's log, as part
    // of the invocation that hit it.
    let lines = node.logs("caps").await;
    let line = |text: &str| {
        lines
            .iter()
            .find(|l| l["source"] == "host" && l["text"].as_str().unwrap_or("").starts_with(text))
            .unwrap_or_else(|| panic!("no host line `{text}...`: {lines:?}"))
            .clone()
    };
    let kv = line("KV budget exhausted");
    let bus = line("bus budget exhausted");
    let http = line("outbound HTTP budget exhausted");
    assert_eq!(kv["invocation"], bus["invocation"]);
    assert_eq!(kv["invocation"], http["invocation"]);
    let refusals = lines
        .iter()
        .filter(|l| {
            l["text"]
                .as_str()
                .unwrap_or("")
                .contains("budget exhausted")
        })
        .count();
    assert_eq!(refusals, 3, "one line per budget: {lines:?}");
}

#[tokio::test]
async fn deployments_override_the_budgets() {
    let node = Node::start().await;
    let recorder = Recorder::start().await;
    let flags = [
        "--kv-calls",
        "12",
        "--bus-calls",
        "2",
        "--http-requests",
        "1",
    ];
    deploy(&node, "custom", &recorder, &flags).await;
    let shown = node.show("custom").await;
    assert_eq!(shown["spec"]["kv_calls"], 12);
    assert_eq!(shown["spec"]["bus_calls"], 2);
    assert_eq!(shown["spec"]["http_requests"], 1);

    let results = node.run_ops("custom", &script(13, 3, 2, &recorder)).await;
    assert_budgets(&results, 12, 2, 1);
    assert_eq!(recorder.all().len(), 1);

    // A budget of 0 refuses the first call; other functions keep theirs.
    node.deploy_caps("none", json!({"kv_calls": 0})).await;
    let message = err(
        &node.run_ops("none", &[caps::kv_get("a")]).await[0],
        "budget-exhausted",
    )
    .to_owned();
    assert_eq!(
        message,
        "KV budget exhausted: at most 0 calls per invocation"
    );
    node.deploy_caps("plain", json!({})).await;
    let ten: Vec<Value> = (0..10).map(|_| caps::kv_get("a")).collect();
    for result in node.run_ops("plain", &ten).await {
        ok(&result);
    }
}
