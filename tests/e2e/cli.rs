//! The `edgefn` client commands: `deploy` with every flag (and the
//! `EDGEFN_SERVER` / `EDGEFN_ADMIN_KEY` variables in place of `--server` /
//! `--admin-key`), `functions list|show|remove|logs`, `publish`, `subscribe`
//! and `history`, and the errors they print.

use edgefn_e2e::cli::{CliSubscriber, command, run};
use edgefn_e2e::paths::guest;
use edgefn_e2e::*;

/// `edgefn ARGS... --server URL --admin-key KEY` (flags, no variables).
async fn with_flags(node: &Node, args: &[&str]) -> edgefn_e2e::cli::CliOutput {
    let mut command = command(args);
    command.args(["--server", node.base(), "--admin-key", node.admin_key()]);
    run(command).await
}

#[tokio::test]
async fn deploy_a_hook_with_every_sandbox_flag() {
    let node = Node::start().await;
    let wasm = guest("moderate");
    let args = [
        "deploy",
        wasm.to_str().unwrap(),
        "--name",
        "moderate",
        "--before-publish",
        "chat.*",
        "--before-publish",
        "room",
        "--set",
        "banned_words=spam,scam",
        "--set",
        "note=a=b",
        "--timeout-ms",
        "250",
        "--memory-mb",
        "16",
        "--on-error",
        "pass",
    ];
    let stdout = with_flags(&node, &args).await.ok().to_owned();
    assert!(
        stdout.contains("deployed `moderate` version 1") && stdout.contains("sha256"),
        "{stdout}"
    );

    let shown = with_flags(&node, &["functions", "show", "moderate"]).await;
    let shown: Value = serde_json::from_str(shown.ok()).expect("functions show prints JSON");
    assert_eq!(
        shown["spec"],
        json!({
            "name": "moderate",
            "before_publish": ["chat.*", "room"],
            "config": {"banned_words": "spam,scam", "note": "a=b"},
            "timeout_ms": 250,
            "memory_mb": 16,
            "on_error": "pass",
        })
    );
    for channel in ["chat.x", "room"] {
        node.publish(channel, &json!({"text": " a  b "})).await;
        assert_eq!(
            node.history(channel, "").await[0]["message"],
            json!({"text": "a b", "moderated": true})
        );
    }
    node.post_message(Op::Publish, "room", r#"{"text":"spam"}"#, &[])
        .await
        .error(403, "rejected");
}

#[tokio::test]
async fn deploy_other_triggers_with_environment_variables() {
    let node = Node::start().await;
    let recorder = Recorder::start().await;
    let deploy = |name: &str, extra: &[&str]| {
        let wasm = guest(name);
        let mut args = vec![
            "deploy".to_owned(),
            wasm.display().to_string(),
            "--name".into(),
            name.into(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        node.cli_command(&args.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let allow = recorder.url("");
    let forward_url = format!("forward_url={}", recorder.url("/fwd"));
    let ticker_url = format!("ticker_url={}", recorder.url("/tick"));
    run(deploy(
        "forward",
        &[
            "--after-publish",
            "news.*",
            "--allow-outbound",
            &allow,
            "--set",
            &forward_url,
        ],
    ))
    .await
    .ok();
    run(deploy("hello", &["--endpoint"])).await.ok();
    run(deploy(
        "ticker",
        &[
            "--every",
            "1",
            "--allow-outbound",
            &allow,
            "--set",
            &ticker_url,
        ],
    ))
    .await
    .ok();

    let shown = node.show("forward").await;
    assert_eq!(shown["spec"]["after_publish"], json!(["news.*"]));
    assert_eq!(shown["spec"]["allow_outbound"], json!([allow]));
    assert_eq!(node.show("ticker").await["spec"]["every"], 1);

    node.publish("news.today", &json!({"headline": "cli"}))
        .await;
    assert_eq!(
        node.get("/v1/fn/hello/from-cli").await.ok()["path"],
        "/from-cli"
    );
    let mut paths = Vec::new();
    while !(paths.contains(&"/fwd".to_owned()) && paths.contains(&"/tick".to_owned())) {
        paths.push(recorder.next().await.path);
    }
}

#[tokio::test]
async fn functions_list_show_remove_logs() {
    let node = Node::start().await;
    assert_eq!(
        node.cli(&["functions", "list"]).await.ok().trim(),
        "no functions deployed"
    );
    node.deploy_ok(
        "moderate",
        "moderate",
        &json!({"before_publish": ["chat.*", "x"]}),
    )
    .await;
    node.deploy_ok("hello", "hello", &json!({"endpoint": true}))
        .await;
    node.deploy_ok("forward", "forward", &json!({"after_publish": ["news"]}))
        .await;
    node.deploy_ok("ticker", "ticker", &json!({"every": 30}))
        .await;

    let list = node.cli(&["functions", "list"]).await.ok().to_owned();
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), 4, "{list}");
    assert!(
        lines[0].starts_with("forward") && lines[0].contains("after-publish news"),
        "{list}"
    );
    assert!(
        lines[1].starts_with("hello") && lines[1].contains("endpoint"),
        "{list}"
    );
    assert!(
        lines[2].starts_with("moderate")
            && lines[2].contains("before-publish chat.*,x")
            && lines[2].contains("v1"),
        "{list}"
    );
    assert!(
        lines[3].starts_with("ticker") && lines[3].contains("every 30s"),
        "{list}"
    );

    let removed = node.cli(&["functions", "remove", "hello"]).await;
    assert!(removed.ok().contains("removed `hello`"));
    let missing = node.cli(&["functions", "show", "hello"]).await;
    assert!(
        missing.failed().contains("no function named `hello`"),
        "{}",
        missing.stderr
    );
    assert!(
        node.cli(&["functions", "remove", "hello"])
            .await
            .failed()
            .contains("404")
    );
    assert!(
        !node
            .cli(&["functions", "list"])
            .await
            .ok()
            .contains("hello")
    );

    node.deploy_ok("boom", "panic", &json!({"before_publish": ["t"]}))
        .await;
    node.post_message(Op::Publish, "t", "1", &[])
        .await
        .error(502, "function_error");
    let logs = node.cli(&["functions", "logs", "boom"]).await;
    assert!(
        logs.ok().contains("boom on t") && logs.stdout.contains("host"),
        "{}",
        logs.stdout
    );
}

#[tokio::test]
async fn client_errors_say_what_to_do() {
    let node = Node::start().await;
    let wasm = guest("hello");
    let wasm = wasm.to_str().unwrap();

    let no_key = run(command(["functions", "list", "--server", node.base()])).await;
    assert!(
        no_key.failed().contains("no admin key"),
        "{}",
        no_key.stderr
    );
    let wrong = run(command([
        "functions",
        "list",
        "--server",
        node.base(),
        "--admin-key",
        "nope",
    ]))
    .await;
    assert!(
        wrong.failed().contains("admin key was refused"),
        "{}",
        wrong.stderr
    );
    let mut env_wrong = node.cli_command(&["functions", "list"]);
    env_wrong.env("EDGEFN_ADMIN_KEY", "also-wrong");
    assert!(
        run(env_wrong)
            .await
            .failed()
            .contains("admin key was refused")
    );
    let unreachable = run(command([
        "functions",
        "list",
        "--server",
        "http://127.0.0.1:1",
        "--admin-key",
        "k",
    ]))
    .await;
    assert!(
        unreachable.failed().contains("cannot reach"),
        "{}",
        unreachable.stderr
    );

    let cases: [(&[&str], &str); 6] = [
        (&["deploy", wasm, "--name", "hello"], "at least one trigger"),
        (
            &[
                "deploy",
                wasm,
                "--name",
                "hello",
                "--before-publish",
                "a.*.b",
            ],
            "a.*.b",
        ),
        (
            &[
                "deploy",
                wasm,
                "--name",
                "hello",
                "--endpoint",
                "--set",
                "novalue",
            ],
            "KEY=VALUE",
        ),
        (
            &[
                "deploy",
                wasm,
                "--name",
                "hello",
                "--endpoint",
                "--allow-outbound",
                "ftp://x",
            ],
            "ftp://x",
        ),
        (
            &[
                "deploy",
                "/no/such/file.wasm",
                "--name",
                "hello",
                "--endpoint",
            ],
            "/no/such/file.wasm",
        ),
        (
            &[
                "deploy",
                wasm,
                "--name",
                "hello",
                "--before-publish",
                "chat.*",
            ],
            "before-publish",
        ),
    ];
    for (args, says) in cases {
        let output = node.cli(args).await;
        assert!(
            output.failed().contains(says),
            "{args:?}: expected {says:?} in {}",
            output.stderr
        );
    }
    assert!(
        node.cli(&["functions", "list"])
            .await
            .ok()
            .contains("no functions deployed")
    );
}

#[tokio::test]
async fn publish_subscribe_history() {
    let node = Node::start().await;
    let mut subscriber =
        CliSubscriber::start(node.cli_command(&["subscribe", "chat.*", "news"])).await;

    let tt = node
        .cli(&[
            "publish",
            "chat.lobby",
            r#"{"text":"hi"}"#,
            "--meta",
            r#"{"m":1}"#,
        ])
        .await
        .ok()
        .trim()
        .to_owned();
    check::assert_timetoken(&tt);
    node.cli(&["publish", "news", "[1,2]"]).await.ok();
    node.cli(&["publish", "news", "\"fired\"", "--fire"])
        .await
        .ok();
    node.cli(&["publish", "news", "\"sig\"", "--signal"])
        .await
        .ok();
    node.cli(&["publish", "other", "1"]).await.ok();

    let first = subscriber.next_json().await;
    assert_eq!(
        first,
        json!({"channel": "chat.lobby", "timetoken": tt, "message": {"text": "hi"}, "meta": {"m": 1}, "publisher": null, "kind": "publish", "subscription": "chat.*"})
    );
    assert_eq!(subscriber.next_json().await["message"], json!([1, 2]));
    let signal = subscriber.next_json().await;
    assert_eq!(
        (signal["kind"].as_str(), signal["message"].as_str()),
        (Some("signal"), Some("sig")),
        "the fire was delivered: {signal}"
    );

    let history = node.cli(&["history", "news"]).await.ok().to_owned();
    let stored: Vec<Value> = history
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    assert_eq!(stored.len(), 1, "fire or signal stored: {history}");
    assert_eq!(stored[0]["message"], json!([1, 2]));
    for seq in 0..3 {
        node.publish("many", &json!({"seq": seq})).await;
    }
    let limited = node
        .cli(&["history", "many", "--limit", "2"])
        .await
        .ok()
        .to_owned();
    let seqs: Vec<Value> = limited
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["message"]["seq"].clone())
        .collect();
    assert_eq!(seqs, [json!(1), json!(2)]);

    let not_json = node.cli(&["publish", "news", "hello"]).await;
    assert!(
        not_json.failed().contains("must be JSON"),
        "{}",
        not_json.stderr
    );
    let bad_channel = node.cli(&["publish", "a:b", "1"]).await;
    assert!(
        bad_channel.failed().contains("a:b"),
        "{}",
        bad_channel.stderr
    );
    let tt2 = node
        .cli(&["publish", "chat.after", "2"])
        .await
        .ok()
        .trim()
        .to_owned();
    assert_eq!(
        subscriber.next_json().await["timetoken"],
        tt2,
        "a refused publish reached the subscriber"
    );

    // `--since` replays first.
    let since = node.history("many", "").await[0]["timetoken"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut replaying =
        CliSubscriber::start(node.cli_command(&["subscribe", "many", "--since", &since])).await;
    assert_eq!(replaying.next_json().await["message"]["seq"], 1);
    assert_eq!(replaying.next_json().await["message"]["seq"], 2);
}
