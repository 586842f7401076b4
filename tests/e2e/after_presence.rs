//! After-presence hooks: the `presence-log` test guest, bound to channel
//! patterns, reports each presence change it gets (on a report channel a
//! test subscribes to) and counts it in KV. Joins (with and without state),
//! state changes, leaves and timeouts run it with the channel's occupancy
//! after the change; a channel its patterns do not match does not; a
//! redeploy to other channels and a removal stop the old bindings; a
//! component without the export, or a pattern naming `-pnpres` channels,
//! is refused at deploy with what to do; the CLI deploys and lists the
//! bindings.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use edgefn_e2e::cli::run;
use edgefn_e2e::paths::guest;
use edgefn_e2e::*;
use reqwest::Method;

/// PubNub's presence API, on the default subscribe key.
const PRESENCE: &str = "/v2/presence/sub-key/demo/channel";
/// The shortest presence timeout a client may ask for, in seconds.
pub const HEARTBEAT: u64 = 20;
/// A presence timeout that outlasts any test.
pub const LONG: u64 = 3600;
/// Where the guest reports.
pub const REPORTS: &str = "presence-reports";

/// A `presence-log` deployment bound to `patterns`, labelled `label` (its
/// KV keys start with it).
pub fn spec(patterns: &[&str], label: &str) -> Value {
    json!({
        "after_presence": patterns,
        "config": {"label": label, "report_channel": REPORTS},
    })
}

/// Heartbeats `uuid` on `channels` (comma-separated) through `node`, with
/// presence timeout `timeout` seconds and `state`, if any.
pub async fn heartbeat(
    node: &Node,
    channels: &str,
    uuid: &str,
    timeout: u64,
    state: Option<&Value>,
) {
    let path = format!("{PRESENCE}/{channels}/heartbeat");
    let mut query = vec![
        ("uuid", uuid.to_owned()),
        ("heartbeat", timeout.to_string()),
    ];
    if let Some(state) = state {
        query.push(("state", state.to_string()));
    }
    let request = node.http().get(node.url(&path)).query(&query);
    node.send(request).await.ok();
}

/// `uuid` leaves `channels` through `node`.
pub async fn leave(node: &Node, channels: &str, uuid: &str) {
    let path = format!("{PRESENCE}/{channels}/leave?uuid={uuid}");
    node.get(&path).await.ok();
}

/// Sets `uuid`'s state on `channel` through `node`.
pub async fn set_state(node: &Node, channel: &str, uuid: &str, state: &Value) {
    let path = format!("{PRESENCE}/{channel}/uuid/{uuid}/data");
    let request = node.http().get(node.url(&path)).query(&[
        ("state", state.to_string()),
        ("heartbeat", LONG.to_string()),
    ]);
    node.send(request).await.ok();
}

/// The next report on `reports` (a subscription to [`REPORTS`]).
pub async fn next_report(reports: &mut Sse) -> Value {
    reports.next_message().await["message"].clone()
}

/// Asserts what `report` says: who, what, where, the occupancy after and
/// the state; and that it ran once and happened about now.
#[track_caller]
pub fn assert_report(
    report: &Value,
    (action, channel, uuid): (&str, &str, &str),
    occupancy: u64,
    state: Value,
) {
    let got = (
        report["action"].as_str(),
        report["channel"].as_str(),
        report["uuid"].as_str(),
        report["occupancy"].as_u64(),
    );
    assert_eq!(
        got,
        (Some(action), Some(channel), Some(uuid), Some(occupancy)),
        "{report}"
    );
    assert_eq!(report["state"], state, "{report}");
    assert_eq!(report["runs"], 1, "the hook ran more than once: {report}");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let timestamp = report["timestamp"].as_u64().expect("a timestamp");
    assert!(
        timestamp.abs_diff(now) <= 120,
        "timestamp {timestamp} is not about now ({now}): {report}"
    );
}

/// How many times the function labelled `label` ran for (`channel`,
/// `action`, `uuid`), as its KV counter says (0 when it never did).
pub async fn runs(node: &Node, label: &str, channel: &str, action: &str, uuid: &str) -> u64 {
    let answer = node
        .admin(
            Method::GET,
            &format!("/kv/{label}:{channel}:{action}:{uuid}"),
        )
        .await;
    if answer.status == 404 {
        return 0;
    }
    let value = answer.ok()["value"].as_str().expect("a value").to_owned();
    value.parse().unwrap_or_else(|_| panic!("a count: {value}"))
}

