//! HTTP endpoint functions at `/v1/fn/{name}/{path}`: `hello` echoes method,
//! path and query; any method, headers, query and body pass through both
//! ways; one component may serve several triggers, bound as deployed.

use edgefn_e2e::*;

#[tokio::test]
async fn hello_echoes_method_path_and_query() {
    let node = Node::start().await;
    node.deploy_ok("hello", "hello", &json!({"endpoint": true}))
        .await;

    let answer = node
        .get("/v1/fn/hello/some/deep/path?a=1&b=x%20y&b=last")
        .await;
    let body = answer.ok();
    assert_eq!(body["greeting"], "hello from edgefn");
    assert_eq!(body["method"], "GET");
    assert_eq!(body["path"], "/some/deep/path");
    assert_eq!(body["query"], json!({"a": "1", "b": "last"}));
    assert_eq!(body["body_length"], 0);
    assert!(
        answer.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );

    let answer = node
        .send(node.http().post(node.url("/v1/fn/hello")).body("12345"))
        .await;
    let body = answer.ok();
    assert_eq!(body["method"], "POST");
    assert_eq!(body["path"], "/");
    assert_eq!(body["query"], json!({}));
    assert_eq!(body["body_length"], 5);
}

#[tokio::test]
async fn headers_body_and_status_pass_through() {
    let node = Node::start().await;
    node.deploy_ok("echo", "echo", &json!({"endpoint": true}))
        .await;
    let body = "line one\nline two: ünïcode";
    let request = node
        .http()
        .put(node.url("/v1/fn/echo/x/y?status=201&k=v%2Fw"))
        .header("x-custom", "forty-two")
        .header("content-type", "text/plain; charset=utf-8")
        .body(body);
    let answer = node.send(request).await;
    assert_eq!(
        answer.status, 201,
        "the guest's status was not passed back: {}",
        answer.body
    );
    assert_eq!(
        answer.headers["x-echo"], "yes",
        "the guest's header was not passed back"
    );
    let seen = &answer.body;
    assert_eq!(seen["method"], "PUT");
    assert_eq!(seen["path"], "/x/y");
    assert_eq!(seen["query"], "status=201&k=v%2Fw");
    assert_eq!(seen["body"], body);
    let headers = seen["headers"].as_array().unwrap();
    for (name, value) in [
        ("x-custom", "forty-two"),
        ("content-type", "text/plain; charset=utf-8"),
    ] {
        assert!(
            headers.contains(&json!([name, value])),
            "header {name} not passed through: {headers:?}"
        );
    }

    for method in ["DELETE", "PATCH", "OPTIONS"] {
        let request = node
            .http()
            .request(method.parse().unwrap(), node.url("/v1/fn/echo/m"));
        assert_eq!(node.send(request).await.ok()["method"], method);
    }
}

#[tokio::test]
async fn only_endpoint_functions_answer_http() {
    let node = Node::start().await;
    node.deploy_ok(
        "moderate",
        "moderate",
        &json!({"before_publish": ["chat.*"]}),
    )
    .await;
    let answer = node.get("/v1/fn/moderate/x").await;
    assert!(
        answer.message(404, "not_found").contains("moderate"),
        "{}",
        answer.body
    );
    node.get("/v1/fn/nobody").await.error(404, "not_found");
    node.get("/v1/fn/nobody/at/all?q=1")
        .await
        .error(404, "not_found");
}

#[tokio::test]
async fn one_component_serves_the_triggers_it_is_bound_to() {
    let node = Node::start().await;
    // stamp-a exports before-publish and the HTTP handler.
    let both = node
        .deploy_ok(
            "stamp",
            "stamp-a",
            &json!({"before_publish": ["multi.*"], "endpoint": true, "config": {"VERSION": "1"}}),
        )
        .await;
    assert_eq!(
        node.show("stamp").await["exports"],
        json!(["before-publish", "http"])
    );
    assert_eq!(both["version"], 1);
    assert_eq!(node.get("/v1/fn/stamp/who").await.ok()["build"], "a");
    node.publish("multi.x", &json!({})).await;
    let stamped = node.history("multi.x", "").await;
    assert_eq!(
        stamped[0]["message"]["stamps"],
        json!([{"build": "a", "config": "1", "calls": 1}])
    );

    // Bound as an endpoint only: its hook no longer runs.
    node.deploy_ok(
        "stamp",
        "stamp-a",
        &json!({"endpoint": true, "config": {"VERSION": "2"}}),
    )
    .await;
    assert_eq!(node.get("/v1/fn/stamp/who").await.ok()["config"], "2");
    node.publish("multi.x", &json!({"plain": true})).await;
    assert_eq!(
        node.history("multi.x", "limit=1").await[0]["message"],
        json!({"plain": true})
    );
}
