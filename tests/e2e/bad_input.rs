//! Bad input, each answered with a clear error while nothing already
//! accepted is lost: invalid Wasm, a core module, a component lacking the
//! export its binding needs, invalid specs, unknown function names,
//! malformed patterns, non-JSON or oversized messages and signals, bad
//! channel names and timetokens.

use edgefn_e2e::paths::guest_bytes;
use edgefn_e2e::*;
use reqwest::Method;

/// Deploys `moderate` as `guard` on `chat.*`: the deployment that failed
/// redeploys of the same name must leave in place.
async fn deploy_guard(node: &Node) {
    node.deploy_ok(
        "guard",
        "moderate",
        &json!({"before_publish": ["chat.*"], "config": {"banned_words": "spam"}}),
    )
    .await;
}

/// Asserts that `guard` is still version 1 and still moderating.
async fn assert_guard_intact(node: &Node) {
    assert_eq!(
        node.show("guard").await["version"],
        1,
        "a refused deploy replaced the function"
    );
    let tt = node
        .publish("chat.check", &json!({"text": " still  here "}))
        .await;
    let last = node.history("chat.check", "limit=1").await;
    assert_eq!(last[0]["timetoken"], tt);
    assert_eq!(
        last[0]["message"],
        json!({"text": "still here", "moderated": true}),
        "the guard stopped moderating"
    );
}

#[tokio::test]
async fn bad_components_are_refused_and_the_previous_deployment_stays() {
    let node = Node::start().await;
    deploy_guard(&node).await;
    let hook = json!({"before_publish": ["chat.*"]});
    let mut truncated = guest_bytes("moderate");
    truncated.truncate(truncated.len() / 2);
    let cases: [(Vec<u8>, &str); 5] = [
        (
            b"this is not wasm at all".to_vec(),
            "not a WebAssembly binary",
        ),
        (Vec::new(), "not a WebAssembly binary"),
        (b"\0asm\x01\0\0\0".to_vec(), "core WebAssembly module"),
        (truncated, "invalid"),
        (b"\0asm\x0d\0\x01\0garbage".to_vec(), "invalid"),
    ];
    for (bytes, says) in cases {
        let answer = node.deploy_bytes("guard", &hook, bytes).await;
        let message = answer.message(400, "invalid_component");
        assert!(message.contains(says), "expected {says:?} in: {message}");
        assert_guard_intact(&node).await;
    }
}

#[tokio::test]
async fn a_component_without_the_export_its_binding_needs_is_refused() {
    let node = Node::start().await;
    deploy_guard(&node).await;
    let cases = [
        (
            "hello",
            json!({"before_publish": ["chat.*"]}),
            "edgefn:functions/before-publish@0.1.0",
            "--before-publish",
        ),
        (
            "moderate",
            json!({"endpoint": true}),
            "wasi:http/incoming-handler",
            "--endpoint",
        ),
        (
            "moderate",
            json!({"after_publish": ["chat.*"]}),
            "edgefn:functions/after-publish@0.1.0",
            "--after-publish",
        ),
        (
            "forward",
            json!({"every": 5}),
            "edgefn:functions/interval@0.1.0",
            "--every",
        ),
    ];
    for (guest, spec, export, flag) in cases {
        let answer = node.deploy("guard", guest, &spec).await;
        let message = answer.message(400, "invalid_component");
        assert!(
            message.contains(export) && message.contains(flag),
            "{guest} with {spec}: {message}"
        );
        assert_guard_intact(&node).await;
    }
    node.admin(Method::GET, "/functions/never")
        .await
        .error(404, "not_found");
}

