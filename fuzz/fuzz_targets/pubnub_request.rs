//! The parts of PubNub requests edgefn parses itself: query strings
//! (percent-decoding, signature canonicalisation and checking) and
//! comma-separated channel lists.
#![no_main]

use edgefn::pubnub::request::split_list;
use edgefn::pubnub::signature::{Signed, Versions, decode_query, verify};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let params = decode_query(text);
    let signature = params.iter().find(|(k, _)| k == "signature").map_or("v2.x", |(_, v)| v.as_str());
    let request = Signed { method: "GET", path: "/publish/pub/sub/0/ch/0/1", query: text, body: b"" };
    for versions in [Versions::V2, Versions::V1OrV2] {
        let _ = verify(&request, signature, "secret", (("pub", "sub"), versions), 1_000);
    }
    for name in split_list(text) {
        assert!(!name.is_empty() && !name.contains(','));
    }
});
