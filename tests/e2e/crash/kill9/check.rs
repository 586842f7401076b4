//! After a restart: every invariant, checked against the model.

use std::collections::{HashMap, HashSet};

use edgefn_e2e::*;
use futures::StreamExt;
use reqwest::Method;

use super::*;

/// Reads a whole channel's history (oldest first), asserting success.
pub(super) async fn full_history(node: &Node, channel: &str, token: &str) -> Vec<Value> {
    let request = node
        .http()
        .get(node.url(&format!("/v1/history/{channel}")))
        .query(&[("limit", "100000"), ("auth", token)]);
    let answer = node.send(request).await;
    api::history_messages(&answer, channel)
}

/// After a restart: checks every invariant against the model, and settles
/// what got no answer (as found) so the next round starts from the truth.
pub(super) async fn check(node: &Node, model: &mut Model, master: &str, round: usize) {
    let stderr = node.stderr();
    assert!(
        !stderr.contains("cannot be loaded") && !stderr.contains("ERROR"),
        "round {round}: the restarted node logged errors:\n{stderr}"
    );

    // History: every acknowledged stored message, with its timetoken, in
    // order; nothing that was refused; at most what was in flight besides.
    let mut found_maybe = HashSet::new();
    for channel in CHANNELS {
        let history = full_history(node, channel, master).await;
        let mut seen = HashSet::new();
        let mut last_tt = 0u64;
        let mut last_by_writer: HashMap<String, (u64, u64)> = HashMap::new();
        let hook = HOOKS
            .iter()
            .find(|(_, channels)| channels.contains(&channel))
            .map(|(name, _)| *name);
        for view in &history {
            let id = view["message"]["id"]
                .as_str()
                .unwrap_or_else(|| {
                    panic!("round {round}: a message without id on {channel}: {view}")
                })
                .to_owned();
            let tt: u64 = view["timetoken"]
                .as_str()
                .and_then(|t| t.parse().ok())
                .unwrap_or_else(|| panic!("round {round}: bad timetoken in {view}"));
            assert!(
                tt > last_tt,
                "round {round}: timetokens on {channel} do not strictly increase: {last_tt} then {tt}"
            );
            last_tt = tt;
            assert!(
                seen.insert(id.clone()),
                "round {round}: {id} is twice in the history of {channel}"
            );
            if let Some((stored_channel, stored_tt)) = model.stored.get(&id) {
                assert_eq!(
                    (stored_channel.as_str(), *stored_tt),
                    (channel, tt),
                    "round {round}: {id} is stored under another channel or timetoken than acknowledged"
                );
            } else if model.maybe.get(&id).is_some_and(|c| c == channel) {
                found_maybe.insert(id.clone());
                model.stored.insert(id.clone(), (channel.to_owned(), tt));
            } else {
                panic!(
                    "round {round}: {id} is in the history of {channel} but was never acknowledged nor in flight{}: {view}",
                    if model.absent.contains(&id) {
                        " (its publish was refused, stored with store=0, or it was missing after an earlier restart)"
                    } else {
                        ""
                    }
                );
            }
            // Each writer's messages in the order it sent them.
            let writer = view["message"]["w"].as_str().expect("a writer").to_owned();
            let order = (
                view["message"]["r"].as_u64().expect("a round"),
                view["message"]["n"].as_u64().expect("a sequence number"),
            );
            if let Some(previous) = last_by_writer.insert(writer.clone(), order) {
                assert!(
                    order > previous,
                    "round {round}: {writer}'s messages are out of order on {channel}: {previous:?} then {order:?}"
                );
            }
            // A whole version of the hook stamped it, or none ran.
            match hook {
                Some(function) => {
                    let stamps = view["message"]["stamps"].as_array().unwrap_or_else(|| {
                        panic!("round {round}: {id} was not stamped by `{function}`: {view}")
                    });
                    assert_eq!(
                        stamps.len(),
                        1,
                        "round {round}: stamped more than once: {view}"
                    );
                    let tag = stamps[0]["config"].as_str().unwrap_or_default();
                    let build = model.builds.get(tag).unwrap_or_else(|| {
                        panic!("round {round}: {id} stamped by an unknown version {tag:?}: {view}")
                    });
                    assert!(
                        tag.starts_with(function),
                        "round {round}: {id} stamped by another function's version {tag}"
                    );
                    assert_eq!(
                        format!("stamp-{}", stamps[0]["build"].as_str().unwrap_or("?")),
                        *build,
                        "round {round}: {id} stamped by a half-deployed version (component of one, config of another): {view}"
                    );
                    assert_eq!(view["meta"]["stamped_by"], tag, "{view}");
                }
                None => assert!(
                    view["message"].get("stamps").is_none(),
                    "round {round}: {id} stamped on a channel without hook: {view}"
                ),
            }
        }
        for (id, (stored_channel, tt)) in &model.stored {
            if stored_channel == channel {
                assert!(
                    seen.contains(id),
                    "round {round}: acknowledged message {id} (timetoken {tt}) is missing from the history of {channel}"
                );
            }
        }
        model.newest = model.newest.max(last_tt);
    }
    for (id, _) in model.maybe.drain() {
        if found_maybe.contains(&id) {
            *model
                .totals
                .entry("in-flight publishes found stored")
                .or_default() += 1;
        } else {
            model.absent.insert(id);
        }
    }

    // Deployments: each runs its last acknowledged version, or the one that
    // was in flight; each listed function loads and serves.
    let listed = node.admin(Method::GET, "/functions").await;
    let listed: HashMap<String, Value> = listed.ok()["functions"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|f| {
            (
                f["spec"]["name"].as_str().expect("a name").to_owned(),
                f.clone(),
            )
        })
        .collect();
    for name in listed.keys() {
        assert!(
            name == CAPS
                || model.deployed.contains_key(name)
                || model.deploy_pending.contains_key(name),
            "round {round}: an unexpected function `{name}` is deployed"
        );
    }
    assert!(listed.contains_key(CAPS), "round {round}: `{CAPS}` is gone");
    let names: Vec<String> = model
        .deployed
        .keys()
        .chain(model.deploy_pending.keys())
        .cloned()
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    for name in names {
        let current = model.deployed.get(&name).cloned().flatten();
        let mut allowed = vec![current.clone()];
        let was_pending = model.deploy_pending.contains_key(&name);
        if let Some(pending) = model.deploy_pending.remove(&name) {
            allowed.push(pending.map(|tag| {
                let version = current.as_ref().map_or(1, |(_, v)| v + 1);
                (tag, version)
            }));
        }
        let observed = listed.get(&name).map(|f| {
            (
                f["spec"]["config"]["VERSION"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                f["version"].as_u64().unwrap_or_default(),
            )
        });
        assert!(
            allowed.contains(&observed),
            "round {round}: `{name}` runs {observed:?} after the restart; expected one of {allowed:?}"
        );
        if let Some((tag, _)) = &observed {
            let build = model.builds[tag];
            if name == BLINK {
                node.get(&format!("/v1/fn/{BLINK}/x")).await.ok();
            } else {
                let who = node.get(&format!("/v1/fn/{name}/who")).await;
                assert_eq!(
                    who.ok(),
                    &json!({"build": build.trim_start_matches("stamp-"), "config": tag}),
                    "round {round}: `{name}` does not serve the version it lists"
                );
            }
        } else {
            node.get(&format!("/v1/fn/{name}/x"))
                .await
                .error(404, "not_found");
        }
        if was_pending && observed != current {
            model.count("in-flight deploys/removals found applied");
        }
        model.deployed.insert(name, observed);
    }

    // KV: the acknowledged value of each key, or the one in flight.
    let keys: Vec<String> = model.kv.keys().cloned().collect();
    for key in keys {
        let answer = node.admin(Method::GET, &format!("/kv/{key}")).await;
        let observed = match answer.status {
            404 => None,
            _ => Some(answer.ok()["value"].as_str().expect("a value").to_owned()),
        };
        let mut allowed = vec![model.kv[&key].clone()];
        if let Some(pending) = model.kv_pending.remove(&key) {
            if observed == pending && observed != model.kv[&key] {
                model.count("in-flight KV writes found applied");
            }
            allowed.push(pending);
        }
        assert!(
            allowed.contains(&observed),
            "round {round}: KV `{key}` holds {observed:?} after the restart; expected one of {allowed:?}"
        );
        model.kv.insert(key, observed);
    }
    assert!(model.kv_pending.is_empty());
    let counter = node.run_op(CAPS, caps::kv_get(COUNTER)).await;
    let counter: i64 = counter
        .as_str()
        .map_or(0, |c| c.parse().expect("a counter"));
    let allowed = if model.counter_pending {
        model.counter..=model.counter + 1
    } else {
        model.counter..=model.counter
    };
    assert!(
        allowed.contains(&counter),
        "round {round}: the guest's counter is {counter}; {} increments were acknowledged{}",
        model.counter,
        if model.counter_pending {
            " and one was in flight"
        } else {
            ""
        }
    );
    model.counter = counter;
    model.counter_pending = false;

    // Tokens: revoked ones are refused, the others still valid.
    let tokens: Vec<(String, TokenState)> =
        model.tokens.iter().map(|(t, s)| (t.clone(), *s)).collect();
    let observed: Vec<(String, TokenState, TokenState)> = futures::stream::iter(tokens)
        .map(|(token, expected)| async move {
            let status = node.inspect(&token).await["status"].clone();
            let state = match status.as_str() {
                Some("valid") => TokenState::Valid,
                Some("token_revoked") => {
                    node.post_message_as(
                        Op::Publish,
                        TOKEN_CHANNEL,
                        "1",
                        &[],
                        &Auth::token(&token),
                    )
                    .await
                    .error(403, "token_revoked");
                    TokenState::Revoked
                }
                other => panic!("round {round}: unexpected token status {other:?}"),
            };
            assert!(
                expected == TokenState::Either || expected == state,
                "round {round}: a token expected {expected:?} is {state:?} after the restart"
            );
            (token, expected, state)
        })
        .buffer_unordered(16)
        .collect()
        .await;
    for (token, expected, state) in observed {
        if expected == TokenState::Either && state == TokenState::Revoked {
            model.count("in-flight revocations found applied");
        }
        model.tokens.insert(token, state);
    }
}
