//! An after-presence hook that reports each presence event it gets, so a
//! test can see what the host handed it, and counts them, so a test can
//! check that each ran once.
//!
//! Config: `label` (default `presence-log`), `report_channel` (default
//! `presence-reports`). For every event it increments the KV key
//! `{label}:{channel}:{action}:{uuid}` and then publishes `{"label",
//! "action", "channel", "uuid", "occupancy", "timestamp", "state", "runs"}`
//! (`state` is `null` when there is none; `runs` is the key's new count) on
//! the report channel.

use edgefn_sdk::serde_json::json;
use edgefn_sdk::{PresenceEvent, after_presence, bus, kv};

#[after_presence]
fn report(event: PresenceEvent) -> Result<(), String> {
    let label = edgefn_sdk::config_or("label", "presence-log");
    let key = format!("{label}:{}:{}:{}", event.channel, event.action, event.uuid);
    let runs = kv::incr(&key, 1).map_err(|e| format!("cannot count {key}: {e}"))?;
    let report = json!({
        "label": label,
        "action": event.action.as_str(),
        "channel": event.channel,
        "uuid": event.uuid,
        "occupancy": event.occupancy,
        "timestamp": event.timestamp,
        "state": event.state,
        "runs": runs,
    });
    let channel = edgefn_sdk::config_or("report_channel", "presence-reports");
    bus::publish(&channel, &report).map_err(|e| format!("cannot report on {channel}: {e}"))?;
    println!(
        "{} {} on {} (run {runs})",
        event.uuid, event.action, event.channel
    );
    Ok(())
}
