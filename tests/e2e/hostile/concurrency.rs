//! Many slow invocations at once: the per-function concurrency cap turns
//! the excess away at once (`function_busy`, 503) instead of queueing it,
//! and one function's slow after-publish work must not hold up another's.

use std::time::{Duration, Instant};

use edgefn_e2e::*;
use futures::future::join_all;

use super::while_good;

/// Splits answers into successes and `function_busy` refusals of
/// `function`, asserting there is nothing else; returns the number of
/// successes and the slowest refusal.
#[track_caller]
fn busy_split(answers: &[(Answer, Duration)], function: &str) -> (usize, Duration) {
    let mut ok = 0;
    let mut slowest = Duration::ZERO;
    for (answer, took) in answers {
        if (200..300).contains(&answer.status) {
            ok += 1;
            continue;
        }
        let error = answer.error(503, "function_busy");
        assert_eq!(error["function"], function);
        assert_eq!(error["retryable"], true);
        let message = error["message"].as_str().unwrap();
        assert!(
            message.contains(&format!(
                "`{function}` is busy: it already runs 2 invocations, its concurrency limit"
            )),
            "{message}"
        );
        slowest = slowest.max(*took);
    }
    (ok, slowest)
}

#[tokio::test]
async fn slow_invocations_past_the_concurrency_cap_are_refused_at_once() {
    let node = Node::start().await;
    node.deploy_good().await;
    let slow = json!({"ms": "1500"});
    node.deploy_hostile(
        "slow-ep",
        "slow",
        json!({"endpoint": true, "max_concurrency": 2}),
        slow.clone(),
    )
    .await;
    node.deploy_hostile(
        "slow-bp",
        "slow",
        json!({"before_publish": ["hostile.slow"], "max_concurrency": 2, "timeout_ms": 5000}),
        slow,
    )
    .await;
    let timed = |request: reqwest::RequestBuilder| async {
        let started = Instant::now();
        let answer = node.send(request).await;
        (answer, started.elapsed())
    };
    let (calls, publishes) = while_good(&node, async {
        let calls = (0..8).map(|_| timed(node.http().get(node.url("/v1/fn/slow-ep/go"))));
        let publishes = (0..8).map(|_| {
            timed(
                node.http()
                    .post(node.url("/v1/publish/hostile.slow"))
                    .body(r#"{"n":1}"#),
            )
        });
        tokio::join!(join_all(calls), join_all(publishes))
    })
    .await;
    for (answers, function) in [(&calls, "slow-ep"), (&publishes, "slow-bp")] {
        let (ok, slowest) = busy_split(answers, function);
        assert_eq!(ok, 2, "{function}: {ok} invocations ran, the cap is 2");
        assert!(
            slowest < Duration::from_millis(1000),
            "{function}: a refusal took {slowest:?}: it waited for a slot"
        );
    }
    node.wait_for_invocations("slow-ep", "Endpoint", "Busy", 6)
        .await;
    node.wait_for_invocations("slow-bp", "BeforePublish", "Busy", 6)
        .await;
    node.wait_for_log("slow-ep", &["`slow-ep` is busy"], wait::TIMEOUT)
        .await;
    assert_eq!(node.history("hostile.slow", "").await.len(), 2);
}

#[tokio::test]
async fn slow_after_publish_work_does_not_hold_up_another_function() {
    // `noisy` sleeps 2 s per message on its channel; 150 messages there
    // must not delay `watcher`'s after-publish copy of one message on
    // another channel by more than a second. (The node runs at most
    // `after_publish_concurrency` = 64 copies at once, from one queue.)
    let node = Node::start().await;
    node.deploy_good().await;
    node.deploy_hostile(
        "noisy",
        "slow",
        json!({"after_publish": ["noisy.*"], "timeout_ms": 5000}),
        json!({"ms": "2000"}),
    )
    .await;
    node.deploy_hostile(
        "watcher",
        "ok",
        json!({"after_publish": ["watched.*"]}),
        json!({}),
    )
    .await;
    let delay = while_good(&node, async {
        let messages: Vec<Value> = (0..150).map(|i| json!({"i": i})).collect();
        join_all(messages.iter().map(|m| node.publish("noisy.x", m))).await;
        let published = Instant::now();
        node.publish("watched.x", &json!({"watch": 1})).await;
        node.wait_for_invocations("watcher", "AfterPublish", "Ok", 1)
            .await;
        published.elapsed()
    })
    .await;
    assert!(
        delay < Duration::from_millis(1000),
        "`watcher`'s after-publish copy waited {delay:?} behind `noisy`'s slow ones"
    );
}

#[tokio::test]
async fn one_function_cannot_take_the_whole_instance_pool() {
    // A node with room for 8 instances (`[wasm] max_instances`) and a
    // function with the default concurrency cap (256): 10 slow calls to it
    // must leave room for the good function's hook.
    let node = Node::start_with_config("[wasm]\nmax_instances = 8\n").await;
    node.deploy_good().await;
    node.deploy_hostile(
        "hog",
        "slow",
        json!({"endpoint": true}),
        json!({"ms": "2000"}),
    )
    .await;
    let calls = (0..10).map(|_| node.get("/v1/fn/hog/go"));
    let good = async {
        // Give the slow calls a head start, then publish to the good channel.
        tokio::time::sleep(Duration::from_millis(300)).await;
        node.post_message(
            Op::Publish,
            edgefn_e2e::hostile::GOOD_CHANNEL,
            r#"{"text":"still  here"}"#,
            &[],
        )
        .await
    };
    let (answers, good) = tokio::join!(join_all(calls), good);
    let busy = answers.iter().filter(|a| a.status == 503).count();
    assert!(
        good.status == 200,
        "the good function's publish failed while `hog` ran {} slow invocations ({busy} of its calls refused): {} {}",
        10 - busy,
        good.status,
        good.body
    );
}
