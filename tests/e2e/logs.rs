//! Structured logging from a guest (`caps`): each `log` call (level,
//! message, fields) becomes a line of the function's log, tagged with its
//! invocation, in `GET /v1/admin/functions/{name}/logs`, live through
//! `?follow=true` (Server-Sent Events) and `edgefn functions logs NAME
//! --follow`, and in the node's tracing output.

use edgefn_e2e::caps;
use edgefn_e2e::cli::CliStream;
use edgefn_e2e::*;
use reqwest::Method;

/// The lines `source: log` of `lines` whose text is `text`.
fn logged<'a>(lines: &'a [Value], text: &str) -> Vec<&'a Value> {
    lines
        .iter()
        .filter(|l| l["source"] == "log" && l["text"] == text)
        .collect()
}

#[tokio::test]
async fn log_lines_carry_level_message_fields_and_invocation() {
    // The node's default tracing filter, whatever EDGEFN_LOG says here.
    let node = Node::start_with(NodeOptions {
        log_filter: Some("edgefn=info,warn".into()),
        ..NodeOptions::default()
    })
    .await;
    node.deploy_caps("logger", json!({})).await;
    node.run_ops(
        "logger",
        &[
            caps::log(
                "warn",
                "payment failed",
                &[("order", "42"), ("amount", "12.5")],
            ),
            caps::log("debug", "no fields", &[]),
            caps::log("error", "odd values", &[("note", "two words\nand a line")]),
        ],
    )
    .await;
    node.run_ops("logger", &[caps::log("trace", "second call", &[])])
        .await;

    let lines = node.logs("logger").await;
    let [failed] = logged(&lines, "payment failed")[..] else {
        panic!("one `payment failed` line expected: {lines:?}")
    };
    assert_eq!(failed["level"], "warn");
    assert_eq!(
        failed["fields"],
        json!([["order", "42"], ["amount", "12.5"]])
    );
    let debug = logged(&lines, "no fields")[0];
    assert_eq!(debug["level"], "debug");
    assert!(
        debug.get("fields").is_none_or(|f| f == &json!([])),
        "{debug}"
    );
    let odd = logged(&lines, "odd values")[0];
    assert_eq!(odd["level"], "error");
    assert_eq!(odd["fields"], json!([["note", "two words\nand a line"]]));
    let second = logged(&lines, "second call")[0];
    assert_eq!(second["level"], "trace");

    // One invocation number per call, counting up; lines numbered in order.
    let invocation = failed["invocation"].as_u64().expect("an invocation");
    assert_eq!(debug["invocation"], invocation);
    assert_eq!(odd["invocation"], invocation);
    assert!(second["invocation"].as_u64().unwrap() > invocation);
    let seqs: Vec<u64> = [failed, debug, odd, second]
        .iter()
        .map(|l| l["seq"].as_u64().unwrap())
        .collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");

    // The node's tracing output has them too, with the function's name.
    let stderr = node.stderr();
    let traced = stderr
        .lines()
        .find(|l| l.contains("payment failed"))
        .unwrap_or_else(|| panic!("not traced: {stderr}"));
    assert!(
        traced.contains("logger") && traced.contains("WARN") && traced.contains("42"),
        "{traced}"
    );
}

#[tokio::test]
async fn logs_follow_live_over_sse_and_the_cli() {
    let node = Node::start().await;
    node.deploy_caps("logger", json!({})).await;
    node.run_ops("logger", &[caps::log("info", "before following", &[])])
        .await;

    // Over SSE: the recent lines first, then new ones as they are logged.
    let request = node
        .http()
        .get(node.url("/v1/admin/functions/logger/logs?follow=true"))
        .bearer_auth(node.admin_key());
    let mut follow = Sse::open_request(request)
        .await
        .unwrap_or_else(|answer| panic!("follow refused: {answer:?}"));
    let tail = loop {
        let event = follow.next_event().await.data;
        if event["text"] == "before following" {
            break event;
        }
    };
    // The CLI: its first line is that same recent line.
    let mut cli = CliStream::start(node.cli_command(&["functions", "logs", "logger", "--follow"]));
    cli.line_with(&["before following"]).await;

    node.run_ops(
        "logger",
        &[caps::log(
            "warn",
            "while following",
            &[("user", "bob smith")],
        )],
    )
    .await;
    let live = follow.next_event().await.data;
    assert_eq!(live["text"], "while following");
    assert_eq!(live["level"], "warn");
    assert_eq!(live["source"], "log");
    assert_eq!(live["fields"], json!([["user", "bob smith"]]));
    let invocation = live["invocation"].as_u64().unwrap();
    assert!(invocation > tail["invocation"].as_u64().unwrap());
    let printed = cli.line_with(&["while following"]).await;
    assert!(
        printed.starts_with(&format!("#{invocation} "))
            && printed.contains("log")
            && printed.contains("warn")
            && printed.contains(r#"user="bob smith""#),
        "{printed}"
    );
}

#[tokio::test]
async fn a_removed_functions_log_goes_with_it() {
    let node = Node::start().await;
    node.deploy_caps("logger", json!({})).await;
    node.run_ops("logger", &[caps::log("info", "first life", &[])])
        .await;
    assert_eq!(logged(&node.logs("logger").await, "first life").len(), 1);

    node.admin(Method::DELETE, "/functions/logger").await.ok();
    let gone = node.admin(Method::GET, "/functions/logger/logs").await;
    let message = gone.message(404, "not_found");
    assert!(message.contains("logger"), "{message}");

    // Deployed again under the same name: a new log.
    node.deploy_caps("logger", json!({})).await;
    node.run_ops("logger", &[caps::log("info", "second life", &[])])
        .await;
    let lines = node.logs("logger").await;
    assert!(logged(&lines, "first life").is_empty(), "{lines:?}");
    assert_eq!(logged(&lines, "second life").len(), 1, "{lines:?}");
}
