//! PubNub subscribe filter expressions (`filter-expr=`), parsed and run
//! against a few messages.
#![no_main]

use edgefn::pubnub::filter::Filter;
use libfuzzer_sys::fuzz_target;
use serde_json::json;

fuzz_target!(|text: &str| {
    let Ok(filter) = Filter::parse(text) else { return };
    let payloads = [json!({"text": "hi", "score": 81, "tags": ["a", "b"]}), json!("plain"), json!(null)];
    let metas = [Some(json!({"priority": "high", "uuid": "me", "n": 3})), None];
    for payload in &payloads {
        for meta in &metas {
            let _ = filter.matches(payload, meta.as_ref());
        }
    }
});
