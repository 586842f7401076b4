//! Channel names and subscription patterns, as they come in URL paths
//! (`/v1/subscribe/a,b.*`, PubNub's channel lists) and deploy bindings.
#![no_main]

use edgefn::bus::{Channel, Pattern, parse_pattern_list};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let channel = Channel::parse(text);
    if let Ok(patterns) = parse_pattern_list(text) {
        for pattern in &patterns {
            // What a pattern prints parses back to the same pattern.
            assert_eq!(Pattern::parse(&pattern.to_string()).as_ref(), Ok(pattern));
            if let Ok(channel) = &channel {
                let _ = pattern.matches(channel);
            }
        }
    }
    if let Ok(channel) = channel {
        assert!(Pattern::parse(channel.as_str()).is_ok() || channel.as_str().contains('*'));
        for prefix in channel.wildcard_prefixes() {
            assert!(channel.as_str().starts_with(prefix));
        }
    }
});
