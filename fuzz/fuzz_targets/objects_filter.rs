//! App Context filter expressions (`filter=` on get all and on membership
//! listings), parsed and run against a few objects.
#![no_main]

use edgefn::objects::filter;
use libfuzzer_sys::fuzz_target;
use serde_json::json;

const FIELDS: &[&str] = &[
    "id",
    "name",
    "email",
    "type",
    "status",
    "updated",
    "custom",
    "channel.name",
    "channel.custom",
];

fuzz_target!(|text: &str| {
    let Ok(expr) = filter::parse(text, FIELDS) else { return };
    let objects = [
        json!({"id": "u1", "name": "Alice", "updated": "2026-01-02T03:04:05.678Z",
               "custom": {"rank": 3, "vip": true, "team": "red*"},
               "channel": {"name": "Room", "custom": {"size": 2}}}),
        json!({"id": "", "name": null, "custom": null}),
    ];
    for object in &objects {
        let _ = expr.matches(object);
    }
});