#[tokio::test]
async fn invalid_specs_and_uploads_are_refused() {
    let node = Node::start().await;
    deploy_guard(&node).await;
    let cases = [
        (json!({}), "no trigger"),
        (json!({"before_publish": ["a.*.b"]}), "malformed"),
        (json!({"before_publish": ["*"]}), "malformed"),
        (json!({"after_publish": ["a b"]}), "a b"),
        (json!({"endpoint": true, "every": 0}), "every"),
        (json!({"endpoint": true, "timeout_ms": 0}), "timeout_ms"),
        (
            json!({"endpoint": true, "memory_mb": 1_000_000}),
            "memory_mb",
        ),
        (json!({"endpoint": true, "config": {"1x": "v"}}), "1x"),
        (
            json!({"endpoint": true, "allow_outbound": ["ftp://x"]}),
            "ftp://x",
        ),
        (json!({"endpoint": true, "on_error": "ignore"}), "ignore"),
        (json!({"endpoint": true, "bogus": 1}), "bogus"),
        (json!({"name": "other", "endpoint": true}), "other"),
    ];
    for (spec, says) in cases {
        let answer = node.deploy("guard", "moderate", &spec).await;
        let message = answer.message(400, "invalid_spec");
        assert!(
            message.contains(says),
            "{spec}: expected {says:?} in: {message}"
        );
    }
    let answer = node
        .deploy("Bad_Name", "moderate", &json!({"endpoint": true}))
        .await;
    assert!(
        answer.message(400, "invalid_spec").contains("Bad_Name"),
        "{}",
        answer.body
    );

    // Uploads that are not a spec and a component.
    let url = node.url("/v1/admin/functions/guard");
    let no_component =
        reqwest::multipart::Form::new().text("spec", json!({"endpoint": true}).to_string());
    node.send(
        node.http()
            .put(&url)
            .bearer_auth(node.admin_key())
            .multipart(no_component),
    )
    .await
    .error(400, "invalid_upload");
    let not_json = reqwest::multipart::Form::new().text("spec", "{nope").part(
        "component",
        reqwest::multipart::Part::bytes(guest_bytes("moderate")),
    );
    node.send(
        node.http()
            .put(&url)
            .bearer_auth(node.admin_key())
            .multipart(not_json),
    )
    .await
    .error(400, "invalid_spec");
    let extra = reqwest::multipart::Form::new().text("surprise", "x");
    node.send(
        node.http()
            .put(&url)
            .bearer_auth(node.admin_key())
            .multipart(extra),
    )
    .await
    .error(400, "invalid_upload");
    let not_multipart = node
        .send(
            node.http()
                .put(&url)
                .bearer_auth(node.admin_key())
                .body("raw"),
        )
        .await;
    assert_eq!(not_multipart.status / 100, 4, "{}", not_multipart.body);
    assert_guard_intact(&node).await;
}

#[tokio::test]
async fn unknown_function_names_are_404() {
    let node = Node::start().await;
    for (method, path) in [
        (Method::GET, "/functions/nope"),
        (Method::DELETE, "/functions/nope"),
        (Method::GET, "/functions/nope/logs"),
    ] {
        let answer = node.admin(method, path).await;
        assert!(
            answer.message(404, "not_found").contains("nope"),
            "{path}: {}",
            answer.body
        );
    }
    node.get("/v1/fn/nope/x").await.error(404, "not_found");
    node.get("/v1/no/such/route").await.error(404, "not_found");
}

#[tokio::test]
async fn malformed_patterns_and_bad_channel_names_are_400() {
    let node = Node::start().await;
    for pattern in ["a.*.b", "*", "a*", "a..*", ".*", "a,,b", "a%20b"] {
        let answer = Sse::open(&node, pattern, None)
            .await
            .err()
            .unwrap_or_else(|| panic!("subscribe to {pattern:?} accepted"));
        answer.error(400, "invalid_channel");
    }
    let too_many = (0..200)
        .map(|i| format!("c{i}"))
        .collect::<Vec<_>>()
        .join(",");
    Sse::open(&node, &too_many, None)
        .await
        .err()
        .expect("200 channels accepted")
        .error(400, "too_many_channels");
    Sse::open(&node, "ok", Some("not-a-timetoken"))
        .await
        .err()
        .expect("bad since accepted")
        .error(400, "invalid_timetoken");

    let long = "x".repeat(93);
    for channel in [
        "a:b",
        "a%20b",
        "a*",
        "a,b",
        "a%5Cb",
        long.as_str(),
        "tab%09",
    ] {
        let answer = node.post_message(Op::Publish, channel, "{}", &[]).await;
        answer.error(400, "invalid_channel");
        node.get(&format!("/v1/history/{channel}"))
            .await
            .error(400, "invalid_channel");
    }
    assert!(
        node.history(&"x".repeat(92), "").await.is_empty(),
        "a 92-byte channel name is valid"
    );
}

/// A refused message: how it is sent, its body and query, the answer's
/// status and error code.
type BadMessage = (
    Op,
    Vec<u8>,
    &'static [(&'static str, &'static str)],
    u16,
    &'static str,
);

