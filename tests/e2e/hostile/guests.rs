//! Guests that loop, eat memory, grow tables, recurse, trap, return
//! unusable messages or import what the host does not have: each
//! invocation ends with an error naming the function and the limit, a
//! metric counts it, and the good function keeps working.

use std::time::{Duration, Instant};

use edgefn_e2e::hostile::GOOD_CHANNEL;
use edgefn_e2e::*;

use super::while_good;

/// Publishes `{"n": 1}` on `channel`; the answer and how long it took.
async fn timed_publish(node: &Node, channel: &str) -> (Answer, Duration) {
    let started = Instant::now();
    let answer = node
        .post_message(Op::Publish, channel, r#"{"n":1}"#, &[])
        .await;
    (answer, started.elapsed())
}

/// Calls the endpoint function `name`; the answer and how long it took.
async fn timed_call(node: &Node, name: &str) -> (Answer, Duration) {
    let started = Instant::now();
    let answer = node.get(&format!("/v1/fn/{name}/go")).await;
    (answer, started.elapsed())
}

/// The error message of `answer`, after checking status, code and that it
/// names `function` (in `function` and in the text).
#[track_caller]
fn names(answer: &Answer, status: u16, code: &str, function: &str) -> String {
    let error = answer.error(status, code);
    assert_eq!(error["function"], function, "{}", answer.body);
    let message = error["message"].as_str().unwrap().to_owned();
    assert!(
        message.contains(&format!("`{function}`")),
        "the message does not name `{function}`: {message}"
    );
    message
}

const DEADLINE_MS: u64 = 300;

#[tokio::test]
async fn loops_are_cut_off_at_their_deadline_in_every_trigger() {
    let node = Node::start().await;
    node.deploy_good().await;
    let limit = json!(DEADLINE_MS);
    for (name, spec) in [
        ("loop-bp", json!({"before_publish": ["hostile.loop"]})),
        ("loop-ap", json!({"after_publish": ["hostile.after"]})),
        ("loop-ep", json!({"endpoint": true})),
        ("loop-iv", json!({"every": 1})),
    ] {
        let mut spec = spec;
        spec["timeout_ms"] = limit.clone();
        node.deploy_hostile(name, "loop", spec, json!({})).await;
    }
    let too_long = Duration::from_millis(3 * DEADLINE_MS);
    while_good(&node, async {
        let (answer, took) = timed_publish(&node, "hostile.loop").await;
        let message = names(&answer, 504, "function_timeout", "loop-bp");
        assert!(message.contains("deadline of 300 ms"), "{message}");
        assert!(
            took < too_long,
            "before-publish loop answered after {took:?}"
        );

        let (answer, took) = timed_call(&node, "loop-ep").await;
        let message = names(&answer, 504, "function_timeout", "loop-ep");
        assert!(message.contains("deadline of 300 ms"), "{message}");
        assert!(took < too_long, "endpoint loop answered after {took:?}");

        node.publish("hostile.after", &json!({"n": 1})).await;
        for name in ["loop-ap", "loop-iv"] {
            let (ms, text) = node.cut_off(name, "exceeded its deadline").await;
            assert!(
                text.contains(&format!("`{name}` exceeded its deadline of 300 ms")),
                "{text}"
            );
            assert!(
                ms < 3 * DEADLINE_MS,
                "`{name}` ran {ms} ms before it was cut off"
            );
        }
    })
    .await;
    for (name, trigger) in [
        ("loop-bp", "BeforePublish"),
        ("loop-ep", "Endpoint"),
        ("loop-ap", "AfterPublish"),
        ("loop-iv", "Interval"),
    ] {
        node.wait_for_invocations(name, trigger, "Timeout", 1).await;
    }
    assert!(
        node.history("hostile.loop", "").await.is_empty(),
        "a message whose hook timed out was stored"
    );
}

#[tokio::test]
async fn memory_growth_and_a_huge_allocation_hit_the_memory_limit() {
    let node = Node::start().await;
    node.deploy_good().await;
    node.deploy_hostile(
        "grow",
        "grow",
        json!({"before_publish": ["hostile.grow"], "memory_mb": 16, "timeout_ms": 5000}),
        json!({}),
    )
    .await;
    node.deploy_hostile(
        "huge",
        "huge",
        json!({"endpoint": true}),
        json!({"mb": "1024"}),
    )
    .await;
    node.deploy_hostile(
        "huge-ap",
        "huge",
        json!({"after_publish": ["hostile.huge"]}),
        json!({"mb": "2000"}),
    )
    .await;
    // Warm up (compile, first instances) before measuring memory.
    let (answer, _) = timed_call(&node, "huge").await;
    answer.error(502, "function_error");
    let rss_before = node.rss_kib();

    while_good(&node, async {
        for _ in 0..5 {
            let (answer, _) = timed_publish(&node, "hostile.grow").await;
            let message = names(&answer, 502, "function_error", "grow");
            assert!(
                message.contains("exceeded its memory limit of 16 MiB"),
                "{message}"
            );
        }
        let (answer, _) = timed_call(&node, "huge").await;
        let message = names(&answer, 502, "function_error", "huge");
        assert!(
            message.contains("exceeded its memory limit of 32 MiB (it asked for 10"),
            "{message}"
        );
        node.publish("hostile.huge", &json!({"n": 1})).await;
        node.wait_for_log(
            "huge-ap",
            &["`huge-ap` exceeded its memory limit of 32 MiB (it asked for 20"],
            wait::TIMEOUT,
        )
        .await;
    })
    .await;
    node.wait_for_invocations("grow", "BeforePublish", "Error", 5)
        .await;
    node.wait_for_invocations("huge", "Endpoint", "Error", 2)
        .await;
    node.wait_for_invocations("huge-ap", "AfterPublish", "Error", 1)
        .await;
    // The guest's own words about it are in its log too.
    node.wait_for_log("grow", &["memory allocation of"], wait::TIMEOUT)
        .await;
    let grown_mib = node.rss_kib().saturating_sub(rss_before) / 1024;
    assert!(
        grown_mib < 64,
        "the node's resident memory grew by {grown_mib} MiB after the memory hogs"
    );
}

#[tokio::test]
async fn nothing_an_invocation_leaves_in_memory_reaches_the_next() {
    let node = Node::start().await;
    node.deploy_hostile("remember", "remember", json!({"endpoint": true}), json!({}))
        .await;
    // Each invocation dirties a static and 3 MiB of heap (more than the
    // pool keeps resident, so both ways a slot is reset are crossed).
    for invocation in 0..5 {
        let (answer, _) = timed_call(&node, "remember").await;
        let report = &answer.ok()["report"];
        assert_eq!(
            report["earlier_invocations"], 0,
            "invocation {invocation} saw an earlier one's static: {report}"
        );
        assert_eq!(
            report["dirty_bytes"], 0,
            "invocation {invocation} saw an earlier one's heap: {report}"
        );
    }
}

#[tokio::test]
async fn table_growth_is_refused_by_the_host() {
    let node = Node::start().await;
    node.deploy_good().await;
    for (name, spec) in [
        ("table-ep", json!({"endpoint": true})),
        ("table-bp", json!({"before_publish": ["hostile.table"]})),
    ] {
        node.deploy_ok(name, "hostile-table", &spec).await;
    }
    let answer = node.get("/v1/fn/table-ep/go").await;
    if let Some(why) = answer.ok()["unsupported"].as_str() {
        eprintln!("SKIPPED: the hostile-table guest cannot grow tables: {why}");
        return;
    }
    while_good(&node, async {
        let answer = node.get("/v1/fn/table-ep/go").await;
        let report = answer.ok();
        assert_eq!(
            report["refused"], true,
            "table growth never refused: {report}"
        );
        // The sandbox's own limit (16,384 elements per table) refuses it,
        // not the instance pool's smaller default (20,000): the guest grows
        // 1,000 elements at a time.
        let size = report["grew_to"].as_i64().unwrap();
        assert!(
            (16_384 - 1_000..=16_384).contains(&size),
            "the table grew to {size} elements"
        );

        let (answer, _) = timed_publish(&node, "hostile.table").await;
        let message = names(&answer, 502, "function_error", "table-bp");
        assert!(
            message.contains("trapped")
                && message.contains("table grow to")
                && message.contains("the limit is 16384 elements per table"),
            "the trap does not say a table grow was refused: {message}"
        );
    })
    .await;
    node.wait_for_invocations("table-bp", "BeforePublish", "Error", 1)
        .await;
}

#[tokio::test]
async fn a_random_bytes_request_past_the_limit_traps_without_a_host_allocation() {
    // 32 MiB of randomness for a function with 16 MiB of memory: the
    // host refuses the call itself (its limit is 64 KiB) rather than
    // allocating 32 MiB and failing to copy it into the guest.
    let node = Node::start().await;
    node.deploy_good().await;
    node.deploy_hostile(
        "rand-big",
        "random",
        json!({"endpoint": true, "memory_mb": 16}),
        json!({"bytes": "33554432"}),
    )
    .await;
    node.deploy_hostile(
        "rand-ok",
        "random",
        json!({"endpoint": true}),
        json!({"bytes": "65536"}),
    )
    .await;
    while_good(&node, async {
        let (answer, _) = timed_call(&node, "rand-big").await;
        let message = names(&answer, 502, "function_error", "rand-big");
        assert!(
            message.contains("requested len 33554432 exceeds limit 65536"),
            "{message}"
        );
        let (answer, _) = timed_call(&node, "rand-ok").await;
        assert_eq!(answer.ok()["report"]["random_bytes"], 65536);
    })
    .await;
    node.wait_for_invocations("rand-big", "Endpoint", "Error", 1)
        .await;
}

#[tokio::test]
async fn deep_recursion_panics_and_unreachable_are_traps_naming_the_function() {
    let node = Node::start().await;
    node.deploy_good().await;
    node.deploy_hostile(
        "rec-bp",
        "recurse",
        json!({"before_publish": ["hostile.rec"], "timeout_ms": 5000}),
        json!({}),
    )
    .await;
    node.deploy_hostile("rec-ep", "recurse", json!({"endpoint": true}), json!({}))
        .await;
    node.deploy_hostile(
        "panic-ap",
        "panic",
        json!({"after_publish": ["hostile.panic"]}),
        json!({}),
    )
    .await;
    node.deploy_hostile("unreach-iv", "unreachable", json!({"every": 1}), json!({}))
        .await;
    while_good(&node, async {
        let (answer, _) = timed_publish(&node, "hostile.rec").await;
        let message = names(&answer, 502, "function_error", "rec-bp");
        assert!(
            message.contains("trapped") && message.contains("call stack exhausted"),
            "{message}"
        );
        let (answer, _) = timed_call(&node, "rec-ep").await;
        let message = names(&answer, 502, "function_error", "rec-ep");
        assert!(message.contains("call stack exhausted"), "{message}");

        node.publish("hostile.panic", &json!({"n": 1})).await;
        node.wait_for_log("panic-ap", &["`panic-ap` trapped"], wait::TIMEOUT)
            .await;
        node.wait_for_log(
            "panic-ap",
            &["hostile panic in after-publish"],
            wait::TIMEOUT,
        )
        .await;
        node.wait_for_log(
            "unreach-iv",
            &["`unreach-iv` trapped", "unreachable"],
            wait::TIMEOUT,
        )
        .await;
    })
    .await;
    for (name, trigger) in [
        ("rec-bp", "BeforePublish"),
        ("rec-ep", "Endpoint"),
        ("panic-ap", "AfterPublish"),
        ("unreach-iv", "Interval"),
    ] {
        node.wait_for_invocations(name, trigger, "Error", 1).await;
    }
}

#[tokio::test]
async fn results_over_32_kib_or_not_json_are_refused() {
    let node = Node::start().await;
    node.deploy_good().await;
    node.deploy_hostile(
        "big",
        "big",
        json!({"before_publish": ["hostile.big"]}),
        json!({}),
    )
    .await;
    node.deploy_ok(
        "notjson",
        "bad-output",
        &json!({"before_publish": ["hostile.notjson"], "config": {"mode": "invalid"}}),
    )
    .await;
    let refusals = node.metric("edgefn_hook_refusals_total", &[]).await;
    while_good(&node, async {
        let (answer, _) = timed_publish(&node, "hostile.big").await;
        let message = names(&answer, 502, "function_error", "big");
        assert!(
            message.contains("unusable message") && message.contains("32768"),
            "{message}"
        );
        let (answer, _) = timed_publish(&node, "hostile.notjson").await;
        let message = names(&answer, 502, "function_error", "notjson");
        assert!(
            message.contains("unusable message") && message.contains("JSON"),
            "{message}"
        );
    })
    .await;
    assert_eq!(
        node.metric("edgefn_hook_refusals_total", &[]).await - refusals,
        2.0,
        "each refused result is counted"
    );
    for channel in ["hostile.big", "hostile.notjson"] {
        assert!(
            node.history(channel, "").await.is_empty(),
            "{channel} stored"
        );
    }
}

#[tokio::test]
async fn a_component_importing_an_unknown_interface_is_refused_at_deploy() {
    let node = Node::start().await;
    node.deploy_good().await;
    while_good(&node, async {
        // A new function, and a redeploy over the running good one.
        for name in ["backdoor", "good"] {
            let answer = node
                .deploy(
                    name,
                    "hostile-import",
                    &json!({"before_publish": ["good.*"]}),
                )
                .await;
            let message = answer.message(400, "invalid_component");
            assert!(
                message.contains("test:hostile/backdoor@0.1.0")
                    && message.contains("open-host-file"),
                "the refusal does not name the missing import: {message}"
            );
        }
    })
    .await;
    assert_eq!(
        node.show("good").await["version"],
        1,
        "the good function was replaced"
    );
    node.admin(reqwest::Method::GET, "/functions/backdoor")
        .await
        .error(404, "not_found");
    let moderated = node.history(GOOD_CHANNEL, "limit=1").await;
    assert_eq!(moderated[0]["message"]["moderated"], true);
}
