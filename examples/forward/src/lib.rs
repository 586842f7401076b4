//! An after-publish function that POSTs every message, as JSON, to the URL
//! in its config key `forward_url`:
//!
//! ```json
//! {"channel": "...", "timetoken": "...", "message": ..., "meta": ..., "publisher": "..."}
//! ```
//!
//! Each successful forward prints one line to the function's log; a failure
//! (transport error or non-2xx answer) is returned as an error, which the
//! server logs. Either way the message itself was already delivered.

use edgefn_sdk::http::{self, OutgoingRequest};
use edgefn_sdk::serde_json::json;
use edgefn_sdk::{Message, after_publish};

/// How much of an error response's body to quote.
const MAX_QUOTED: usize = 200;

#[after_publish]
fn forward(msg: Message) -> Result<(), String> {
    let url = edgefn_sdk::config("forward_url").ok_or("forward_url is not configured")?;
    let body = json!({
        "channel": msg.channel,
        "timetoken": msg.timetoken,
        "message": msg.payload,
        "meta": msg.meta,
        "publisher": msg.publisher,
    });
    let timetoken = msg.timetoken.as_deref().unwrap_or("-");
    let response = http::send(OutgoingRequest::post(&url).json(&body)).map_err(|e| {
        format!(
            "could not forward {timetoken} on {} to {url}: {e}",
            msg.channel
        )
    })?;
    if !response.is_success() {
        let mut error = format!(
            "{url} answered {} to {timetoken} on {}",
            response.status, msg.channel
        );
        let body = quote(&response.body_text());
        if !body.is_empty() {
            error = format!("{error}: {body}");
        }
        return Err(error);
    }
    println!(
        "forwarded {timetoken} on {} to {url} ({})",
        msg.channel, response.status
    );
    Ok(())
}

/// The start of `text`, on one line.
fn quote(text: &str) -> String {
    let line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match line.char_indices().nth(MAX_QUOTED) {
        Some((end, _)) => format!("{}...", &line[..end]),
        None => line,
    }
}
