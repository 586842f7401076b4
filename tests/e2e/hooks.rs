//! Before-publish hooks: `moderate` transforms and rejects; hooks run in name
//! order and may change meta; a trap, a missed deadline and an unusable
//! result are clear errors naming the function (or, with `on_error = pass`,
//! let the message through); refused messages are neither stored nor
//! delivered.

use edgefn_e2e::*;

/// Deploys `moderate` on `chat.*`, banning "spam" and "scam".
async fn deploy_moderate(node: &Node) {
    let spec = json!({"before_publish": ["chat.*"], "config": {"banned_words": "spam,scam"}});
    node.deploy_ok("moderate", "moderate", &spec).await;
}

/// Asserts that nothing but `marker` reached `sse` and history on `channel`
/// since the subscription started: publishes the marker and checks it is
/// the next delivery and the only stored message.
async fn assert_nothing_got_through(node: &Node, sse: &mut Sse, channel: &str) {
    node.publish(channel, &json!({"marker": true})).await;
    let next = sse.next_message().await;
    assert_eq!(
        next["message"]["marker"], true,
        "a refused message was delivered: {next}"
    );
    let history = node.history(channel, "").await;
    assert_eq!(
        history.len(),
        1,
        "a refused message was stored: {history:?}"
    );
}

#[tokio::test]
async fn moderate_normalises_text_and_marks_it() {
    let node = Node::start().await;
    deploy_moderate(&node).await;
    let (mut sse, _) = Sse::ready(&node, "chat.*,other", None).await;
    let tt = node
        .publish(
            "chat.lobby",
            &json!({"text": "  hello \n\t world  ", "from": "ann"}),
        )
        .await;
    node.publish("other", &json!({"text": "  untouched  "}))
        .await;
    node.publish("chat.lobby", &json!(["not", "text"])).await;

    let got = sse.messages(3).await;
    assert_eq!(
        got[0]["message"],
        json!({"text": "hello world", "moderated": true, "from": "ann"})
    );
    assert_eq!(got[0]["timetoken"], tt);
    assert_eq!(
        got[1]["message"],
        json!({"text": "  untouched  "}),
        "a hook ran on a channel it is not bound to"
    );
    assert_eq!(
        got[2]["message"],
        json!(["not", "text"]),
        "a payload without text should pass unchanged"
    );
    assert_eq!(
        node.history("chat.lobby", "").await[0]["message"],
        got[0]["message"],
        "history keeps the transformed message"
    );
}

#[tokio::test]
async fn moderate_rejects_banned_words_with_403() {
    let node = Node::start().await;
    deploy_moderate(&node).await;
    let (mut sse, _) = Sse::ready(&node, "chat.room", None).await;
    let answer = node
        .post_message(
            Op::Publish,
            "chat.room",
            r#"{"text":"buy SCAM coins"}"#,
            &[],
        )
        .await;
    let error = answer.error(403, "rejected");
    assert_eq!(error["function"], "moderate");
    let reason = error["reason"].as_str().unwrap();
    assert!(
        reason.contains("scam"),
        "the reason should name the word: {reason}"
    );
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains("moderate") && message.contains(reason),
        "{message}"
    );
    assert_eq!(error["retryable"], false);
    assert_nothing_got_through(&node, &mut sse, "chat.room").await;
}

