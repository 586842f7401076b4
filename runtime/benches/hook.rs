//! One before-publish invocation of the `moderate` example: fresh store,
//! instantiation from the pre-linked component, the call, and the JSON
//! round trip of the message (both a pass-through and a modification), as
//! the publish path runs it.
//!
//! Needs `target/guests/moderate.wasm` (scripts/build-guests.sh). Run with
//! `cargo bench -p edgefn --bench hook` or `scripts/bench.sh`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use edgefn::bus::{Channel, Message, MessageKind};
use edgefn::config::WasmConfig;
use edgefn::metrics::Metrics;
use edgefn::wasm::caps::log::FunctionLogs;
use edgefn::wasm::{HookDecision, PreparedFunction, Sandbox};

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
    std::fs::create_dir_all(&data_dir).unwrap();
    let sandbox =
        Arc::new(Sandbox::new(WasmConfig::default(), &data_dir, Arc::new(Metrics::new())).unwrap());
    let bytes: Arc<[u8]> = guest("moderate").into();
    let component = runtime
        .block_on(sandbox.load("bench-moderate", bytes))
        .unwrap();
    let function = PreparedFunction {
        name: "moderate".into(),
        component,
        env: vec![("banned_words".into(), "spam,scam".into())],
        memory_bytes: 32 << 20,
        outbound: Arc::from([]),
        logs: Arc::new(FunctionLogs::new("moderate".into(), 16)),
    };
    let channel = Channel::parse("chat.lobby").unwrap();
    let timeout = Duration::from_millis(50);
    let cases = [
        (
            "moderate/modify",
            r#"{"text":"  hello    there  ","user":"ann"}"#,
        ),
        ("moderate/pass", r#"{"count":1}"#),
    ];
    for (name, payload) in cases {
        let message =
            Message::new(channel.clone(), MessageKind::Publish, payload, None, None).unwrap();
        c.bench_function(name, |b| {
            b.to_async(&runtime).iter(|| async {
                let decision = sandbox
                    .before_publish(&function, &message, timeout)
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
