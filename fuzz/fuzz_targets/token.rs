//! Access tokens as clients present them (`auth=`, `Authorization: Bearer`):
//! decoding never panics, and a token this node signs decodes to what it
//! signed and verifies.
#![no_main]

use edgefn::access::Token;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let Ok(decoded) = Token::decode(text) else { return };
    let _ = decoded.signed_with(b"fuzz key");
    let resigned = decoded.token.sign(b"fuzz key");
    let again = Token::decode(&resigned).expect("a signed token decodes");
    assert_eq!(again.token, decoded.token);
    assert!(again.signed_with(b"fuzz key"));
});
