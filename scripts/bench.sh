#!/usr/bin/env bash
# Benchmarks, reported as medians / percentiles with the machine noted:
#   - one before-publish invocation of `moderate` (fresh instance + call +
#     JSON round trip), criterion, in microseconds, next to its JavaScript
#     twin examples/js/moderate.js, and the deploy time of each, and next
#     to the floor: bare Wasmtime running the same component (fresh store,
#     instantiate, call, drop) on a default pool and on edgefn's tuned one;
#     memory per JavaScript instance (snapshot linear memory, resident per
#     instance);
#   - HTTP publish throughput without and with that hook (and their ratio),
#     the hook's time in situ (p50/p99 of the node's own histogram over
#     sequential publishes), and publish-to-SSE delivery latency p50/p99,
#     against the real binary;
#   - the same across a two-node cluster joined through nats-server, next to
#     a node alone and to raw NATS publish/subscribe between two processes
#     (the ratios' reference) and within one (needs a nats-server
#     >= 2.10: EDGEFN_NATS_SERVER, or target/tools/nats-server, which
#     scripts/test.sh installs; skipped without one), and how fast
#     after-publish copies run alone and through the cluster's work queue;
#   - fan-out, one publisher to 4, 100, 500 subscribers (WebSocket and SSE,
#     next to nats-server core pub/sub when there is one): deliveries/s flat
#     out and latency p50/p99 at 1,000 and 10,000 msg/s, as ratios to
#     nats-server; the node's memory per idle WebSocket and SSE subscriber;
#     the publish rate of one WebSocket connection.
# Usage: scripts/bench.sh   (BENCH_SECONDS, BENCH_CLIENTS, BENCH_LATENCY_MESSAGES tune the second part;
#   BENCH_FANOUT_SUBSCRIBERS, BENCH_FANOUT_RATES, BENCH_WS_WINDOW, BENCH_IDLE, BENCH_WS_PUBLISH the fan-out one)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

scripts/build-guests.sh --manifest examples/Cargo.toml --manifest tests/guests/Cargo.toml
cargo build --release --locked -p edgefn
export EDGEFN_BIN="$root/target/release/edgefn"

echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(uname -sr)"
echo "== before-publish hook invocation (criterion; 'time' shows [low median high])"
cargo bench --locked -p edgefn --bench hook -- --warm-up-time 2 --measurement-time 5 2>&1 | grep -E '^moderate|^wasmtime|time:|deployed in|^js instance memory'
echo "== publish throughput and delivery latency"
cargo bench --locked -p edgefn --bench publish 2>&1 | grep -E '^(publish|moderate)'
nats="${EDGEFN_NATS_SERVER:-$root/target/tools/nats-server}"
if [[ -x "$nats" ]]; then
    echo "== cluster: cross-node latency, throughput, after-publish copies"
    EDGEFN_NATS_SERVER="$nats" cargo bench --locked -p edgefn --bench cluster 2>&1 | grep -E '^(publish|after|  )'
else
    echo "== cluster benchmark skipped: no nats-server at $nats (run scripts/test.sh once, or set EDGEFN_NATS_SERVER)"
fi
echo "== fan-out, idle subscribers' memory, one-connection WebSocket publish"
EDGEFN_NATS_SERVER="$nats" cargo bench --locked -p edgefn --bench fanout 2>&1 | grep -E '^(fan-out|publish|idle|  [a-z])'
