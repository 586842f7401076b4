//! Crashes and restarts: nothing acknowledged is lost, nothing half-written
//! is visible.
//!
//! - `kill -9` at random moments under mixed load (publishes with history on
//!   several channels, redeploys alternating two builds, deploy/remove
//!   cycles, KV writes by the operator and by a guest, token revocations),
//!   then a restart on the same data dir and a check of every invariant,
//!   several rounds in a row carrying what was acknowledged forward. The
//!   kill offsets come from a seed printed by the test; set
//!   `EDGEFN_CRASH_SEED` to replay them, and `EDGEFN_CRASH_ROUNDS` for more
//!   kills than the default 5 (a longer soak).
//! - A deploy refused at validation or compilation leaves the previous
//!   version running and the store unchanged, also across a restart.
//! - SIGTERM: the node stops accepting connections, lets a hook that is
//!   running finish (its publish is acknowledged and durable), runs the
//!   after-publish work already queued, and exits 0; a hook that outlasts
//!   the grace period does not hold the exit up.

mod client;
mod deploys;
mod kill9;
mod sigterm;
