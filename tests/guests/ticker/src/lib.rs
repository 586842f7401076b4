//! An interval job that reports each run to an HTTP server, so a test can
//! check that runs are periodic and never overlap.
//!
//! Config: `ticker_url` (where to POST), `sleep_ms` (how long each run lasts,
//! default 0). Each run POSTs `{"start_ms": ..., "end_ms": ...}` (wall clock,
//! milliseconds since the Unix epoch) after its sleep. Instances are fresh for
//! every run, so the guest keeps no counter: the receiver counts the runs.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use edgefn_sdk::http::OutgoingRequest;
use edgefn_sdk::interval;
use edgefn_sdk::serde_json::json;

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[interval]
fn tick() -> Result<(), String> {
    let url = edgefn_sdk::config("ticker_url").ok_or("ticker_url is not configured")?;
    let sleep_ms: u64 = edgefn_sdk::config_or("sleep_ms", "0")
        .parse()
        .map_err(|e| format!("sleep_ms: {e}"))?;
    let start_ms = now_ms();
    std::thread::sleep(Duration::from_millis(sleep_ms));
    let end_ms = now_ms();
    let response = OutgoingRequest::post(&url)
        .json(&json!({ "start_ms": start_ms, "end_ms": end_ms }))
        .send()
        .map_err(|e| format!("could not report to {url}: {e}"))?;
    println!("tick {start_ms}..{end_ms} reported ({})", response.status);
    Ok(())
}
