//! Outbound HTTP abuse: a flood past the per-invocation budget, a server
//! that accepts and never answers, and destinations that are loopback,
//! private, link-local, otherwise special-purpose (IANA), embedded in an
//! IPv6 translation address, or names resolving to them — refused unless the
//! allow-list names that exact address; and paths that only look as if they
//! were under a rule's path.

use std::time::{Duration, Instant};

use edgefn_e2e::*;
use tokio::net::TcpListener;

use super::while_good;

/// A TCP server that accepts connections and never answers (nor closes
/// them) until dropped.
struct Silent {
    port: u16,
    task: tokio::task::JoinHandle<()>,
}

impl Silent {
    async fn start() -> Silent {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let task = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((stream, _)) = listener.accept().await {
                held.push(stream);
            }
        });
        Silent { port, task }
    }
}

impl Drop for Silent {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The `hostile` endpoint `name`'s report for one call (with `?url=`).
async fn report(node: &Node, name: &str, url: Option<&str>) -> Value {
    let mut request = node.http().get(node.url(&format!("/v1/fn/{name}/go")));
    if let Some(url) = url {
        request = request.query(&[("url", url)]);
    }
    node.send(request).await.ok()["report"].clone()
}

#[tokio::test]
async fn an_outbound_flood_stops_at_the_budget() {
    let node = Node::start().await;
    node.deploy_good().await;
    let recorder = Recorder::start().await;
    let spec = json!({"endpoint": true, "allow_outbound": [recorder.url("")]});
    let config = json!({"url": recorder.url("/flood"), "count": "200"});
    node.deploy_hostile("flood", "http-flood", spec, config)
        .await;
    let denied = node.metric("edgefn_outbound_http_denied_total", &[]).await;
    let report = while_good(&node, report(&node, "flood", None)).await;
    assert_eq!(report["ok"], 5, "{report}");
    assert_eq!(report["refused"], 195, "{report}");
    assert!(
        report["first_error"]
            .as_str()
            .unwrap()
            .contains("outbound HTTP budget exhausted: at most 5 calls per invocation"),
        "{report}"
    );
    assert_eq!(
        recorder.all().len(),
        5,
        "requests past the budget were sent"
    );
    assert_eq!(
        node.metric("edgefn_outbound_http_denied_total", &[]).await - denied,
        195.0
    );
    node.wait_for_log("flood", &["outbound HTTP budget exhausted"], wait::TIMEOUT)
        .await;
}

#[tokio::test]
async fn a_server_that_never_answers_times_out() {
    // The node's first-byte timeout (300 ms here) ends the request inside
    // the guest, which sees the error; a function deadline shorter than
    // that cuts the whole invocation off instead.
    let node = Node::start_with_config("[wasm.outbound]\nfirst_byte_timeout_ms = 300\n").await;
    node.deploy_good().await;
    let silent = Silent::start().await;
    let origin = format!("http://127.0.0.1:{}", silent.port);
    let url = format!("{origin}/never");
    node.deploy_hostile(
        "hang",
        "http",
        json!({"endpoint": true, "allow_outbound": [origin]}),
        json!({"url": url}),
    )
    .await;
    node.deploy_hostile(
        "hang-short",
        "http",
        json!({"endpoint": true, "allow_outbound": [origin], "timeout_ms": 200}),
        json!({"url": url}),
    )
    .await;
    node.deploy_hostile(
        "hang-ap",
        "http",
        json!({"after_publish": ["hostile.hang"], "allow_outbound": [origin]}),
        json!({"url": url}),
    )
    .await;
    while_good(&node, async {
        let started = Instant::now();
        let report = report(&node, "hang", None).await;
        let took = started.elapsed();
        assert_eq!(
            report["error"], "HTTP request failed: timed out reading from the connection",
            "{report}"
        );
        assert!(
            took < Duration::from_millis(900),
            "timed out after {took:?}"
        );

        let started = Instant::now();
        let answer = node.get("/v1/fn/hang-short/go").await;
        let error = answer.error(504, "function_timeout");
        assert_eq!(error["function"], "hang-short");
        assert!(
            error["message"]
                .as_str()
                .unwrap()
                .contains("exceeded its deadline of 200 ms"),
            "{error}"
        );
        assert!(
            started.elapsed() < Duration::from_millis(600),
            "the deadline did not cut the pending request off: {:?}",
            started.elapsed()
        );

        node.publish("hostile.hang", &json!({"n": 1})).await;
        node.wait_for_log(
            "hang-ap",
            &["`hang-ap` failed", "timed out reading from the connection"],
            wait::TIMEOUT,
        )
        .await;
    })
    .await;
    node.wait_for_invocations("hang-short", "Endpoint", "Timeout", 1)
        .await;
    node.wait_for_invocations("hang-ap", "AfterPublish", "Error", 1)
        .await;
}

#[tokio::test]
async fn loopback_private_and_link_local_destinations_are_refused() {
    let node = Node::start().await;
    node.deploy_good().await;
    let recorder = Recorder::start().await;
    let port = recorder.port();
    // Any scheme, host and port: only the address check stands in the way.
    node.deploy_hostile(
        "anywhere",
        "http",
        json!({"endpoint": true, "allow_outbound": ["*://*:*"]}),
        json!({}),
    )
    .await;
    let prohibited = [
        format!("http://127.0.0.1:{port}/"),
        format!("http://localhost:{port}/"),
        format!("http://[::1]:{port}/"),
        format!("http://[::ffff:127.0.0.1]:{port}/"),
        format!("http://127.1:{port}/"),
        format!("http://2130706433:{port}/"),
        format!("http://0x7f000001:{port}/"),
        format!("http://0.0.0.0:{port}/"),
        "http://10.0.0.1/".to_owned(),
        "http://172.16.5.4/".to_owned(),
        "http://192.168.1.1/".to_owned(),
        "http://100.64.0.1/".to_owned(),
        "http://169.254.169.254/latest/meta-data/".to_owned(),
        "http://[fe80::1]/".to_owned(),
        "http://[fd00::1]/".to_owned(),
        // IANA special-purpose ranges, and IPv6 addresses that embed a
        // loopback or private IPv4 address (NAT64, 6to4, IPv4-compatible).
        format!("http://[64:ff9b::7f00:1]:{port}/"),
        format!("http://[64:ff9b:1::7f00:1]:{port}/"),
        format!("http://[2002:7f00:1::1]:{port}/"),
        format!("http://[::127.0.0.1]:{port}/"),
        "http://[2001::1]/".to_owned(),
        "http://192.0.0.8/".to_owned(),
        "http://198.18.0.1/".to_owned(),
    ];
    let denied = node.metric("edgefn_outbound_http_denied_total", &[]).await;
    while_good(&node, async {
        for url in &prohibited {
            let report = report(&node, "anywhere", Some(url)).await;
            assert_eq!(
                report["error"], "HTTP request failed: destination IP address prohibited",
                "{url}: {report}"
            );
        }
    })
    .await;
    assert!(
        recorder.all().is_empty(),
        "a refused request reached the server"
    );
    assert_eq!(
        node.metric("edgefn_outbound_http_denied_total", &[]).await - denied,
        prohibited.len() as f64
    );
    node.wait_for_log(
        "anywhere",
        &["denied: its address is not public", "169.254.169.254"],
        wait::TIMEOUT,
    )
    .await;

    // A host name rule does not allow the loopback address it resolves to;
    // a rule naming the exact address does, and only that address.
    node.deploy_hostile(
        "by-name",
        "http",
        json!({"endpoint": true, "allow_outbound": [format!("http://localhost:{port}")]}),
        json!({}),
    )
    .await;
    let got = report(
        &node,
        "by-name",
        Some(&format!("http://localhost:{port}/x")),
    )
    .await;
    assert_eq!(
        got["error"], "HTTP request failed: destination IP address prohibited",
        "{got}"
    );
    node.deploy_hostile(
        "by-ip",
        "http",
        json!({"endpoint": true, "allow_outbound": [recorder.url("")]}),
        json!({}),
    )
    .await;
    let got = report(&node, "by-ip", Some(&recorder.url("/ok"))).await;
    assert_eq!(got["status"], 200, "{got}");
    assert_eq!(recorder.next().await.path, "/ok");
    for url in [
        format!("http://localhost:{port}/"),
        format!("http://127.0.0.2:{port}/"),
    ] {
        let got = report(&node, "by-ip", Some(&url)).await;
        assert!(
            got["error"]
                .as_str()
                .is_some_and(|e| e.contains("denied by the host")),
            "{url}: {got}"
        );
    }
    assert_eq!(recorder.all().len(), 1);
}

#[tokio::test]
async fn a_path_rule_allows_only_paths_under_it() {
    let node = Node::start().await;
    node.deploy_good().await;
    let recorder = Recorder::start().await;
    node.deploy_hostile(
        "v1-only",
        "http",
        json!({"endpoint": true, "allow_outbound": [recorder.url("/v1")]}),
        json!({}),
    )
    .await;
    let denied = node.metric("edgefn_outbound_http_denied_total", &[]).await;
    let outside = [
        "/v1evil",
        "/v1/../admin",
        "/v1/%2e%2e/admin",
        "/v1/x/../../admin",
        "/v1%2F..%2Fadmin",
        "/v1/..%5Cadmin",
    ];
    while_good(&node, async {
        for path in outside {
            let got = report(&node, "v1-only", Some(&recorder.url(path))).await;
            assert!(
                got["error"]
                    .as_str()
                    .is_some_and(|e| e.contains("denied by the host")),
                "{path}: {got}"
            );
        }
        let got = report(&node, "v1-only", Some(&recorder.url("/v1/items/./x"))).await;
        assert_eq!(got["status"], 200, "{got}");
    })
    .await;
    assert_eq!(recorder.next().await.path, "/v1/items/./x");
    assert_eq!(
        recorder.all().len(),
        1,
        "a path outside /v1 reached the server"
    );
    assert_eq!(
        node.metric("edgefn_outbound_http_denied_total", &[]).await - denied,
        outside.len() as f64
    );
    node.wait_for_log(
        "v1-only",
        &["/v1evil", "not on this function's allow-list"],
        wait::TIMEOUT,
    )
    .await;
}