#[tokio::test]
async fn hooks_run_in_name_order_each_in_a_fresh_instance_and_may_change_meta() {
    let node = Node::start().await;
    // Deployed in reverse order: the order of execution is by name.
    for (name, version) in [("zeta", "z"), ("alpha", "a"), ("mid", "m")] {
        node.deploy_ok(
            name,
            "stamp-a",
            &json!({"before_publish": ["order.*"], "config": {"VERSION": version}}),
        )
        .await;
    }
    let (mut sse, _) = Sse::ready(&node, "order.x", None).await;
    for n in 0..2 {
        node.post_message(
            Op::Publish,
            "order.x",
            json!({"n": n}).to_string(),
            &[("meta", r#"{"keep":1}"#)],
        )
        .await
        .ok();
        let got = sse.next_message().await;
        let stamps = got["message"]["stamps"].as_array().unwrap();
        let configs: Vec<_> = stamps.iter().map(|s| s["config"].clone()).collect();
        assert_eq!(
            configs,
            [json!("a"), json!("m"), json!("z")],
            "hooks did not run in name order: {got}"
        );
        assert!(
            stamps.iter().all(|s| s["calls"] == 1),
            "an instance was reused: {got}"
        );
        assert_eq!(
            got["meta"],
            json!({"keep": 1, "stamped_by": "z"}),
            "meta changes were lost"
        );
    }
}

#[tokio::test]
async fn a_trap_is_a_clear_error_naming_the_function() {
    let node = Node::start().await;
    node.deploy_ok("boom", "panic", &json!({"before_publish": ["trap.*"]}))
        .await;
    let (mut sse, _) = Sse::ready(&node, "trap.x", None).await;
    for _ in 0..2 {
        let answer = node
            .post_message(Op::Publish, "trap.x", r#"{"a":1}"#, &[])
            .await;
        let error = answer.error(502, "function_error");
        assert_eq!(error["function"], "boom");
        let message = error["message"].as_str().unwrap();
        assert!(
            message.contains("`boom`") && message.contains("trapped"),
            "{message}"
        );
    }
    node.wait_for_log("boom", &["boom on trap.x"], wait::TIMEOUT)
        .await;
    // Unbinding the hook (by removing it) lets the marker through.
    node.admin(reqwest::Method::DELETE, "/functions/boom")
        .await
        .ok();
    assert_nothing_got_through(&node, &mut sse, "trap.x").await;
}

#[tokio::test]
async fn a_hook_that_loops_forever_is_cut_off_at_its_deadline() {
    let node = Node::start().await;
    node.deploy_ok(
        "spinner",
        "spin",
        &json!({"before_publish": ["spin.*"], "timeout_ms": 200}),
    )
    .await;
    node.deploy_ok(
        "spin-default",
        "spin",
        &json!({"before_publish": ["spin.default"]}),
    )
    .await;
    let (mut sse, _) = Sse::ready(&node, "spin.x,fine", None).await;

    for _ in 0..2 {
        let answer = node
            .post_message(Op::Publish, "spin.x", r#"{"a":1}"#, &[])
            .await;
        let error = answer.error(504, "function_timeout");
        assert_eq!(error["function"], "spinner");
        let message = error["message"].as_str().unwrap();
        assert!(
            message.contains("`spinner`")
                && message.contains("deadline")
                && message.contains("200 ms"),
            "{message}"
        );
        // The node is not stuck: the next publish works.
        node.publish("fine", &json!({"after": "spin"})).await;
        assert_eq!(sse.next_message().await["channel"], "fine");
    }
    // Both functions match spin.default; the first by name fails first.
    let answer = node
        .post_message(Op::Publish, "spin.default", "{}", &[])
        .await;
    assert_eq!(
        answer.error(504, "function_timeout")["function"],
        "spin-default"
    );
    assert!(
        answer.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("50 ms"),
        "default deadline: {}",
        answer.body
    );
    node.wait_for_log("spinner", &["spinning on spin.x"], wait::TIMEOUT)
        .await;
    node.wait_for_log("spinner", &["deadline"], wait::TIMEOUT)
        .await;
    node.admin(reqwest::Method::DELETE, "/functions/spinner")
        .await
        .ok();
    assert_nothing_got_through(&node, &mut sse, "spin.x").await;
}

#[tokio::test]
async fn unusable_hook_results_are_refused() {
    let node = Node::start().await;
    for (mode, word) in [("invalid", "JSON"), ("big", "32768"), ("meta", "meta")] {
        let channel = format!("bad.{mode}");
        node.deploy_ok(
            &format!("bad-{mode}"),
            "bad-output",
            &json!({"before_publish": [channel], "config": {"mode": mode}}),
        )
        .await;
        let answer = node
            .post_message(Op::Publish, &channel, r#"{"a":1}"#, &[])
            .await;
        let error = answer.error(502, "function_error");
        assert_eq!(error["function"], format!("bad-{mode}"));
        let message = error["message"].as_str().unwrap();
        assert!(
            message.contains(&format!("`bad-{mode}`")) && message.contains(word),
            "{mode}: {message}"
        );
        assert!(node.history(&channel, "").await.is_empty());
    }
}

#[tokio::test]
async fn on_error_pass_lets_messages_through_unchanged() {
    let node = Node::start().await;
    let pass = |guest_config: Value| {
        let mut spec =
            json!({"before_publish": ["lenient"], "on_error": "pass", "timeout_ms": 100});
        spec["config"] = guest_config;
        spec
    };
    node.deploy_ok("a-boom", "panic", &pass(json!({}))).await;
    node.deploy_ok("b-spin", "spin", &pass(json!({}))).await;
    node.deploy_ok("c-bad", "bad-output", &pass(json!({"mode": "invalid"})))
        .await;
    node.deploy_ok("d-big", "bad-output", &pass(json!({"mode": "big"})))
        .await;
    assert_eq!(node.show("a-boom").await["spec"]["on_error"], "pass");
    let (mut sse, _) = Sse::ready(&node, "lenient", None).await;
    let tt = node.publish("lenient", &json!({"text": "through"})).await;
    let got = sse.next_message().await;
    assert_eq!(got["timetoken"], tt);
    assert!(
        got["message"] == json!({"text": "through"}),
        "the message did not pass unchanged: {}",
        check::short(&got)
    );
    assert!(got["meta"].is_null(), "{got}");
    // The failures are still logged.
    node.wait_for_log("a-boom", &["trapped"], wait::TIMEOUT)
        .await;
    node.wait_for_log("b-spin", &["deadline"], wait::TIMEOUT)
        .await;
}

#[tokio::test]
async fn the_memory_limit_is_per_function() {
    let node = Node::start().await;
    let hog = |channel: &str, alloc_mb: u32, memory_mb: Option<u32>| {
        let mut spec = json!({"before_publish": [channel], "config": {"alloc_mb": alloc_mb.to_string()}, "timeout_ms": 5000});
        if let Some(mb) = memory_mb {
            spec["memory_mb"] = mb.into();
        }
        spec
    };
    node.deploy_ok("small", "hog", &hog("mem.small", 24, Some(16)))
        .await;
    node.deploy_ok("default", "hog", &hog("mem.default", 40, None))
        .await;
    node.deploy_ok("large", "hog", &hog("mem.large", 40, Some(64)))
        .await;

    for (channel, function, limit) in [
        ("mem.small", "small", "16 MiB"),
        ("mem.default", "default", "32 MiB"),
    ] {
        let answer = node.post_message(Op::Publish, channel, "{}", &[]).await;
        let error = answer.error(502, "function_error");
        assert_eq!(error["function"], function);
        let message = error["message"].as_str().unwrap();
        assert!(
            message.contains(&format!("`{function}`"))
                && message.contains("memory")
                && message.contains(limit),
            "{message}"
        );
    }
    node.publish("mem.large", &json!({})).await;
    assert_eq!(
        node.history("mem.large", "").await[0]["message"]["allocated_mb"],
        40,
        "a raised limit was not applied"
    );
}
