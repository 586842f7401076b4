//! Durability: after `kill -9` (or a graceful SIGTERM) and a restart on the
//! same data dir, deployments (with their versions and bindings), history and
//! timetoken order are all still there, and compiled components are cached
//! (checked before use, recompiled when damaged, removed when unused); so are acknowledged KV writes, token revocations and function secrets.

use edgefn_e2e::caps::{self, ok};
use edgefn_e2e::check::seqs;
use edgefn_e2e::*;
use reqwest::Method;

#[tokio::test]
async fn kill_9_keeps_deployments_and_history() {
    let mut node = Node::start().await;
    node.deploy_ok(
        "moderate",
        "moderate",
        &json!({"before_publish": ["chat.*"], "config": {"banned_words": "spam"}}),
    )
    .await;
    // Redeployed once: version 2 must survive, not version 1.
    node.deploy_ok(
        "moderate",
        "moderate",
        &json!({"before_publish": ["chat.*"], "config": {"banned_words": "spam,eggs"}}),
    )
    .await;
    node.deploy_ok("hello", "hello", &json!({"endpoint": true}))
        .await;
    let mut tts = Vec::new();
    for seq in 0..3 {
        tts.push(
            node.publish("chat.log", &json!({"seq": seq, "text": " kept "}))
                .await,
        );
    }
    let before = node.admin(Method::GET, "/functions").await.ok().clone();

    node.kill9().await;
    node.restart().await;

    assert_eq!(
        node.admin(Method::GET, "/functions").await.ok(),
        &before,
        "deployments changed across the restart"
    );
    assert_eq!(node.show("moderate").await["version"], 2);
    let cached = std::fs::read_dir(node.data_dir().join("compiled"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert!(
        cached >= 2,
        "compiled components are not cached in the data dir"
    );

    let history = node.history("chat.log", "").await;
    assert_eq!(seqs(&history), [0, 1, 2]);
    assert_eq!(
        history
            .iter()
            .map(|m| m["timetoken"].as_str().unwrap())
            .collect::<Vec<_>>(),
        tts
    );
    assert_eq!(history[0]["message"]["text"], "kept");

    // Hooks and endpoints work as before; new timetokens follow the old ones.
    node.post_message(Op::Publish, "chat.log", r#"{"text":"eggs"}"#, &[])
        .await
        .error(403, "rejected");
    let after = node
        .publish("chat.log", &json!({"seq": 3, "text": "new"}))
        .await;
    assert!(
        after > tts[2],
        "timetoken went back after the restart: {after} <= {}",
        tts[2]
    );
    assert_eq!(node.get("/v1/fn/hello/back").await.ok()["path"], "/back");

    // A subscriber can resume across the restart from its last timetoken.
    let (_sse, replayed) = Sse::ready(&node, "chat.*", Some(&tts[1])).await;
    assert_eq!(seqs(&replayed), [2, 3]);
}

#[tokio::test]
async fn removal_survives_a_restart() {
    let mut node = Node::start().await;
    node.deploy_ok("hello", "hello", &json!({"endpoint": true}))
        .await;
    node.deploy_ok("gone", "hello", &json!({"endpoint": true}))
        .await;
    node.admin(Method::DELETE, "/functions/gone").await.ok();
    node.kill9().await;
    node.restart().await;
    node.admin(Method::GET, "/functions/gone")
        .await
        .error(404, "not_found");
    node.get("/v1/fn/gone/x").await.error(404, "not_found");
    node.get("/v1/fn/hello/x").await.ok();
}

#[tokio::test]
async fn sigterm_ends_streams_cleanly_and_keeps_state() {
    let mut node = Node::start().await;
    node.publish("term", &json!({"seq": 0})).await;
    let (mut sse, _) = Sse::ready(&node, "term", None).await;
    let mut ws = Ws::connect(&node).await;
    ws.call_ok(
        json!({"type": "subscribe", "channels": ["term"]}),
        "subscribed",
    )
    .await;

    let status = node.terminate().await;
    assert!(
        status.success(),
        "edgefn serve exited with {status} on SIGTERM; stderr:\n{}",
        node.stderr()
    );
    let event = sse.next_event().await;
    assert_eq!(event.event, "error");
    assert_eq!(event.data["code"], "shutting_down");
    match ws.next_frame().await {
        Err(edgefn_e2e::ws::Ended::Closed(Some(close))) => assert_eq!(u16::from(close.code), 1001),
        other => panic!("the WebSocket was not closed with 1001: {other:?}"),
    }

    node.restart().await;
    assert_eq!(seqs(&node.history("term", "").await), [0]);
}

#[tokio::test]
async fn kill_9_keeps_kv_writes_revocations_and_secrets() {
    let mut node = Node::start_secured("restart-secret-key").await;
    let spec = json!({"allow_token_grant": true, "secrets": {"SEALED": "kept-across-restarts"}});
    node.deploy_caps("caps", spec).await;
    // Writes acknowledged to a guest and to the operator.
    let results = node
        .run_ops(
            "caps",
            &[
                caps::kv_set("d:guest", "written", None),
                caps::kv_incr("d:n", 41),
                caps::kv_incr("d:n", 1),
                caps::kv_set("d:gone", "deleted", None),
                caps::kv_delete("d:gone"),
            ],
        )
        .await;
    for result in &results {
        ok(result);
    }
    node.cli(&["kv", "set", "d:op", "operator"]).await.ok();
    // Revocations by the admin API and by a function; one token kept.
    let grant = |n: u32| json!({"ttl_minutes": 5, "channels": {"d.a": ["read", "write"]}, "meta": {"n": n}});
    let by_admin = node.grant(&grant(1)).await;
    let kept = node.grant(&grant(2)).await;
    node.revoke(&by_admin).await;
    let fn_grant = caps::grant(json!({"ttl": 5, "channels": {"d.a": ["read", "write"]}}));
    let by_function = node.run_op("caps", fn_grant).await;
    let by_function = by_function.as_str().unwrap().to_owned();
    node.run_op("caps", caps::revoke(&by_function)).await;

    node.kill9().await;
    node.restart().await;

    let results = node
        .run_ops(
            "caps",
            &[
                caps::kv_get("d:guest"),
                caps::kv_get("d:n"),
                caps::kv_get("d:gone"),
                caps::kv_get("d:op"),
                caps::secret("SEALED"),
            ],
        )
        .await;
    let values: Vec<&Value> = results.iter().map(ok).collect();
    assert_eq!(
        values,
        [
            &json!("written"),
            &json!("42"),
            &Value::Null,
            &json!("operator"),
            &json!("kept-across-restarts")
        ]
    );
    for token in [&by_admin, &by_function] {
        node.post_message_as(Op::Publish, "d.a", "1", &[], &Auth::token(token))
            .await
            .error(403, "token_revoked");
        let refused = Sse::open_as(&node, "d.a", None, &Auth::token(token)).await;
        refused
            .err()
            .expect("a revoked token")
            .error(403, "token_revoked");
    }
    node.post_message_as(Op::Publish, "d.a", "1", &[], &Auth::token(&kept))
        .await
        .ok();
    assert_eq!(node.inspect(&kept).await["status"], "valid");
}

/// Sets `path`'s modification time (an artifact's last use) `hours` back.
fn last_used_hours_ago(path: &std::path::Path, hours: u64) {
    let then = std::time::SystemTime::now() - std::time::Duration::from_secs(hours * 3600);
    std::fs::File::options()
        .write(true)
        .open(path)
        .and_then(|file| file.set_modified(then))
        .unwrap();
}

/// The compiled artifacts (`*.cwasm`) under `node`'s data dir, sorted.
fn artifacts(node: &Node) -> Vec<std::path::PathBuf> {
    let mut found: Vec<_> = std::fs::read_dir(node.data_dir().join("compiled"))
        .expect("the compiled-component cache exists")
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "cwasm"))
        .collect();
    found.sort();
    found
}

#[tokio::test]
async fn a_corrupted_compiled_artifact_is_recompiled_and_unused_ones_are_removed() {
    let mut node = Node::start().await;
    node.deploy_ok("hello", "hello", &json!({"endpoint": true}))
        .await;
    node.deploy_ok(
        "moderate",
        "moderate",
        &json!({"before_publish": ["chat.*"], "config": {"banned_words": "spam"}}),
    )
    .await;
    assert_eq!(artifacts(&node).len(), 2, "one artifact per component");

    // Damage one byte in the middle of each artifact while the node is down.
    node.kill9().await;
    for path in artifacts(&node) {
        let mut bytes = std::fs::read(&path).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x55;
        std::fs::write(&path, bytes).unwrap();
    }
    node.restart().await;
    let log = node.stderr();
    assert!(
        log.contains("compiled artifact is unusable; recompiling")
            && log.contains("its checksum does not match its contents"),
        "the corrupted artifacts were not reported:\n{log}"
    );
    assert_eq!(node.get("/v1/fn/hello/x").await.ok()["path"], "/x");
    node.post_message(Op::Publish, "chat.x", r#"{"text":"hi"}"#, &[])
        .await
        .ok();

    // They were written again, whole: the next start loads them as they are.
    // An artifact of no deployed component unused for over an hour (the
    // grace that spares a function removed and deployed again a compile),
    // one of another engine configuration, and a temporary file a crash
    // left are removed then.
    node.kill9().await;
    let compiled = node.data_dir().join("compiled");
    let kept = artifacts(&node);
    let first = kept[0].file_name().unwrap().to_string_lossy().into_owned();
    let (hash, _) = first.split_once('-').unwrap();
    let strays = [
        compiled.join(format!("{}-0123456789abcdef.cwasm", "ab".repeat(32))),
        compiled.join(format!("{hash}-0123456789abcdef.cwasm")),
        compiled.join(format!("{first}.tmp-1-0")),
    ];
    for stray in &strays {
        std::fs::write(stray, b"stray").unwrap();
        last_used_hours_ago(stray, 2);
    }
    let recent = compiled.join(format!(
        "{}-{}",
        "cd".repeat(32),
        first.split_once('-').unwrap().1
    ));
    std::fs::write(&recent, b"used a minute ago").unwrap();
    node.restart().await;
    assert!(
        !node.stderr().contains("recompiling"),
        "an artifact written after a corruption did not load:\n{}",
        node.stderr()
    );
    for stray in &strays {
        assert!(!stray.exists(), "{} was not removed", stray.display());
    }
    assert!(
        recent.exists(),
        "an artifact used within the hour was removed"
    );
    std::fs::remove_file(&recent).unwrap();
    assert_eq!(artifacts(&node), kept);

    // Removing a function removes its artifact (before the answer) once it
    // has not been used for the grace period.
    for artifact in &kept {
        last_used_hours_ago(artifact, 2);
    }
    node.admin(Method::DELETE, "/functions/moderate").await.ok();
    let left = artifacts(&node);
    assert!(left.len() == 1 && kept.contains(&left[0]), "{left:?}");
    assert_eq!(node.get("/v1/fn/hello/y").await.ok()["path"], "/y");
}

/// Signals and messages kept out of history (`store=0`) are never written
/// to history, yet a node restarted with its clock an hour behind still
/// hands out timetokens after theirs.
#[tokio::test]
async fn timetokens_stay_increasing_across_a_restart_with_the_clock_stepped_back() {
    let mut node = Node::start().await;
    let mut before = vec![node.publish("tt.kept", &json!({"n": 0})).await];
    for n in 1..4 {
        before.push(node.op_ok(Op::Signal, "tt.signal", &json!(n)).await);
        let answer = node
            .post_message(
                Op::Publish,
                "tt.unstored",
                json!(n).to_string(),
                &[("store", "0")],
            )
            .await;
        before.push(answer.ok()["timetoken"].as_str().unwrap().to_owned());
    }
    let last = before.iter().max().unwrap().clone();

    node.kill9().await;
    node.restart_with(NodeOptions {
        clock_offset: Some("-1h".to_owned()),
        ..NodeOptions::default()
    })
    .await;
    let now = node.get("/time/0").await.ok()[0].as_u64().unwrap();
    assert!(
        now < last.parse::<u64>().unwrap(),
        "the restarted node's clock ({now}) is not behind {last}: libfaketime had no effect"
    );

    let signal = node.op_ok(Op::Signal, "tt.signal", &json!(9)).await;
    let unstored = node
        .post_message(Op::Publish, "tt.unstored", "9", &[("store", "0")])
        .await;
    let unstored = unstored.ok()["timetoken"].as_str().unwrap().to_owned();
    let kept = node.publish("tt.kept", &json!({"n": 9})).await;
    for (what, after) in [("signal", signal), ("store=0", unstored), ("stored", kept)] {
        assert!(
            after > last,
            "a {what} message got {after} after the restart, not after {last}"
        );
    }
}
