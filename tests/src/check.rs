//! Assertions on what the node delivers.

use serde_json::Value;

/// Asserts that `timetoken` is 17 decimal digits.
#[track_caller]
pub fn assert_timetoken(timetoken: &str) {
    assert!(
        timetoken.len() == 17 && timetoken.bytes().all(|b| b.is_ascii_digit()),
        "`{timetoken}` is not a 17-digit timetoken"
    );
}

/// Asserts that `view` is a delivered message on `channel` with every field
/// a subscriber is promised (channel, timetoken, message, meta, publisher,
/// kind), and returns its message.
#[track_caller]
pub fn assert_delivered<'a>(view: &'a Value, channel: &str) -> &'a Value {
    assert!(
        view["channel"] == channel,
        "delivered on another channel than {channel}: {}",
        short(view)
    );
    assert_timetoken(
        view["timetoken"]
            .as_str()
            .unwrap_or_else(|| panic!("no timetoken in {}", short(view))),
    );
    let object = view
        .as_object()
        .unwrap_or_else(|| panic!("a delivery is not an object: {}", short(view)));
    for field in ["message", "meta", "publisher", "kind"] {
        assert!(
            object.contains_key(field),
            "`{field}` missing from {}",
            short(view)
        );
    }
    &view["message"]
}

/// Asserts that the timetokens of `views` strictly increase per channel.
#[track_caller]
pub fn assert_increasing_per_channel(views: &[Value]) {
    let mut last: std::collections::HashMap<String, u64> = Default::default();
    for view in views {
        let channel = view["channel"].as_str().expect("a channel").to_owned();
        let timetoken: u64 = view["timetoken"]
            .as_str()
            .expect("a timetoken")
            .parse()
            .expect("digits");
        if let Some(previous) = last.insert(channel.clone(), timetoken) {
            assert!(
                timetoken > previous,
                "timetokens on {channel} do not increase: {previous} then {timetoken}"
            );
        }
    }
}

/// The `seq` field of each view's message (tests publish `{"seq": n}`).
#[track_caller]
pub fn seqs(views: &[Value]) -> Vec<u64> {
    views
        .iter()
        .map(|v| {
            v["message"]["seq"]
                .as_u64()
                .unwrap_or_else(|| panic!("no seq in {}", short(v)))
        })
        .collect()
}

/// `value` as JSON text, cut to 300 characters for failure messages.
pub fn short(value: &Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(300) {
        Some((end, _)) => format!("{}... ({} bytes)", &text[..end], text.len()),
        None => text,
    }
}
