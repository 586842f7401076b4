//! A before-publish function that asks an HTTP service about each message,
//! and enriches or rejects it according to the answer.
//!
//! It POSTs the message's payload, as JSON, to the URL in its config key
//! `relay_url` (with the channel in the header `x-edgefn-channel`), and
//! expects a 2xx JSON answer:
//! - `{"allow": true, "data": <any JSON>}`: the message passes with
//!   `"enriched": data` added to its payload (`null` when the answer has no
//!   `data`). A payload that is not a JSON object passes unchanged.
//! - `{"allow": false, "reason": "..."}`: the message is rejected with that
//!   reason.
//! - Anything else (another status, an answer that is not such JSON, or no
//!   answer at all) rejects the message with a reason that starts with
//!   `enrichment service unavailable: ` and names the failure.
//!
//! Deploy it with `--before-publish PATTERN --set relay_url=URL
//! --allow-outbound ORIGIN` (the origin of `relay_url`), and a
//! `--timeout-ms` that leaves room for the round trip (the default deadline
//! of a before-publish hook is 50 ms).

use edgefn_sdk::http::{self, OutgoingRequest};
use edgefn_sdk::serde_json::Value;
use edgefn_sdk::{Decision, Message, before_publish, log};

/// What the service said.
#[derive(Debug, PartialEq)]
enum Verdict {
    /// Let it through, enriched with this.
    Allow(Value),
    /// Reject it for this reason.
    Deny(String),
}

#[before_publish]
fn relay(mut msg: Message) -> Decision {
    let Some(url) = edgefn_sdk::config("relay_url") else {
        log::error("relay_url is not configured", &[]);
        return Decision::reject("enrichment service unavailable: relay_url is not configured");
    };
    match ask(&url, &msg) {
        Ok(Verdict::Allow(data)) => {
            let Some(payload) = msg.payload.as_object_mut() else {
                log::debug(
                    "passed unchanged (not an object)",
                    &[("channel", &msg.channel)],
                );
                return Decision::Pass;
            };
            payload.insert("enriched".into(), data);
            log::debug("enriched", &[("channel", &msg.channel)]);
            Decision::Modify(msg)
        }
        Ok(Verdict::Deny(reason)) => {
            log::info(
                "rejected by the service",
                &[("channel", &msg.channel), ("reason", &reason)],
            );
            Decision::Reject(reason)
        }
        Err(why) => {
            log::warn(
                "enrichment service unavailable",
                &[("channel", &msg.channel), ("url", &url), ("error", &why)],
            );
            Decision::reject(format!("enrichment service unavailable: {why}"))
        }
    }
}

/// POSTs the payload to `url` and reads the verdict; `Err` says why there
/// was none.
fn ask(url: &str, msg: &Message) -> Result<Verdict, String> {
    let response = http::send(
        OutgoingRequest::post(url)
            .header("x-edgefn-channel", &msg.channel)
            .json(&msg.payload),
    )
    .map_err(|e| e.to_string())?;
    if !response.is_success() {
        return Err(format!("it answered HTTP {}", response.status));
    }
    let answer: Value = response
        .body_json()
        .map_err(|e| format!("its answer is not JSON ({e})"))?;
    verdict(answer)
}

/// The verdict in a JSON answer.
fn verdict(mut answer: Value) -> Result<Verdict, String> {
    match answer.get("allow") {
        Some(Value::Bool(true)) => Ok(Verdict::Allow(answer["data"].take())),
        Some(Value::Bool(false)) => Ok(Verdict::Deny(match answer.get("reason") {
            Some(Value::String(reason)) if !reason.is_empty() => reason.clone(),
            _ => "rejected by the enrichment service".into(),
        })),
        _ => Err(r#"its answer has no boolean "allow""#.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use edgefn_sdk::serde_json::json;

    #[test]
    fn reads_verdicts() {
        assert_eq!(
            verdict(json!({"allow": true, "data": {"score": 3}})),
            Ok(Verdict::Allow(json!({"score": 3})))
        );
        assert_eq!(
            verdict(json!({"allow": true})),
            Ok(Verdict::Allow(Value::Null))
        );
        assert_eq!(
            verdict(json!({"allow": false, "reason": "blocked user"})),
            Ok(Verdict::Deny("blocked user".into()))
        );
        assert_eq!(
            verdict(json!({"allow": false})),
            Ok(Verdict::Deny("rejected by the enrichment service".into()))
        );
        assert!(verdict(json!({"allow": "yes"})).is_err());
        assert!(verdict(json!([1, 2])).is_err());
    }
}
