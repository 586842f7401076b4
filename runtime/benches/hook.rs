//! One before-publish invocation of the `moderate` example: fresh store,
//! instantiation from the pre-linked component, the call, and the JSON
//! round trip of the message (both a pass-through and a modification), as
//! the publish path runs it; side by side, the same for its JavaScript twin
//! `examples/js/moderate.js`, whose deploy time (QuickJS runner snapshot
//! and compilation) is printed too; the memory per JavaScript instance
//! (the linear memory each instance starts from, the runner's snapshotted
//! with the module loaded, and the node's resident memory per instance
//! while many instances of a JavaScript hook are alive at once); and the
//! floor under both, bare Wasmtime running the same component (fresh
//! store with WASI alone, instantiation, the call, drop) on a default
//! pooling allocator and on edgefn's tuned one
//! ([`edgefn::wasm::engine_config`]).
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
        ("moderate-js", Code::JavaScript(javascript.clone())),
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
    let sandbox = node.functions.sandbox();
    let snapshot = runtime.block_on(sandbox.specialise_javascript(&javascript));
    let linear = linear_memory_bytes(&snapshot.expect("the module snapshots"));
    let resident = runtime.block_on(resident_per_js_instance(&node));
    println!(
        "js instance memory: {:.2} MiB linear memory from the snapshot, {:.2} MiB resident per instance ({CONCURRENT} alive at once)",
        linear as f64 / MIB,
        resident / MIB
    );
    let registry = node.functions.snapshot();
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

const MIB: f64 = 1024.0 * 1024.0;
/// JavaScript instances held alive at once to measure their memory.
const CONCURRENT: usize = 32;
/// A before-publish hook that keeps its instance alive (yielding to the
/// others at each epoch tick) for 30 ms of its own running time.
const BUSY_JS: &str = "export default (request) => {
  const end = Date.now() + 30;
  while (Date.now() < end) {}
  return request.ok();
};";

/// The initial size of the linear memories a component's core modules
/// define: what every instance of it starts with.
fn linear_memory_bytes(component: &[u8]) -> u64 {
    let mut pages = 0;
    for payload in wasmparser::Parser::new(0).parse_all(component) {
        if let Ok(wasmparser::Payload::MemorySection(memories)) = payload {
            pages += memories
                .into_iter()
                .flatten()
                .map(|m| m.initial)
                .sum::<u64>();
        }
    }
    pages * 65536
}

/// The process's resident memory, in bytes.
fn resident_bytes() -> f64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm");
    let pages: f64 = statm
        .split(' ')
        .nth(1)
        .and_then(|p| p.parse().ok())
        .expect("resident pages");
    pages * 4096.0
}

/// The node's peak resident memory, above what it held before, per
/// instance while [`CONCURRENT`] instances of [`BUSY_JS`] run at once.
async fn resident_per_js_instance(node: &std::sync::Arc<Node>) -> f64 {
    let mut spec = FunctionSpec::named("busy-js");
    spec.before_publish = vec![Pattern::parse("busy.*").unwrap()];
    let code = Code::JavaScript(BUSY_JS.as_bytes().to_vec());
    node.functions.deploy(spec, code).await.unwrap();
    let registry = node.functions.snapshot();
    let function = std::sync::Arc::clone(&registry.get("busy-js").unwrap().prepared);
    let sandbox = std::sync::Arc::clone(node.functions.sandbox());
    let message = Message::new(
        Channel::parse("busy.room").unwrap(),
        MessageKind::Publish,
        "{}",
        None,
        None,
    )
    .unwrap();
    let timeout = Duration::from_secs(30);
    // Once, so that the code is loaded and one pool slot is warm.
    sandbox
        .before_publish(&function, &message, timeout)
        .await
        .unwrap();
    let before = resident_bytes();
    let runs: Vec<_> = (0..CONCURRENT)
        .map(|_| {
            let (sandbox, function, message) = (
                std::sync::Arc::clone(&sandbox),
                std::sync::Arc::clone(&function),
                message.clone(),
            );
            tokio::spawn(async move { sandbox.before_publish(&function, &message, timeout).await })
        })
        .collect();
    let mut peak = before;
    while runs.iter().any(|run| !run.is_finished()) {
        peak = peak.max(resident_bytes());
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    for run in runs {
        run.await.unwrap().unwrap();
    }
    (peak - before) / CONCURRENT as f64
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
