//! edgefn's end-to-end suite: each test starts the real `edgefn` binary on
//! its own port with its own data dir (see the `edgefn-e2e` harness in
//! `tests/src`) and drives it over HTTP, SSE, WebSocket and the CLI.
//!
//! Prerequisites: `cargo build --release -p edgefn` and
//! `scripts/build-guests.sh --manifest examples/Cargo.toml --manifest tests/guests/Cargo.toml`.

mod access;
mod admin;
mod after_presence;
mod after_publish;
mod bad_input;
mod budgets;
mod chat;
mod cli;
mod cluster;
mod crash;
mod delivery;
mod endpoints;
mod files;
mod fn_actions_objects;
mod fn_bus;
mod fn_groups_files;
mod fn_history_ops;
mod fn_presence_history;
mod fn_tokens;
mod history_ops;
mod hooks;
mod hostile;
mod interval;
mod javascript;
mod js_modules;
mod kv;
mod logs;
mod long_poll;
mod memberships;
mod message_actions;
mod objects;
mod pubsub;
mod python;
mod redeploy;
mod relay;
mod restart;
mod secrets;
mod serve;
mod websocket;
