#!/usr/bin/env bash
# Benchmarks, reported as medians / percentiles with the machine noted:
#   - one before-publish invocation of `moderate` (fresh instance + call +
#     JSON round trip), criterion, in microseconds;
#   - HTTP publish throughput without and with that hook, and
#     publish-to-SSE delivery latency p50/p99, against the real binary;
#   - the same across a two-node cluster joined through nats-server, next to
#     a node alone and to raw NATS publish/subscribe (needs a nats-server
#     >= 2.10: EDGEFN_NATS_SERVER, or target/tools/nats-server, which
#     scripts/test.sh installs; skipped without one), and how fast
#     after-publish copies run alone and through the cluster's work queue.
# Usage: scripts/bench.sh   (BENCH_SECONDS, BENCH_CLIENTS, BENCH_LATENCY_MESSAGES tune the second part)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

scripts/build-guests.sh --manifest examples/Cargo.toml --manifest tests/guests/Cargo.toml
cargo build --release --locked -p edgefn
export EDGEFN_BIN="$root/target/release/edgefn"

echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(uname -sr)"
echo "== before-publish hook invocation (criterion; 'time' shows [low median high])"
cargo bench --locked -p edgefn --bench hook -- --warm-up-time 2 --measurement-time 5 2>&1 | grep -E '^moderate|time:'
echo "== publish throughput and delivery latency"
cargo bench --locked -p edgefn --bench publish 2>&1 | grep -E '^publish'
nats="${EDGEFN_NATS_SERVER:-$root/target/tools/nats-server}"
if [[ -x "$nats" ]]; then
    echo "== cluster: cross-node latency, throughput, after-publish copies"
    EDGEFN_NATS_SERVER="$nats" cargo bench --locked -p edgefn --bench cluster 2>&1 | grep -E '^(publish|after|  )'
else
    echo "== cluster benchmark skipped: no nats-server at $nats (run scripts/test.sh once, or set EDGEFN_NATS_SERVER)"
fi
