//! One before-publish invocation of the `moderate` example: fresh store,
//! instantiation from the pre-linked component, the call, and the JSON
//! round trip of the message (both a pass-through and a modification), as
//! the publish path runs it; side by side, the same for its JavaScript twin
//! `examples/js/moderate.js`, whose deploy time (QuickJS runner snapshot
//! and compilation) is printed too.
//!
//! Needs `target/guests/moderate.wasm` (scripts/build-guests.sh). Run with
//! `cargo bench -p edgefn --bench hook` or `scripts/bench.sh`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use edgefn::bus::{Channel, Message, MessageKind, Pattern};
use edgefn::config::NodeConfig;
use edgefn::functions::{Code, FunctionSpec};
use edgefn::node::Node;
use edgefn::wasm::HookDecision;

fn guest(name: &str) -> Vec<u8> {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("../target/guests/{name}.wasm"));
    std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; run scripts/build-guests.sh", path.display()))
}

fn hook(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let data_dir = std::env::temp_dir().join(format!("edgefn-bench-{}", std::process::id()));
    let config = NodeConfig::new("127.0.0.1:0".parse().unwrap(), data_dir.clone());
    let node = runtime.block_on(Node::start(config)).unwrap();
    // BENCH_HOOK_JS: another module to measure in place of moderate.js.
    let javascript = std::env::var_os("BENCH_HOOK_JS").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/js/moderate.js"),
        PathBuf::from,
    );
    let javascript =
        std::fs::read(&javascript).unwrap_or_else(|e| panic!("{}: {e}", javascript.display()));
    let functions = [
        ("moderate", Code::Component(guest("moderate"))),
        ("moderate-js", Code::JavaScript(javascript)),
    ];
    for (name, code) in functions {
        let mut spec = FunctionSpec::named(name);
        spec.before_publish = vec![Pattern::parse("chat.*").unwrap()];
        spec.config
            .insert("banned_words".into(), "spam,scam".into());
        let started = Instant::now();
        runtime.block_on(node.functions.deploy(spec, code)).unwrap();
        println!(
            "{name}: deployed in {:.2} s",
            started.elapsed().as_secs_f64()
        );
    }
    let registry = node.functions.snapshot();
    let sandbox = node.functions.sandbox();
    let channel = Channel::parse("chat.lobby").unwrap();
    let timeout = Duration::from_millis(50);
    let cases = [
        ("modify", r#"{"text":"  hello    there  ","user":"ann"}"#),
        ("pass", r#"{"count":1}"#),
    ];
    let runs = ["moderate", "moderate-js"]
        .into_iter()
        .flat_map(|function| cases.map(|(case, payload)| (function, case, payload)));
    for (function, case, payload) in runs {
        let function_name = function;
        let function = &registry.get(function_name).unwrap().prepared;
        let message =
            Message::new(channel.clone(), MessageKind::Publish, payload, None, None).unwrap();
        c.bench_function(&format!("{function_name}/{case}"), |b| {
            b.to_async(&runtime).iter(|| async {
                let decision = sandbox
                    .before_publish(function, &message, timeout)
                    .await
                    .unwrap();
                assert!(!matches!(decision, HookDecision::Reject(_)));
                decision
            })
        });
    }
    let _ = std::fs::remove_dir_all(&data_dir);
}

criterion_group!(benches, hook);
criterion_main!(benches);
