//! PubNub's utility modules for JavaScript functions (`crypto`, the
//! `codec/*` modules, `uuid`, `utils`, `jwt`, `jsonpath`, `advanced_math`):
//! each fixture in `tests/js/modules/` is an On Request function that runs
//! its module's calls inside the real node and answers their results as
//! JSON, which are checked here against published vectors.
//!
//! Where the vectors come from: SHA-1/256/512 of "abc" are FIPS 180's
//! examples; the HMACs are RFC 4231 test cases 1 and 2 (and RFC 2202's
//! SHA-1 case 2), as Base64; Ed25519 is RFC 8032 section 7.1 TEST 2; the
//! ECDSA P-256 key and the SHA-256 signature of "sample" are RFC 6979
//! A.2.5's (signing is deterministic); the UUIDs v3/v5 of "www.example.com"
//! in the DNS namespace are the well-known ones. The rest (the UTF-8 hashes,
//! Base64 of UTF-8, the URL-namespace UUIDs, the jwt.io HS256 token) were
//! computed with Python's hashlib, hmac, base64 and uuid modules, e.g.
//! `base64.urlsafe_b64encode(hmac.new(b"your-256-bit-secret",
//! f"{header}.{payload}".encode(), hashlib.sha256).digest())`.

use std::collections::HashSet;

use edgefn_e2e::paths::repo_root;
use edgefn_e2e::*;

