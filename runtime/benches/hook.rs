//! One before-publish invocation of the `moderate` example: fresh store,
//! instantiation from the pre-linked component, the call, and the JSON
//! round trip of the message (both a pass-through and a modification), as
//! the publish path runs it; side by side, the same for its JavaScript twin
//! `examples/js/moderate.js`, whose deploy time (QuickJS runner snapshot
//! and compilation) is printed too; and the floor under both, bare
//! Wasmtime running the same component (fresh store with WASI alone,
//! instantiation, the call, drop) on a default pooling allocator and on
//! edgefn's tuned one ([`edgefn::wasm::engine_config`]).
//!
//! Needs `target/guests/moderate.wasm` (scripts/build-guests.sh). Run with
//! `cargo bench -p edgefn --bench hook` or `scripts/bench.sh`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use edgefn::bus::{Channel, Message, MessageKind, Pattern};
use edgefn::config::{NodeConfig, WasmConfig};
use edgefn::functions::{Code, FunctionSpec};
use edgefn::node::Node;
use edgefn::wasm::HookDecision;
use edgefn::wasm::bindings::{self, BeforePublishIndices, Decision};
use edgefn::wasm::javascript::NoOutbound;
use wasmtime::component::{Component, InstancePre, Linker, ResourceTable};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

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
    let runs = ["moderate", "moderate-js"]
        .into_iter()
        .flat_map(|function| CASES.map(|(case, payload)| (function, case, payload)));
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
    floor(c, &runtime);
}

/// The payloads measured: one `moderate` rewrites, one it lets through.
const CASES: [(&str, &str); 2] = [
    ("modify", r#"{"text":"  hello    there  ","user":"ann"}"#),
    ("pass", r#"{"count":1}"#),
];

/// Bare Wasmtime running `moderate`: what any host pays at least.
fn floor(c: &mut Criterion, runtime: &tokio::runtime::Runtime) {
    let default_pool = {
        let mut config = Config::new();
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(
            PoolingAllocationConfig::default(),
        ));
        config
    };
    let engines = [
        ("default-pool", default_pool),
        (
            "edgefn-pool",
            edgefn::wasm::engine_config(&WasmConfig::default()),
        ),
    ];
    let bytes = guest("moderate");
    for (engine_name, config) in engines {
        let bare = Bare::new(config, &bytes);
        for (case, payload) in CASES {
            let message = bindings::Message {
                channel: "chat.lobby".into(),
                payload: payload.into(),
                meta: None,
                publisher: None,
                kind: bindings::MessageKind::Publish,
                timetoken: None,
            };
            c.bench_function(&format!("wasmtime-floor/{engine_name}/{case}"), |b| {
                b.to_async(runtime).iter(|| bare.invoke(&message))
            });
        }
    }
}

/// A store's data with WASI and wasi-http alone (the function's
/// configuration as its environment, as edgefn passes it).
struct BareState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    no_outbound: NoOutbound,
    table: ResourceTable,
}

impl WasiHttpView for BareState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.no_outbound,
        }
    }
}

impl WasiView for BareState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// `moderate` pre-linked against WASI and wasi-http alone.
struct Bare {
    engine: Engine,
    pre: InstancePre<BareState>,
    indices: BeforePublishIndices,
}

impl Bare {
    fn new(config: Config, bytes: &[u8]) -> Self {
        let engine = Engine::new(&config).unwrap();
        let component = Component::new(&engine, bytes).unwrap();
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).unwrap();
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker).unwrap();
        stub_edgefn_imports(&engine, &component, &mut linker);
        let pre = linker.instantiate_pre(&component).unwrap();
        let indices = BeforePublishIndices::new(&pre).unwrap();
        Self {
            engine,
            pre,
            indices,
        }
    }

    /// Fresh store, instantiation, one call, drop.
    async fn invoke(&self, message: &bindings::Message) -> Decision {
        let wasi = WasiCtx::builder().env("banned_words", "spam,scam").build();
        let state = BareState {
            wasi,
            http: WasiHttpCtx::new(),
            no_outbound: NoOutbound,
            table: ResourceTable::new(),
        };
        let mut store = Store::new(&self.engine, state);
        // edgefn's engine interrupts at epoch deadlines; none here.
        store.set_epoch_deadline(u64::MAX);
        let instance = self.pre.instantiate_async(&mut store).await.unwrap();
        let guest = self.indices.load(&mut store, &instance).unwrap();
        guest.call_handle(&mut store, message).await.unwrap()
    }
}

criterion_group!(benches, hook);
criterion_main!(benches);

/// Defines edgefn's own imports of `component` as functions that fail
/// (`moderate` calls none of them).
fn stub_edgefn_imports(engine: &Engine, component: &Component, linker: &mut Linker<BareState>) {
    use wasmtime::component::types::ComponentItem;
    for (name, item) in component.component_type().imports(engine) {
        let ComponentItem::ComponentInstance(instance) = item.ty else {
            continue;
        };
        if !name.starts_with("edgefn:") {
            continue;
        }
        let mut stubs = linker.instance(name).unwrap();
        for (export, item) in instance.exports(engine) {
            if let ComponentItem::ComponentFunc(_) = item.ty {
                stubs
                    .func_new(export, |_, _, _, _| {
                        Err(wasmtime::Error::msg("not linked in the floor benchmark"))
                    })
                    .unwrap();
            }
        }
    }
}
