//! End-to-end publish benchmarks against the real binary on loopback:
//! HTTP publish throughput without and with the `moderate` before-publish
//! hook, the hook's time in situ (the node's own measure of each
//! invocation on the publish path, sequential publishes), and
//! publish-to-SSE delivery latency (p50/p99).
//!
//! Needs `target/release/edgefn` (or `EDGEFN_BIN`) and
//! `target/guests/moderate.wasm`. Run with `scripts/bench.sh`, or
//! `cargo bench -p edgefn --bench publish`. Knobs: `BENCH_SECONDS` (per
//! throughput case, default 5), `BENCH_CLIENTS` (default 32),
//! `BENCH_LATENCY_MESSAGES` (default 2000).

mod support;

use support::{Node, deploy_moderate, env_or, hook_in_situ, latency, percentile, throughput};

fn main() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let seconds = env_or("BENCH_SECONDS", 5);
    let clients = env_or("BENCH_CLIENTS", 32);
    let messages = env_or("BENCH_LATENCY_MESSAGES", 2000);
    runtime.block_on(async {
        let node = Node::start(&[]);
        let client = reqwest::Client::builder().pool_max_idle_per_host(clients).build().unwrap();
        deploy_moderate(&client, &node).await;
        let plain = throughput(&client, &node, "plain.x", clients, seconds).await;
        let hooked = throughput(&client, &node, "chat.x", clients, seconds).await;
        let (hook_p50, hook_p99) = hook_in_situ(&client, &node, "chat.y", messages).await;
        let lat = latency(&client, &node, &node, "lat.x", messages).await;
        let pct = |p: f64| percentile(&lat, p);
        println!("publish throughput, no hook:         {plain:>9.0} msg/s ({clients} clients, {seconds} s)");
        println!("publish throughput, moderate hook:   {hooked:>9.0} msg/s ({clients} clients, {seconds} s)");
        println!("publish throughput, hooked / plain:  {:>9.2}", hooked / plain);
        println!("moderate hook in situ, sequential:   p50 {hook_p50:.1} µs, p99 {hook_p99:.1} µs ({messages} publishes, the node's histogram)");
        println!("publish-to-SSE latency, sequential:  p50 {:.0} µs, p99 {:.0} µs ({} messages)", pct(0.5), pct(0.99), lat.len());
    });
}