fn fixture(name: &str) -> String {
    let path = repo_root().join("tests/js/modules").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// Deploys fixture `file` as the endpoint `name` and returns its answer.
async fn run(node: &Node, name: &str, file: &str) -> Value {
    node.deploy_js_ok(name, &fixture(file), &json!({"endpoint": true}))
        .await;
    let answer = node.get(&format!("/v1/fn/{name}/run?a=1")).await;
    answer.ok().clone()
}

const UTF8: &str = "héllo wörld ✓ 🚀";

#[tokio::test]
async fn crypto_hashes_macs_and_signatures_match_the_published_vectors() {
    let node = Node::start().await;
    let got = run(&node, "js-crypto", "crypto.js").await;

    let names = json!([
        "ED25519",
        "ECDSA_P256_SHA1",
        "ECDSA_P256_SHA256",
        "ECDSA_P256_SHA512",
        "HMAC_SHA1",
        "HMAC_SHA256",
        "HMAC_SHA512"
    ]);
    assert_eq!(got["algorithms"], names);
    assert_eq!(got["algorithmValues"], names);

    assert_eq!(
        got["sha1"],
        json!([
            "a9993e364706816aba3e25717850c26c9cd0d89d",
            "c835083866b7f0f1ab18ad805568e5753862c2b0"
        ])
    );
    assert_eq!(
        got["sha256"],
        json!([
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            "c1a19c07e61550d4eb0bec9e7259bbf521b29ef90cede8cc2b5170f4046a7373"
        ])
    );
    assert_eq!(
        got["sha512"],
        json!([
            "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
            "e294913160cdb571c3f27f8ad8557df0cefd3928da1b49dfa64310c01313a9833fab0567665ac86e26d1774dde60527f1fe6b20283691aaf206746fae3564fc9"
        ])
    );

    // RFC 4231 test case 2 (hex 5bdcc146...3843 / 164b7a7b...e737),
    // RFC 2202 case 2 (effcdf6a...7c79), RFC 4231 test case 1 (b0344c61...cff7).
    assert_eq!(
        got["hmac"],
        json!({
            "sha256": "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM=",
            "sha512": "Fkt6e/z4GeLjlfvnO1bgo4e9ZCIugx/WECcM1+olBVSXWL91wFqZSm0DT2X48Ob9yuqxo01Ka0tjbgcKOLznNw==",
            "sha1": "7/zfauXrL6LSdBbV8YTfnCWafHk=",
            "binaryKey": "sDRMYdjbOFNcqK/OrwvxK4gdwgDJgz2nJuk3bC4yz/c=",
        })
    );

    // RFC 8032 7.1 TEST 2: 92a009a9...bb0c00, from the seed as hex, as a
    // PKCS#8 PEM and as a JWK.
    let ed25519 =
        "kqAJqfDUyrhyDoILX2QlQKKye1QWUD+Ps3YiI+vbadoIWsHkPhWZbkWPNhPQ8R2MOHsurrQwKu6wDSkWErsMAA==";
    assert_eq!(
        got["ed25519"],
        json!({
            "signature": ed25519,
            "pemSignature": ed25519,
            "jwkSignature": ed25519,
            "verifies": true,
            "pem": true,
            "hexSignature": true,
            "tampered": false,
            "garbage": false,
        })
    );

    for algorithm in ["ECDSA_P256_SHA1", "ECDSA_P256_SHA256", "ECDSA_P256_SHA512"] {
        assert_eq!(
            got["p256"][algorithm],
            json!({"length": 64, "verifies": true, "pem": true, "tampered": false, "otherHash": false}),
            "{algorithm}"
        );
    }
    // RFC 6979 A.2.5, P-256 with SHA-256, "sample": r = efd48b2a...3716,
    // s = f7cb1c94...cda8.
    assert_eq!(
        got["p256Rfc6979"],
        "79SLKqy2qP0RQN2c1F6B1p0sh3tWqvmRw00OqE6vNxb3yxyULWV8QdQ2x6G24p9l8+kA27mv9AZNxKsvhDrNqA=="
    );

    let errors = &got["errors"];
    assert!(
        errors["hmacAlgorithm"].as_str().unwrap().starts_with(
            "TypeError: crypto.hmac: the algorithm must be one of crypto.ALGORITHM.HMAC_SHA1"
        ),
        "{errors}"
    );
    assert!(
        errors["signAlgorithm"]
            .as_str()
            .unwrap()
            .ends_with("not RSA"),
        "{errors}"
    );
    assert_eq!(
        errors["missingMessage"],
        "TypeError: crypto: the message is required"
    );
    assert_eq!(
        errors["badKey"],
        "TypeError: an Ed25519 private key is 32 bytes, not 1"
    );
}

#[tokio::test]
async fn codec_modules_encode_utf8_basic_auth_and_query_strings() {
    let node = Node::start().await;
    let got = run(&node, "js-codec", "codec.js").await;
    assert_eq!(
        got["btoa"],
        json!(["aGVsbG8=", "aMOpbGxvIHfDtnJsZCDinJMg8J+agA==", ""])
    );
    assert_eq!(got["atob"], json!(["hello", UTF8, "hello", "ÿï", "ÿ"]));
    assert_eq!(got["badBase64"], "TypeError");
    assert_eq!(got["encodeString"], json!(["a-b_c==", "-"]));
    assert_eq!(
        got["basic"],
        json!(["Basic bWFueTpibG9ja3M=", "Basic w7xzZXI6cMOkOnNz"])
    );
    assert_eq!(
        got["parse"],
        json!([
            {"a": "5", "b": "10", "c": 15},
            {"x": ["1", "2"], "y": "héllo w rld", "flag": "", "a": "5", "z": "z"},
            {"page": "1"},
            {"page": "3", "limit": "20"},
        ])
    );
    assert_eq!(
        got["stringify"],
        json!([
            "page=2&pageSize=50&includeMetadata=true",
            "q=h%C3%A9llo%20w%C3%B6rld%26more&tags=a&tags=b&empty=",
        ])
    );
    assert_eq!(got["roundTrip"], json!({"a b": "c&d=e", "u": "✓"}));
    assert_eq!(got["requestQuery"], json!({"a": "1"}));
}

#[tokio::test]
async fn uuid_and_utils_make_and_check_identifiers_and_numbers() {
    let node = Node::start().await;
    let got = run(&node, "js-uuid", "uuid.js").await;
    assert_eq!(
        got["v3"],
        json!([
            "5df41881-3aed-3515-88a7-2f4a814cf09e",
            "2e21619e-2aab-3a25-9959-2418622ea3ce"
        ])
    );
    assert_eq!(
        got["v5"],
        json!([
            "2ed6657d-e927-568b-95e1-2665a8aea6a2",
            "3bdc1b92-e301-5da7-9835-fff02184ba40"
        ])
    );
    let fours: Vec<&str> = got["v4"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(fours.len(), 50);
    assert_eq!(fours.iter().collect::<HashSet<_>>().len(), 50, "{fours:?}");
    for four in &fours {
        let bytes = four.as_bytes();
        assert_eq!(four.len(), 36, "{four}");
        assert!(
            four.chars()
                .enumerate()
                .all(|(i, c)| if [8, 13, 18, 23].contains(&i) {
                    c == '-'
                } else {
                    c.is_ascii_hexdigit() && !c.is_ascii_uppercase()
                }),
            "{four}"
        );
        assert_eq!(bytes[14], b'4', "{four}");
        assert!(b"89ab".contains(&bytes[19]), "{four}");
    }
    assert!(got["v4Versions"].as_array().unwrap().iter().all(|v| v == 4));
    assert_eq!(
        got["validate"],
        json!([true, true, true, false, false, false])
    );
    assert_eq!(got["version"], json!([3, 5]));
    assert_eq!(got["badVersion"], "TypeError: Invalid UUID");

    // randomInt(5, 15) is in [5, 15): 500 draws see every value.
    assert_eq!(
        got["randomInt"],
        json!({"min": 5, "max": 14, "distinct": 10, "integers": true})
    );
    assert_eq!(
        got["isNumeric"],
        json!([
            true, true, true, true, true, true, true, false, false, false, false, false, false,
            false, false, false, false, false
        ])
    );

    // Each invocation draws new v4s (the snapshot does not replay them).
    let again = node.get("/v1/fn/js-uuid/run").await.ok()["v4"][0].clone();
    assert_ne!(again, got["v4"][0]);
}

#[tokio::test]
async fn jwt_signs_verifies_and_rejects_like_jsonwebtoken() {
    let node = Node::start().await;
    let got = run(&node, "js-jwt", "jwt.js").await;
    // jwt.io's example, recomputed with Python's hmac (see the module doc).
    let known = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";
    assert_eq!(got["known"], known);
    assert_eq!(
        got["knownVerifies"],
        json!({"ok": {"sub": "1234567890", "name": "John Doe", "iat": 1516239022}})
    );
    let invalid = json!({"error": "JsonWebTokenError", "message": "invalid signature"});
    assert_eq!(got["knownWrongSecret"], invalid);
    assert_eq!(got["tampered"], invalid);

    let payload = &got["roundTrip"]["ok"];
    assert_eq!(payload["userId"], "u1");
    assert_eq!(payload["name"], "Zoë");
    assert_eq!(payload["iss"], "edgefn");
    assert_eq!(payload["aud"], "app");
    assert_eq!(got["lifetime"], 3600);
    assert_eq!(got["iatIsNow"], true);
    assert_eq!(got["header"], json!({"alg": "HS256", "typ": "JWT"}));

    assert_eq!(
        got["wrongAudience"],
        json!({"error": "JsonWebTokenError", "message": "jwt audience invalid. expected: other"})
    );
    assert_eq!(
        got["wrongIssuer"],
        json!({"error": "JsonWebTokenError", "message": "jwt issuer invalid. expected: other"})
    );
    assert_eq!(
        got["expired"],
        json!({"error": "TokenExpiredError", "message": "jwt expired"})
    );
    assert_eq!(got["errorClass"], json!([true, true, true, true]));
    assert_eq!(got["expiredIgnored"], json!({"ok": "u1"}));
    assert_eq!(
        got["notYet"],
        json!({"error": "NotBeforeError", "message": "jwt not active"})
    );
    assert_eq!(got["notYetLater"], json!({"ok": "u1"}));
    assert_eq!(
        got["hs512"],
        json!({"header": {"alg": "HS512", "typ": "JWT"}, "payload": {"ok": {"a": 1}}})
    );
    assert_eq!(
        got["hs512NotAllowed"],
        json!({"error": "JsonWebTokenError", "message": "invalid algorithm"})
    );
    assert_eq!(
        got["malformed"],
        json!({"error": "JsonWebTokenError", "message": "jwt malformed"})
    );
    assert_eq!(got["decodeGarbage"], Value::Null);
    assert_eq!(got["callback"], json!({"err": "JsonWebTokenError"}));
    assert_eq!(got["unsupported"]["error"], "JsonWebTokenError");
}

#[tokio::test]
async fn jsonpath_and_advanced_math_answer_queries_and_distances() {
    let node = Node::start().await;
    // Deployed with the CLI this time, as a user would.
    let path = repo_root().join("tests/js/modules/jsonpath.js");
    node.cli(&[
        "deploy",
        path.to_str().unwrap(),
        "--name",
        "js-jsonpath",
        "--endpoint",
    ])
    .await
    .ok();
    let got = node.get("/v1/fn/js-jsonpath/run").await.ok().clone();

    let authors = json!([
        "Nigel Rees",
        "Evelyn Waugh",
        "Herman Melville",
        "J. R. R. Tolkien"
    ]);
    assert_eq!(got["authors"], authors);
    assert_eq!(got["allAuthors"], authors);
    assert_eq!(got["storeChildren"], 2);
    assert_eq!(got["prices"], json!([8.95, 12.99, 8.99, 22.99, 19.95]));
    assert_eq!(got["third"], json!(["Moby Dick"]));
    assert_eq!(got["last"], json!(["The Lord of the Rings"]));
    assert_eq!(got["lastScript"], json!(["The Lord of the Rings"]));
    let first_two = json!(["Sayings of the Century", "Sword of Honour"]);
    assert_eq!(got["firstTwo"], first_two);
    assert_eq!(got["sliceTwo"], first_two);
    assert_eq!(
        got["stepped"],
        json!(["Sayings of the Century", "Moby Dick"])
    );
    assert_eq!(
        got["withIsbn"],
        json!(["Moby Dick", "The Lord of the Rings"])
    );
    assert_eq!(got["cheap"], json!(["Sayings of the Century", "Moby Dick"]));
    assert_eq!(
        got["fictionCheap"],
        json!(["Evelyn Waugh", "Herman Melville"])
    );
    assert_eq!(got["notFiction"], json!(["Nigel Rees"]));
    assert_eq!(got["vsRoot"], json!(["The Lord of the Rings"]));
    assert_eq!(got["bracketNames"], json!(["red"]));
    assert_eq!(got["quoted"], json!([1]));
    assert_eq!(got["union"], json!(["red", 19.95]));
    assert_eq!(got["paths"], json!(["$['store']['book'][3]"]));
    assert_eq!(
        got["pointers"],
        json!(["/store/bicycle/color", "/store/bicycle/price"])
    );
    assert_eq!(got["noMatch"], json!([]));
    assert_eq!(got["unwrapped"], "red");
    assert_eq!(got["unwrappedNone"], true);
    assert_eq!(got["shorthand"], json!(["red"]));
    assert_eq!(got["noDollar"], json!([19.95]));
    assert_eq!(got["everything"], 29);
    assert_eq!(got["badPath"], "SyntaxError");

    // New York to Los Angeles: about 2,445.6 miles on a 3,958.8-mile sphere.
    let distance = got["distance"].as_f64().unwrap();
    assert!((distance - 2445.6).abs() < 1.0, "{distance}");
    assert_eq!(got["zero"], 0.0);
    assert_eq!(
        got["deg2rad"],
        json!([std::f64::consts::PI, std::f64::consts::FRAC_PI_2, 0])
    );
}
