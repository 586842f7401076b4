//! Hardening (issue "Hostile guests, hostile clients, crashes"): deliberately
//! bad guests (`tests/guests/hostile*`) and deliberately bad clients. For
//! each, the node answers with a clear error naming the function and the
//! limit, counts it in `/metrics`, stays up, and a well-behaved function
//! (`moderate` as `good` on `good.*`, published to in a loop) keeps working
//! meanwhile.
//!
//! - [`guests`]: loops in every trigger, memory and table growth, traps,
//!   unusable results, a missing import;
//! - [`outbound`]: outbound HTTP floods, a server that never answers,
//!   loopback/private/link-local destinations;
//! - [`floods`]: KV and bus floods, a hook publishing to its own channel,
//!   megabytes of output;
//! - [`concurrency`]: many slow invocations against the per-function cap,
//!   and the shared after-publish pool;
//! - [`clients`]: body/header/URL/frame limits, channels per subscription,
//!   publish rate limits, the admin key;
//! - [`connections`]: the connection cap, slowloris, slow readers;
//! - [`identity`]: clients claiming a function's id (`fn:…`);
//! - [`limits`]: presence members, channel groups and channels with
//!   history past their limits.

mod clients;
mod concurrency;
mod connections;
mod floods;
mod guests;
mod identity;
mod limits;
mod outbound;

use std::future::Future;
use std::time::Duration;

use edgefn_e2e::hostile::GoodTraffic;
use edgefn_e2e::*;

/// Runs `hostile` while good traffic flows on `node` (which has
/// [`Node::deploy_good`]); asserts that every good publish succeeded and
/// that the node is still up; returns what `hostile` returned.
pub async fn while_good<F: Future>(node: &Node, hostile: F) -> F::Output {
    let traffic = GoodTraffic::start(node, Duration::from_millis(10));
    let output = hostile.await;
    // At least one good publish after the hostile part, on the same node.
    node.publish(
        edgefn_e2e::hostile::GOOD_CHANNEL,
        &json!({"text": "after  it"}),
    )
    .await;
    let stats = traffic.stop().await;
    stats.assert_all_ok(1);
    node.assert_up().await;
    output
}
