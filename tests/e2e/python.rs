//! Python guests: the `py-counter` example (`examples/python/py-counter`,
//! built with componentize-py by `scripts/build-python-guests.sh`), deployed
//! with the CLI as an after-publish hook and an endpoint, counts what is
//! published and answers with the counts, reading its configuration; a
//! Python exception raised by its hook lands in the function's log.

use std::time::Duration;

use edgefn_e2e::cli::CliOutput;
use edgefn_e2e::paths::guest;
use edgefn_e2e::wait::{TIMEOUT, eventually, within};
use edgefn_e2e::*;
use reqwest::Method;

/// A deploy compiles the 18 MB component (about 12 s alone on a small
/// machine, more while other tests run): longer than other CLI commands.
const DEPLOY_TIMEOUT: Duration = Duration::from_secs(180);

/// Deploys `py-counter` as `--after-publish 'chat.*' --endpoint` with `extra`
/// flags, through the CLI.
async fn deploy_py_counter(node: &Node, extra: &[&str]) {
    let component = guest("py-counter");
    let mut args = vec![
        "deploy",
        component.to_str().expect("a UTF-8 path"),
        "--name",
        "py-counter",
        "--after-publish",
        "chat.*",
        "--endpoint",
    ];
    args.extend_from_slice(extra);
    let output = within(
        "`edgefn deploy` of the Python component",
        DEPLOY_TIMEOUT,
        node.cli_command(&args).output(),
    )
    .await
    .expect("cannot run edgefn");
    let output = CliOutput {
        status: output.status,
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    assert!(
        output.ok().contains("deployed `py-counter`"),
        "{}",
        output.stdout
    );
}

/// `GET /v1/fn/py-counter/{channel}`, asserting its shape; the count.
async fn count(node: &Node, channel: &str) -> i64 {
    let answer = node.get(&format!("/v1/fn/py-counter/{channel}")).await;
    let body = answer.ok();
    assert_eq!(body["channel"], channel, "{body}");
    body["count"]
        .as_i64()
        .unwrap_or_else(|| panic!("no count in {body}"))
}

/// Waits until the endpoint says `channel` has `expected` messages.
async fn wait_for_count(node: &Node, channel: &str, expected: i64) {
    let what = format!("py-counter to count {expected} on {channel}");
    eventually(&what, TIMEOUT, || async {
        (count(node, channel).await == expected).then_some(())
    })
    .await;
}

#[tokio::test]
async fn python_counter_counts_as_a_hook_and_answers_as_an_endpoint() {
    let node = Node::start().await;
    deploy_py_counter(&node, &["--set", "key_prefix=py:"]).await;
    assert_eq!(
        node.show("py-counter").await["exports"],
        json!(["after-publish", "http"])
    );
    assert_eq!(count(&node, "chat.alice").await, 0);

    for seq in 0..3 {
        node.publish("chat.alice", &json!({"seq": seq})).await;
    }
    node.publish("chat.bob", &json!({"text": "hi"})).await;
    node.publish("news.x", &json!({"not": "bound"})).await;
    wait_for_count(&node, "chat.alice", 3).await;
    wait_for_count(&node, "chat.bob", 1).await;
    // A fire reaches after-publish hooks too.
    node.op_ok(Op::Fire, "chat.bob", &json!({"fired": true}))
        .await;
    wait_for_count(&node, "chat.bob", 2).await;

    // The counts live under the configured prefix, and only for the bound
    // channels.
    let stored = node.admin(Method::GET, "/kv?prefix=").await;
    let keys = &stored.ok()["keys"];
    assert_eq!(keys, &json!(["py:chat.alice", "py:chat.bob"]), "{keys}");
    let alice = node.admin(Method::GET, "/kv/py:chat.alice").await;
    assert_eq!(alice.ok()["value"], "3");
    assert_eq!(count(&node, "news.x").await, 0);

    // The query string is not part of the channel; other paths and methods
    // get JSON errors.
    let answer = node.get("/v1/fn/py-counter/chat.alice?fresh=1").await;
    assert_eq!(answer.ok(), &json!({"channel": "chat.alice", "count": 3}));
    for path in ["", "/a/b", "/chat.alice/"] {
        let answer = node.get(&format!("/v1/fn/py-counter{path}")).await;
        assert_eq!(answer.status, 404, "{path}: {}", answer.body);
        assert!(
            answer.body["error"]
                .as_str()
                .is_some_and(|e| e.contains("GET /{channel}")),
            "{path}: {}",
            answer.body
        );
        assert_eq!(answer.headers["content-type"], "application/json");
    }
    let answer = node
        .send(node.http().post(node.url("/v1/fn/py-counter/chat.alice")))
        .await;
    assert_eq!(answer.status, 405, "{}", answer.body);
    assert_eq!(answer.headers["allow"], "GET");
    assert_eq!(answer.body["error"], "POST is not allowed: use GET");
}

#[tokio::test]
async fn an_exception_raised_by_the_python_hook_lands_in_the_log() {
    let node = Node::start().await;
    deploy_py_counter(&node, &[]).await;
    // A counter that `incr` cannot add to: the KV call fails, and the hook
    // raises with a message of its own.
    node.cli(&["kv", "set", "count:chat.broken", "not a number"])
        .await
        .ok();
    node.publish("chat.broken", &json!({"text": "hi"})).await;
    let line = node
        .wait_for_log(
            "py-counter",
            &["could not count a message on chat.broken", "not an integer"],
            TIMEOUT,
        )
        .await;
    assert_eq!(line["source"], "host", "{line}");
    let answer = node.get("/v1/fn/py-counter/chat.broken").await;
    assert_eq!(answer.status, 500, "{}", answer.body);
    assert_eq!(
        answer.body["error"],
        "the count of chat.broken is not a number"
    );
    let stored = node.admin(Method::GET, "/kv/count:chat.broken").await;
    assert_eq!(stored.ok()["value"], "not a number");

    // The failure stays with that message: the next ones count (each
    // invocation is a fresh instance), and their debug lines are logged.
    node.publish("chat.fine", &json!({"text": "hi"})).await;
    wait_for_count(&node, "chat.fine", 1).await;
    let counted = json!([["channel", "chat.fine"], ["count", "1"]]);
    eventually("py-counter's `counted` log line", TIMEOUT, || async {
        node.logs("py-counter").await.into_iter().find(|line| {
            line["source"] == "log" && line["text"] == "counted" && line["fields"] == counted
        })
    })
    .await;
}