#[tokio::test]
async fn joins_state_changes_and_leaves_run_the_hook_with_the_occupancy_after() {
    let node = Node::start().await;
    node.deploy_ok("rooms", "presence-log", &spec(&["room.*"], "rooms"))
        .await;
    let (mut reports, _) = Sse::ready(&node, REPORTS, None).await;

    heartbeat(&node, "room.a", "alice", LONG, None).await;
    let report = next_report(&mut reports).await;
    assert_report(&report, ("join", "room.a", "alice"), 1, Value::Null);
    assert_eq!(report["label"], "rooms");

    // A join whose heartbeat sets a state carries it.
    let busy = json!({"mood": "busy"});
    heartbeat(&node, "room.a", "bob", LONG, Some(&busy)).await;
    let report = next_report(&mut reports).await;
    assert_report(&report, ("join", "room.a", "bob"), 2, busy);

    // Heartbeats of a member already present are no change.
    heartbeat(&node, "room.a", "alice", LONG, None).await;
    let typing = json!({"typing": true});
    set_state(&node, "room.a", "alice", &typing).await;
    let report = next_report(&mut reports).await;
    assert_report(&report, ("state-change", "room.a", "alice"), 2, typing);

    leave(&node, "room.a", "bob").await;
    let report = next_report(&mut reports).await;
    assert_report(&report, ("leave", "room.a", "bob"), 1, Value::Null);
    leave(&node, "room.a", "alice").await;
    let report = next_report(&mut reports).await;
    assert_report(&report, ("leave", "room.a", "alice"), 0, Value::Null);

    // One invocation each, logged, and counted as after-presence runs.
    assert_eq!(runs(&node, "rooms", "room.a", "join", "alice").await, 1);
    node.wait_for_log("rooms", &["alice leave on room.a (run 1)"], wait::TIMEOUT)
        .await;
    let counted = |metrics: &str| {
        metrics.lines().any(|l| {
            l.starts_with("edgefn_function_invocations_total{")
                && l.contains("function=\"rooms\"")
                && l.contains("trigger=\"AfterPresence\"")
                && l.contains("outcome=\"Ok\"")
                && l.ends_with(" 5")
        })
    };
    wait::eventually(
        "five after-presence runs in the metrics",
        wait::TIMEOUT,
        || async {
            let metrics = node.get("/metrics").await.body;
            counted(metrics.as_str().expect("metrics as text")).then_some(())
        },
    )
    .await;
}

#[tokio::test]
async fn a_timeout_runs_the_hook() {
    let node = Node::start().await;
    node.deploy_ok("rooms", "presence-log", &spec(&["room.*"], "rooms"))
        .await;
    let (mut reports, _) = Sse::ready(&node, REPORTS, None).await;
    heartbeat(&node, "room.t", "host", LONG, None).await;
    assert_report(
        &next_report(&mut reports).await,
        ("join", "room.t", "host"),
        1,
        Value::Null,
    );
    heartbeat(&node, "room.t", "ghost", HEARTBEAT, None).await;
    assert_report(
        &next_report(&mut reports).await,
        ("join", "room.t", "ghost"),
        2,
        Value::Null,
    );
    // The ghost never heartbeats again: it times out after HEARTBEAT
    // seconds (swept every second), leaving the host.
    let limit = Duration::from_secs(HEARTBEAT) + wait::TIMEOUT;
    let report = reports.next_event_within(limit).await.data["message"].clone();
    assert_report(&report, ("timeout", "room.t", "ghost"), 1, Value::Null);
}

