//! edgefn: a self-hosted real-time message bus with a sandboxed WebAssembly
//! functions runtime built in.
//!
//! Messages published to channels pass through before-publish hooks (which
//! may change or refuse them), are stored and delivered in one order per
//! channel, and are copied to after-publish hooks. HTTP endpoint functions
//! and interval functions run in the same sandbox.
//!
//! # Layout
//! - [`node`]: wires everything together; the flow of one publish;
//! - [`bus`]: channels, timetokens, the sequencer, local fan-out;
//! - [`access`]: access tokens and their checks;
//! - [`functions`]: deployments, the live registry, after-publish and
//!   interval scheduling;
//! - [`wasm`]: the sandbox (Wasmtime) and the host capabilities;
//! - [`store`]: durable state (redb);
//! - [`kv`]: the functions' key-value store, local or clustered;
//! - [`http`]: the native HTTP API;
//! - [`pubnub`]: the PubNub-compatible API;
//! - [`presence`]: who is on which channel;
//! - [`actions`]: message actions (reactions, receipts), local or clustered;
//! - [`files`]: files shared on channels, local or clustered;
//! - [`cli`]: the `edgefn` command line;
//! - [`config`]: every limit, and the config file;
//! - [`bounds`]: limits on what the node keeps, and their refusals;
//! - [`durable`]: files created whole and durably (the node's keys);
//! - [`cluster`]: cluster mode over NATS;
//! - [`metrics`]: Prometheus metrics.

#![deny(missing_docs)]

pub mod access;
pub mod actions;
pub mod bounds;
pub mod bus;
pub mod cli;
pub mod clock;
pub mod cluster;
pub mod config;
pub mod durable;
pub mod files;
pub mod functions;
pub mod http;
pub mod kv;
pub mod metrics;
pub mod node;
pub mod objects;
pub mod presence;
pub mod pubnub;
pub mod store;
pub mod wasm;
