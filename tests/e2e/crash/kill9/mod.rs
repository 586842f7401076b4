//! `kill -9` at random moments under mixed load, then a restart and a check
//! of every invariant, several rounds in a row.

mod check;
mod load;
mod model;

use std::time::{Duration, Instant};

use edgefn_e2e::node::write_config;
use edgefn_e2e::paths::guest_bytes;
use edgefn_e2e::wait::{TIMEOUT, within};
use edgefn_e2e::*;
use reqwest::Method;

use self::check::*;
use self::load::*;
use self::model::*;
use super::client::*;

/// Kills per run, unless `EDGEFN_CRASH_ROUNDS` says (for longer soaks).
pub(super) const ROUNDS: usize = 5;

pub(super) fn rounds() -> usize {
    std::env::var("EDGEFN_CRASH_ROUNDS")
        .ok()
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(ROUNDS)
}
pub(super) const SECRET: &str = "crash-test-secret-key";
/// Published channels; the ones named in [`HOOKS`] go through a stamp hook.
pub(super) const CHANNELS: [&str; 4] = ["crash.c0", "crash.c1", "crash.c2", "crash.c3"];
/// Publishers per channel (each publishes one message at a time).
pub(super) const WRITERS: usize = 2;
/// The redeployed functions (stamp-a / stamp-b in turn) and their channels.
pub(super) const HOOKS: [(&str, &[&str]); 2] = [
    ("stamp-1", &["crash.c0", "crash.c1"]),
    ("stamp-2", &["crash.c2"]),
];
/// Deployed and removed in turn.
pub(super) const BLINK: &str = "blink";
/// The `caps` guest: KV writes from inside a function.
pub(super) const CAPS: &str = "caps";
/// Operator KV writers, each with keys of its own.
pub(super) const KV_WRITERS: usize = 2;
pub(super) const KV_KEYS: usize = 4;
/// The guest's counter.
pub(super) const COUNTER: &str = "gst:ctr";
/// The channel revoked tokens are tried on.
pub(super) const TOKEN_CHANNEL: &str = "tok.c";

pub(super) fn stamp_spec(channels: &[&str], tag: &str) -> Value {
    json!({"before_publish": channels, "endpoint": true, "timeout_ms": 5000, "config": {"VERSION": tag}})
}

pub(super) fn blink_spec(tag: &str) -> Value {
    json!({"endpoint": true, "config": {"VERSION": tag}})
}

#[tokio::test]
async fn kill_9_under_mixed_load_loses_nothing_acknowledged() {
    let seed = seed();
    println!("crash test seed: {seed} (replay the kill offsets with EDGEFN_CRASH_SEED={seed})");
    eprintln!("crash test seed: {seed} (replay the kill offsets with EDGEFN_CRASH_SEED={seed})");
    let mut rng = Rng(seed);
    let started = Instant::now();

    let dir = Node::temp_dir();
    // History large enough that nothing is trimmed during the test.
    let config = write_config(&dir, "[bus]\nhistory_per_channel = 100000\n");
    let mut node = Node::start_in(
        dir,
        NodeOptions {
            config: Some(config),
            secret_key: Some(SECRET.to_owned()),
            ..NodeOptions::default()
        },
    )
    .await;
    let master = node
        .grant(
            &json!({"ttl_minutes": 120, "channel_patterns": {"^crash\\..*$": ["read", "write"]}}),
        )
        .await;
    let (stamp_a, stamp_b, hello) = (
        guest_bytes("stamp-a"),
        guest_bytes("stamp-b"),
        guest_bytes("hello"),
    );

    let mut model = Model::default();
    node.deploy_caps(CAPS, json!({})).await;
    // Every build once before the load, so that its compiled form is cached
    // and deploys during the load take milliseconds, not a compilation.
    for (name, channels) in HOOKS {
        for build in ["stamp-b", "stamp-a"] {
            let tag = format!("{name}-init-{build}");
            let deployed = node
                .deploy_ok(name, build, &stamp_spec(channels, &tag))
                .await;
            model.builds.insert(tag.clone(), build);
            model.deployed.insert(
                name.to_owned(),
                Some((tag, deployed["version"].as_u64().unwrap())),
            );
        }
    }
    node.deploy_ok(BLINK, "hello", &blink_spec("blink-init"))
        .await;
    node.admin(Method::DELETE, &format!("/functions/{BLINK}"))
        .await
        .ok();
    model.deployed.insert(BLINK.to_owned(), None);

    let rounds = rounds();
    for round in 0..rounds {
        let offset = Duration::from_millis(rng.between(50, 500));
        let client = Client::of(&node);
        let load = Load {
            client: &client,
            round,
            master: &master,
            stamp_a: &stamp_a,
            stamp_b: &stamp_b,
            hello: &hello,
            stamp_builds: HOOKS
                .iter()
                .map(|(name, _)| {
                    let (tag, _) = model.deployed[*name].as_ref().expect("deployed");
                    (name.to_string(), model.builds[tag])
                })
                .collect(),
            blink_deployed: model.deployed[BLINK].is_some(),
        };
        let newest = model.newest;
        let (events, ()) = within("the load to stop after the kill", TIMEOUT, async {
            tokio::join!(load.run(), async {
                tokio::time::sleep(offset).await;
                node.kill9().await;
            })
        })
        .await;
        let sent = events.len();
        let refusals = model.apply(events, newest);
        assert!(
            refusals.is_empty(),
            "round {round}: requests of the load were refused before the kill:\n{}",
            refusals.join("\n")
        );
        let restart = Instant::now();
        node.restart().await;
        let restarted_in = restart.elapsed();
        check(&node, &mut model, &master, round).await;
        println!(
            "round {round}: killed {offset:?} into the load ({sent} requests); restarted in {restarted_in:?}; invariants hold"
        );
    }

    // The node is usable afterwards: a new publish gets a later timetoken.
    let tt: u64 = node
        .post_message_as(
            Op::Publish,
            "crash.c3",
            r#"{"id":"after","w":"x","r":99,"n":0}"#,
            &[],
            &Auth::token(&master),
        )
        .await
        .ok()["timetoken"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        tt > model.newest,
        "timetoken went back: {tt} <= {}",
        model.newest
    );
    for (what, n) in &model.totals {
        println!("  {what}: {n}");
    }
    for what in [
        "publishes acknowledged (stored)",
        "deploys acknowledged",
        "KV writes acknowledged",
        "revocations acknowledged",
    ] {
        assert!(
            model.totals.get(what).is_some_and(|n| *n > 0),
            "the load never got `{what}`: {:?}",
            model.totals
        );
    }
    println!("seed {seed}: {rounds} kills in {:?}", started.elapsed());
}