#[tokio::test]
async fn bad_messages_are_refused_and_never_stored_or_delivered() {
    let node = Node::start().await;
    let (mut sse, _) = Sse::ready(&node, "strict", None).await;
    let too_big = format!("\"{}\"", "x".repeat(32 * 1024));
    let cases: [BadMessage; 8] = [
        (Op::Publish, b"{not json".to_vec(), &[], 400, "invalid_json"),
        (Op::Publish, b"".to_vec(), &[], 400, "invalid_json"),
        (
            Op::Publish,
            b"\"\xff\xfe\"".to_vec(),
            &[],
            400,
            "invalid_json",
        ),
        (Op::Publish, b"1 2".to_vec(), &[], 400, "invalid_json"),
        (
            Op::Publish,
            b"{}".to_vec(),
            &[("meta", "[1]")],
            400,
            "invalid_meta",
        ),
        (
            Op::Publish,
            b"{}".to_vec(),
            &[("meta", "{oops")],
            400,
            "invalid_meta",
        ),
        (
            Op::Publish,
            too_big.clone().into_bytes(),
            &[],
            413,
            "too_large",
        ),
        (
            Op::Signal,
            format!("\"{}\"", "s".repeat(63)).into_bytes(),
            &[],
            413,
            "too_large",
        ),
    ];
    for (op, body, query, status, code) in cases {
        let answer = node.post_message(op, "strict", body, query).await;
        answer.error(status, code);
    }
    // Payload plus meta count against the limit.
    let half = format!("\"{}\"", "x".repeat(20 * 1024));
    let meta = format!("{{\"m\":\"{}\"}}", "y".repeat(20 * 1024));
    let answer = node
        .post_message(Op::Publish, "strict", half, &[("meta", meta.as_str())])
        .await;
    let error = answer.error(413, "too_large");
    assert_eq!(error["limit"], 32 * 1024, "{error}");

    node.publish("strict", &json!({"marker": true})).await;
    assert_eq!(
        sse.next_message().await["message"]["marker"],
        true,
        "a refused message was delivered"
    );
    assert_eq!(
        node.history("strict", "").await.len(),
        1,
        "a refused message was stored"
    );
}

#[tokio::test]
async fn malformed_query_and_upload_errors_are_json_too() {
    // The API's errors are JSON with a stable `code`; that holds for
    // requests refused before reaching a handler (query strings and uploads
    // that do not parse) as well.
    let node = Node::start().await;
    node.get("/v1/history/a?limit=many")
        .await
        .error(400, "invalid_query");
    let url = node.url("/v1/admin/functions/x");
    let answer = node
        .send(
            node.http()
                .put(&url)
                .bearer_auth(node.admin_key())
                .body("not multipart"),
        )
        .await;
    answer.error(400, "invalid_upload");
}

#[tokio::test]
async fn an_oversized_body_is_413_and_the_connection_stays_usable() {
    // A body over the HTTP limit (64 KiB) is refused before it is read
    // whole. The server must then either keep the connection usable or say
    // `connection: close`; otherwise a keep-alive client's next request on
    // that connection fails (seen as a broken pipe by reqwest).
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let node = Node::start().await;
    let mut stream = tokio::net::TcpStream::connect(node.authority())
        .await
        .unwrap();
    let body = vec![b' '; 64 * 1024 + 1];
    let head = format!(
        "POST /v1/publish/big HTTP/1.1\r\nhost: {}\r\ncontent-length: {}\r\n\r\n",
        node.authority(),
        200 * 1024
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&body).await.unwrap();
    let first = read_response(&mut stream).await;
    assert!(first.starts_with("HTTP/1.1 413"), "{first}");
    assert!(first.contains("too_large"), "{first}");
    if first.to_ascii_lowercase().contains("connection: close") {
        return;
    }
    let next = format!(
        "GET /healthz HTTP/1.1\r\nhost: {}\r\n\r\n",
        node.authority()
    );
    let _ = stream.write_all(next.as_bytes()).await;
    let mut rest = Vec::new();
    let _ = wait::within(
        "the next answer on the connection",
        wait::TIMEOUT,
        stream.read_to_end(&mut rest),
    )
    .await;
    let rest = String::from_utf8_lossy(&rest);
    assert!(
        rest.starts_with("HTTP/1.1 200"),
        "the 413 did not say `connection: close`, yet the connection was closed:\n{first}\nthen: {rest:?}"
    );
}

/// Reads one HTTP/1.1 response with a content-length from `stream`.
async fn read_response(stream: &mut tokio::net::TcpStream) -> String {
    use tokio::io::AsyncReadExt;
    let mut seen = Vec::new();
    let mut chunk = [0u8; 4096];
    wait::within("a response", wait::TIMEOUT, async {
        loop {
            let text = String::from_utf8_lossy(&seen).into_owned();
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let length = head.lines().find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse::<usize>().unwrap())
                });
                if body.len() >= length.unwrap_or(0) {
                    return text;
                }
            }
            let n = stream
                .read(&mut chunk)
                .await
                .expect("cannot read the response");
            assert!(n > 0, "the connection closed mid-response: {text}");
            seen.extend_from_slice(&chunk[..n]);
        }
    })
    .await
}
