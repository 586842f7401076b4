//! Cluster mode: three nodes joined through one NATS server (JetStream),
//! or a three-server NATS cluster, share message order and history,
//! deployments, the functions' KV store, token revocations and presence;
//! after-publish hooks run once per message (a dead node's copies on the
//! others) and interval functions once per period; NATS faults, a killed
//! node and a node cut off from NATS lose nothing acknowledged.
//!
//! Needs `EDGEFN_NATS_SERVER` naming a nats-server >= 2.10 (see
//! `edgefn_e2e::nats`; `scripts/test.sh` installs one).
//!
//! - [`order`]: delivery across nodes in one order, history equal to it;
//! - [`after_publish`]: an after-publish hook counts each message once, and
//!   each fire;
//! - [`after_presence`]: an after-presence hook runs once per presence
//!   change, whichever node made it;
//! - [`busy`]: a busy function's after-publish copies all run, once;
//! - [`deploys`]: deploy, redeploy and remove seen on every node;
//! - [`fn_reads`]: a JavaScript function reads the cluster's presence and
//!   history through any node;
//! - [`fn_changes`]: a JavaScript function's message actions and App
//!   Context changes reach every node;
//! - [`files`]: a channel's files listed from their index stream, stale
//!   entries purged, files stored before the index indexed;
//! - [`interval`]: an interval function runs once per period cluster-wide;
//! - [`kv`]: the functions' KV store through any node;
//! - [`revocation`]: a token revoked on one node refused on the others;
//! - [`permissions`]: nodes run with the NATS permissions the README
//!   lists; a client user cannot write the log nor read the secrets;
//! - [`presence`]: here-now and `-pnpres` events across nodes, and
//!   timeouts of a killed node's members;
//! - [`nats_outage`]: NATS killed and restarted under load;
//! - [`nats_failover`]: one server of a three-server NATS cluster killed
//!   under load;
//! - [`outage_resume`]: delivery across nodes resumes soon after NATS is back;
//! - [`partition`]: one node cut off from NATS under load, then healed;
//! - [`node_kill`]: a node killed under load, then restarted;
//! - [`clock_skew`]: nodes whose clocks differ by 2 s lose nothing to
//!   subscribers that resume from a cursor (long-poll `tt`, SSE `since`);
//! - [`takeover`]: a killed node's after-publish copies run on the others;
//! - [`secrets`]: the secrets key comes from each node's configuration,
//!   never from NATS, and a node without it refuses to start;
//! - [`startup`]: a node started while NATS is down answers 503 `starting`,
//!   then joins;
//! - [`load`]: the writers the fault tests use.

mod after_presence;
mod after_publish;
mod busy;
mod clock_skew;
mod deploys;
mod files;
mod fn_changes;
mod fn_reads;
mod interval;
mod kv;
mod load;
mod nats_failover;
mod nats_outage;
mod node_kill;
mod order;
mod outage_resume;
mod partition;
mod permissions;
mod presence;
mod revocation;
mod secrets;
mod startup;
mod takeover;

use std::collections::HashMap;

use edgefn_e2e::check::short;
use edgefn_e2e::wait::{TIMEOUT, eventually};
use edgefn_e2e::*;

/// Nodes per test cluster.
pub const NODES: usize = 3;

/// A fresh NATS server and [`NODES`] nodes joined to it, each configured
/// with `top` (top-level config keys and tables) before the `[nats]` section.
pub async fn cluster(top: &str) -> (NatsServer, Vec<Node>) {
    let nats = NatsServer::start().await;
    let nodes = nats.start_nodes(NODES, top).await;
    (nats, nodes)
}

/// The `(timetoken, message)` of each delivered or stored view: what must
/// be the same on every node (other fields, such as a wildcard's
/// `subscription`, depend on the subscriber).
#[track_caller]
pub fn entries(views: &[Value]) -> Vec<(u64, Value)> {
    views
        .iter()
        .map(|view| {
            let timetoken = view["timetoken"]
                .as_str()
                .and_then(|t| t.parse().ok())
                .unwrap_or_else(|| panic!("no timetoken in {}", short(view)));
            (timetoken, view["message"].clone())
        })
        .collect()
}

/// The whole history of `channel` on `node` (up to `limit`), as [`entries`].
pub async fn history(node: &Node, channel: &str, limit: usize) -> Vec<(u64, Value)> {
    entries(&node.history(channel, &format!("limit={limit}")).await)
}

/// Asserts that the timetokens of `entries` strictly increase.
#[track_caller]
pub fn assert_increasing(what: &str, entries: &[(u64, Value)]) {
    for pair in entries.windows(2) {
        assert!(
            pair[0].0 < pair[1].0,
            "{what}: timetokens do not increase: {} ({}) then {} ({})",
            pair[0].0,
            pair[0].1,
            pair[1].0,
            pair[1].1
        );
    }
}

/// Waits until every node's history of `channel` holds each of
/// `acknowledged` (timetoken → message) and all are as long (each node has
/// applied the whole log); then asserts that they are equal, in strictly
/// increasing timetoken order.
pub async fn assert_same_histories(
    nodes: &[&Node],
    channel: &str,
    limit: usize,
    acknowledged: &HashMap<u64, Value>,
) {
    let what = format!(
        "every node's history of {channel} to hold the {} acknowledged publishes, and to be as long",
        acknowledged.len()
    );
    let histories = eventually(&what, TIMEOUT, || async {
        let mut histories = Vec::new();
        for node in nodes {
            let stored = history(node, channel, limit).await;
            let held = stored
                .iter()
                .filter(|(tt, m)| acknowledged.get(tt) == Some(m))
                .count();
            if held < acknowledged.len() {
                return None;
            }
            histories.push(stored);
        }
        histories
            .iter()
            .all(|h| h.len() == histories[0].len())
            .then_some(histories)
    })
    .await;
    for (i, stored) in histories.iter().enumerate() {
        assert_increasing(&format!("history on {}", nodes[i].base()), stored);
        assert_eq!(
            stored,
            &histories[0],
            "the history on {} differs from the one on {}",
            nodes[i].base(),
            nodes[0].base()
        );
    }
}
