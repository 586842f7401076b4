// Shared source of the `stamp-a` and `stamp-b` guests, which differ only in
// `BUILD`: two genuinely different components for redeploy tests.
//
// - before-publish: appends `{"build": BUILD, "config": $VERSION, "calls": N}`
//   to the payload's `stamps` array (object payloads only; others pass
//   unchanged) and sets `meta.stamped_by` to $VERSION. N counts the calls in
//   this instance: always 1 when every message gets a fresh instance;
// - endpoint: answers the same `{"build", "config"}` object.

use std::sync::atomic::{AtomicU64, Ordering};

use edgefn_sdk::http::{Request, Response};
use edgefn_sdk::serde_json::{Value, json};
use edgefn_sdk::{Decision, Message, before_publish, endpoint};

fn identity() -> Value {
    json!({ "build": BUILD, "config": edgefn_sdk::config("VERSION") })
}

/// Calls of the hook in this instance.
static CALLS: AtomicU64 = AtomicU64::new(0);

#[before_publish]
fn stamp(mut msg: Message) -> Decision {
    let calls = CALLS.fetch_add(1, Ordering::Relaxed) + 1;
    let Some(payload) = msg.payload.as_object_mut() else {
        return Decision::Pass;
    };
    let stamps = payload.entry("stamps").or_insert_with(|| json!([]));
    if let Some(list) = stamps.as_array_mut() {
        let mut stamp = identity();
        stamp["calls"] = calls.into();
        list.push(stamp);
    }
    let mut meta = msg.meta.take().filter(Value::is_object).unwrap_or_else(|| json!({}));
    meta["stamped_by"] = edgefn_sdk::config("VERSION").into();
    msg.meta = Some(meta);
    Decision::Modify(msg)
}

#[endpoint]
fn whoami(_req: Request) -> Response {
    Response::json(200, &identity())
}
