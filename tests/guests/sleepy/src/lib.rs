//! Handlers that take their time, for graceful-shutdown tests: each sleeps
//! on WASI clocks (not spinning), so the host must wait for it rather than
//! cut it off.
//!
//! - before-publish: when `started_url` is configured, first POSTs
//!   `{"id", "channel"}` to it (so a test knows the hook is running: log
//!   lines only show once an invocation ends); then prints `sleeping {id} on
//!   {channel}` (`id` is the payload's `id` field, or `-`), sleeps
//!   `sleep_ms` (config, default 300), and passes the message on with
//!   `"slept_ms": N` added (object payloads only; others pass unchanged);
//! - after-publish: prints `after {id} on {channel}`, sleeps
//!   `after_sleep_ms` (default 0), then, when `forward_url` is configured,
//!   POSTs `{"channel", "timetoken", "message"}` to it and prints
//!   `forwarded {id} ({status})`.

use std::time::Duration;

use edgefn_sdk::http::OutgoingRequest;
use edgefn_sdk::serde_json::{Value, json};
use edgefn_sdk::{Decision, Message, after_publish, before_publish};

fn millis(key: &str, default: &str) -> u64 {
    edgefn_sdk::config_or(key, default).parse().unwrap_or(0)
}

fn id(payload: &Value) -> String {
    match &payload["id"] {
        Value::String(s) => s.clone(),
        Value::Null => "-".to_owned(),
        other => other.to_string(),
    }
}

#[before_publish]
fn slow(mut msg: Message) -> Decision {
    let ms = millis("sleep_ms", "300");
    if let Some(url) = edgefn_sdk::config("started_url") {
        let body = json!({ "id": id(&msg.payload), "channel": msg.channel });
        if let Err(e) = OutgoingRequest::post(&url).json(&body).send() {
            println!("could not report the start to {url}: {e}");
        }
    }
    println!("sleeping {} on {}", id(&msg.payload), msg.channel);
    std::thread::sleep(Duration::from_millis(ms));
    match msg.payload.as_object_mut() {
        Some(payload) => {
            payload.insert("slept_ms".into(), ms.into());
            Decision::Modify(msg)
        }
        None => Decision::Pass,
    }
}

#[after_publish]
fn after(msg: Message) -> Result<(), String> {
    let id = id(&msg.payload);
    println!("after {id} on {}", msg.channel);
    std::thread::sleep(Duration::from_millis(millis("after_sleep_ms", "0")));
    let Some(url) = edgefn_sdk::config("forward_url") else {
        return Ok(());
    };
    let body = json!({
        "channel": msg.channel,
        "timetoken": msg.timetoken,
        "message": msg.payload,
    });
    let response = OutgoingRequest::post(&url)
        .json(&body)
        .send()
        .map_err(|e| format!("could not forward {id} to {url}: {e}"))?;
    println!("forwarded {id} ({})", response.status);
    Ok(())
}
