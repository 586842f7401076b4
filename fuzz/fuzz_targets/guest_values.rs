//! Values guests hand to the host through WIT: KV keys, token grant
//! patterns, outbound URLs checked against allow-list rules, and
//! deployment specs (`a \0 b`: the input split in two).
#![no_main]

use edgefn::access::grant;
use edgefn::functions::FunctionSpec;
use edgefn::kv::check_key;
use edgefn::wasm::caps::outbound::OutboundRule;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let (a, b) = text.split_once('\0').unwrap_or((text, ""));
    let _ = check_key(a);
    let _ = grant::compile(a);
    if let Ok(rule) = OutboundRule::parse(a) {
        assert_eq!(OutboundRule::parse(&rule.to_string()).as_ref().ok(), Some(&rule));
        if let Ok(uri) = b.parse::<http::Uri>() {
            let host = uri.host().unwrap_or_default();
            let _ = rule.matches(uri.scheme_str().unwrap_or("http"), host, uri.port_u16().unwrap_or(80), uri.path());
        }
    }
    if let Ok(spec) = serde_json::from_str::<FunctionSpec>(a) {
        let _ = spec.validate(256);
    }
});
