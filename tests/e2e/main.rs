//! edgefn's end-to-end suite: each test starts the real `edgefn` binary on
//! its own port with its own data dir (see the `edgefn-e2e` harness in
//! `tests/src`) and drives it over HTTP, SSE, WebSocket and the CLI.
//!
//! Prerequisites: `cargo build --release -p edgefn` and
//! `scripts/build-guests.sh --manifest examples/Cargo.toml --manifest tests/guests/Cargo.toml`.

mod admin;
mod after_publish;
mod bad_input;
mod cli;
mod delivery;
mod endpoints;
mod hooks;
mod interval;
mod pubsub;
mod redeploy;
mod restart;
mod serve;
mod websocket;