#[tokio::test]
async fn only_matching_channels_run_the_hook_and_redeploys_and_removals_unbind_it() {
    let node = Node::start().await;
    node.deploy_ok("rooms", "presence-log", &spec(&["room.*"], "rooms"))
        .await;
    let (mut reports, _) = Sse::ready(&node, REPORTS, None).await;
    let (mut events, _) = Sse::ready(&node, "lobby-pnpres,room-pnpres", None).await;

    // One heartbeat joins three channels, in order; `room.*` matches only
    // the last (not `room` itself, nor `lobby`).
    heartbeat(&node, "lobby,room,room.x", "dave", LONG, None).await;
    for channel in ["lobby-pnpres", "room-pnpres"] {
        let event = events.next_message().await;
        assert_eq!(event["channel"], channel, "{event}");
        assert_eq!(event["message"]["action"], "join", "{event}");
    }
    assert_report(
        &next_report(&mut reports).await,
        ("join", "room.x", "dave"),
        1,
        Value::Null,
    );
    // The events were queued in order, and each function's queue starts
    // its work in order: had `lobby` or `room` run the hook, it would have
    // counted them before `room.x`.
    for channel in ["lobby", "room"] {
        assert_eq!(runs(&node, "rooms", channel, "join", "dave").await, 0);
    }

    // Redeployed to `hall.*`: `room.*` no longer runs it.
    let redeployed = node
        .deploy_ok("rooms", "presence-log", &spec(&["hall.*"], "rooms"))
        .await;
    assert_eq!(redeployed["version"], 2);
    heartbeat(&node, "room.y,hall.a", "erin", LONG, None).await;
    assert_report(
        &next_report(&mut reports).await,
        ("join", "hall.a", "erin"),
        1,
        Value::Null,
    );
    assert_eq!(runs(&node, "rooms", "room.y", "join", "erin").await, 0);

    // Removed: a witness bound to the same channels runs, it does not (it
    // would have come first: functions are queued by name).
    node.deploy_ok("witness", "presence-log", &spec(&["hall.*"], "witness"))
        .await;
    node.admin(Method::DELETE, "/functions/rooms").await.ok();
    heartbeat(&node, "hall.b", "frank", LONG, None).await;
    let report = next_report(&mut reports).await;
    assert_report(&report, ("join", "hall.b", "frank"), 1, Value::Null);
    assert_eq!(report["label"], "witness", "{report}");
    assert_eq!(runs(&node, "rooms", "hall.b", "join", "frank").await, 0);
}

#[tokio::test]
async fn deploys_without_the_export_or_on_presence_channels_are_refused() {
    let node = Node::start().await;
    // `counter` exports after-publish and an endpoint, not after-presence.
    let answer = node
        .deploy("counter", "counter", &json!({"after_presence": ["room"]}))
        .await;
    let message = answer.message(400, "invalid_component");
    assert!(
        message.contains("edgefn:functions/after-presence@0.1.0")
            && message.contains("--after-presence"),
        "{message}"
    );

    for pattern in ["room-pnpres", "chat.*-pnpres"] {
        let answer = node
            .deploy(
                "rooms",
                "presence-log",
                &json!({"after_presence": [pattern]}),
            )
            .await;
        let message = answer.message(400, "invalid_spec");
        assert!(
            message.contains(pattern) && message.contains("presence channels"),
            "{message}"
        );
    }
    // And the component serves no trigger it does not export.
    let answer = node
        .deploy("rooms", "presence-log", &json!({"after_publish": ["room"]}))
        .await;
    answer.error(400, "invalid_component");
    let answer = node.deploy("rooms", "presence-log", &json!({})).await;
    let message = answer.message(400, "invalid_spec");
    assert!(message.contains("--after-presence"), "{message}");
    let listed = node.admin(Method::GET, "/functions").await;
    assert_eq!(listed.ok()["functions"], json!([]), "nothing was deployed");
}

#[tokio::test]
async fn the_cli_deploys_and_lists_after_presence_bindings() {
    let node = Node::start().await;
    let wasm = guest("presence-log");
    let report_channel = format!("report_channel={REPORTS}");
    let deploy = node.cli_command(&[
        "deploy",
        &wasm.display().to_string(),
        "--name",
        "greeter",
        "--after-presence",
        "room",
        "--after-presence",
        "chat.*",
        "--set",
        &report_channel,
    ]);
    run(deploy).await.ok();
    let shown = node.show("greeter").await;
    assert_eq!(shown["spec"]["after_presence"], json!(["room", "chat.*"]));
    assert_eq!(shown["exports"], json!(["after-presence"]));
    let list = node.cli(&["functions", "list"]).await.ok().to_owned();
    assert!(
        list.starts_with("greeter") && list.contains("after-presence room,chat.*"),
        "{list}"
    );

    let (mut reports, _) = Sse::ready(&node, REPORTS, None).await;
    heartbeat(&node, "room", "gina", LONG, None).await;
    let report = next_report(&mut reports).await;
    assert_report(&report, ("join", "room", "gina"), 1, Value::Null);
}
