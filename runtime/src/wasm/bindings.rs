//! Host bindings for the `edgefn:functions` WIT package (generated once,
//! here). WASI and wasi-http come from wasmtime-wasi and wasmtime-wasi-http.

#[expect(missing_docs, reason = "bindgen-generated code")]
mod generated {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "edgefn:functions/any-trigger",
        imports: {
            "edgefn:functions/kv": async,
            "edgefn:functions/bus": async,
            "edgefn:functions/history": async,
            "edgefn:functions/message-actions": async,
            "edgefn:functions/objects": async,
            "edgefn:functions/channel-groups": async,
            "edgefn:functions/files": async,
            "edgefn:functions/tokens": async,
        },
        exports: { default: async },
        with: {
            "wasi:cli": wasmtime_wasi::p2::bindings::cli,
            "wasi:clocks": wasmtime_wasi::p2::bindings::clocks,
            "wasi:filesystem": wasmtime_wasi::p2::bindings::filesystem,
            "wasi:io": wasmtime_wasi::p2::bindings::io,
            "wasi:random": wasmtime_wasi::p2::bindings::random,
            "wasi:sockets": wasmtime_wasi::p2::bindings::sockets,
            "wasi:http": wasmtime_wasi_http::p2::bindings::http,
        },
    });
}

pub use generated::edgefn::functions::types::{Message, MessageKind};
pub use generated::edgefn::functions::{
    bus, channel_groups, files, history, kv, log, message_actions, objects, presence, secrets,
    tokens, types,
};
pub use generated::exports::edgefn::functions::after_presence::{
    GuestIndices as AfterPresenceIndices, PresenceAction, PresenceEvent,
};
pub use generated::exports::edgefn::functions::after_publish::GuestIndices as AfterPublishIndices;
pub use generated::exports::edgefn::functions::before_publish::{
    Decision, GuestIndices as BeforePublishIndices,
};
pub use generated::exports::edgefn::functions::interval::GuestIndices as IntervalIndices;
