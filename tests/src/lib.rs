//! The harness of edgefn's end-to-end tests: it starts the real `edgefn`
//! binary on a free port with a data dir of its own, and talks to it the way
//! users do — HTTP, Server-Sent Events, WebSocket and the `edgefn` CLI.
//!
//! - [`paths`]: where the binary and the guest components are;
//! - [`node`]: a running node (start, `kill -9`, restart on the same data);
//! - [`nats`]: a NATS server or a NATS cluster for cluster tests (start,
//!   kill, restart), and nodes joined to it;
//! - [`tcp_proxy`]: a proxy that can be cut, to partition a node from NATS;
//! - [`api`]: the HTTP API (publish, history, admin) and its JSON answers;
//! - [`auth`]: tokens and client ids as clients present them; granting,
//!   revoking and forging tokens;
//! - [`signing`]: PubNub requests signed with the secret key, v2 and
//!   legacy v1;
//! - [`caps`]: scripts for the `caps` test guest, which calls every host
//!   capability from inside a real component;
//! - [`sse`], [`ws`]: subscribers;
//! - [`cli`]: running `edgefn` client commands against a node;
//! - [`recorder`]: a local HTTP server that records what it receives;
//! - [`check`]: assertions on delivered messages;
//! - [`wait`]: bounded waits (timeouts are failure bounds, never delays).
//! - [`hostile`]: the hardening tests' support (hostile guest, good traffic,
//!   metrics, resident memory, raw TCP clients).
//!
//! Prerequisites (the harness fails with these instructions when missing):
//! `cargo build --release -p edgefn` and
//! `scripts/build-guests.sh --manifest examples/Cargo.toml --manifest tests/guests/Cargo.toml`;
//! for the cluster tests, `EDGEFN_NATS_SERVER` naming a nats-server >= 2.10
//! (`scripts/test.sh` installs one).

pub mod api;
pub mod auth;
pub mod caps;
pub mod check;
pub mod cli;
pub mod hostile;
pub mod nats;
pub mod node;
pub mod paths;
pub mod recorder;
pub mod signing;
pub mod sse;
pub mod tcp_proxy;
pub mod tempdir;
pub mod wait;
pub mod ws;

pub use api::{Answer, Op};
pub use auth::Auth;
pub use nats::NatsServer;
pub use node::{AdminKey, Node, NodeOptions};
pub use recorder::Recorder;
pub use sse::Sse;
pub use ws::Ws;

pub use serde_json::{Value, json};
