//! The admin API under `/v1/admin/`: the admin key (missing or wrong: 401
//! with a JSON error), deploy, list, show, remove and logs, and `/healthz`.

use edgefn_e2e::paths::guest_bytes;
use edgefn_e2e::*;
use reqwest::Method;

#[tokio::test]
async fn missing_or_wrong_admin_key_is_401() {
    let node = Node::start().await;
    node.deploy_ok("hello", "hello", &json!({"endpoint": true}))
        .await;
    let routes = [
        (Method::GET, "/v1/admin/functions"),
        (Method::GET, "/v1/admin/functions/hello"),
        (Method::PUT, "/v1/admin/functions/hello"),
        (Method::DELETE, "/v1/admin/functions/hello"),
        (Method::GET, "/v1/admin/functions/hello/logs"),
        (Method::GET, "/v1/admin/functions/nope"),
    ];
    for (method, path) in routes {
        let request = || node.http().request(method.clone(), node.url(path));
        let missing = node.send(request()).await;
        let message = missing.message(401, "unauthorized");
        assert!(message.contains("missing"), "{method} {path}: {message}");

        for wrong in [
            request().bearer_auth("wrong-key"),
            request().header("x-edgefn-admin-key", "wrong-key"),
            request().header("authorization", node.admin_key()),
        ] {
            let answer = node.send(wrong).await;
            answer.error(401, "unauthorized");
            assert!(
                !answer.body.to_string().contains("wrong-key"),
                "the presented key was echoed: {}",
                answer.body
            );
        }
    }
    // Nothing was removed by the refused DELETEs; the other header works too.
    let answer = node
        .send(
            node.http()
                .get(node.url("/v1/admin/functions/hello"))
                .header("x-edgefn-admin-key", node.admin_key()),
        )
        .await;
    assert_eq!(answer.ok()["version"], 1);
}

#[tokio::test]
async fn deploy_list_show_redeploy_remove() {
    let node = Node::start().await;
    let spec =
        json!({"before_publish": ["chat.*"], "config": {"banned_words": "spam"}, "timeout_ms": 80});
    let deployed = node.deploy_ok("moderate", "moderate", &spec).await;
    assert_eq!(deployed["version"], 1);
    assert_eq!(deployed["spec"]["before_publish"], json!(["chat.*"]));
    assert_eq!(deployed["spec"]["timeout_ms"], 80);
    let component = deployed["component"].as_str().expect("a component hash");
    assert!(
        component.len() == 64 && component.bytes().all(|b| b.is_ascii_hexdigit()),
        "not a sha256: {component}"
    );
    node.deploy_ok("hello", "hello", &json!({"endpoint": true}))
        .await;

    let list = node.admin(Method::GET, "/functions").await;
    let names: Vec<_> = list.ok()["functions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["spec"]["name"].clone())
        .collect();
    assert_eq!(names, [json!("hello"), json!("moderate")]);
    let shown = node.show("moderate").await;
    assert_eq!(shown["exports"], json!(["before-publish"]));
    assert_eq!(shown["spec"]["config"], json!({"banned_words": "spam"}));
    assert_eq!(node.show("hello").await["exports"], json!(["http"]));
    let health = node.get("/healthz").await;
    assert_eq!(health.ok()["functions"], 2);

    // The same spec and component again changes nothing; a new spec is version 2.
    assert_eq!(
        node.deploy_ok("moderate", "moderate", &spec).await["version"],
        1
    );
    let spec2 = json!({"before_publish": ["chat.*"], "config": {"banned_words": "spam,eggs"}});
    assert_eq!(
        node.deploy_ok("moderate", "moderate", &spec2).await["version"],
        2
    );
    node.post_message(Op::Publish, "chat.a", r#"{"text":"eggs"}"#, &[])
        .await
        .error(403, "rejected");

    let removed = node.admin(Method::DELETE, "/functions/moderate").await;
    assert_eq!(removed.ok()["removed"], "moderate");
    node.admin(Method::GET, "/functions/moderate")
        .await
        .error(404, "not_found");
    node.admin(Method::DELETE, "/functions/moderate")
        .await
        .error(404, "not_found");
    node.publish("chat.a", &json!({"text": "eggs"})).await;
    let list = node.admin(Method::GET, "/functions").await;
    assert_eq!(list.ok()["functions"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn deploy_answers_once_the_function_is_live() {
    let node = Node::start().await;
    // The spec's name may be given; it must then match the URL's.
    let spec = json!({"name": "hello", "endpoint": true});
    node.deploy_bytes("hello", &spec, guest_bytes("hello"))
        .await
        .ok();
    // Live as soon as the deploy answered: no waiting.
    assert_eq!(node.get("/v1/fn/hello/now").await.ok()["path"], "/now");
}

#[tokio::test]
async fn logs_capture_guest_output_and_host_errors() {
    let node = Node::start().await;
    node.deploy_ok("boom", "panic", &json!({"before_publish": ["trap"]}))
        .await;
    node.post_message(Op::Publish, "trap", "{}", &[])
        .await
        .error(502, "function_error");
    let lines = node.logs("boom").await;
    let texts: Vec<&str> = lines.iter().filter_map(|l| l["text"].as_str()).collect();
    assert!(
        lines.iter().any(
            |l| l["source"] == "stderr" && l["text"].as_str().unwrap().contains("boom on trap")
        ),
        "guest stderr not captured: {texts:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l["source"] == "host" && l["text"].as_str().unwrap().contains("`boom`")),
        "host error not logged: {texts:?}"
    );
    for line in &lines {
        assert!(
            line["invocation"].is_u64() && line["time_ms"].is_u64(),
            "log line fields: {line}"
        );
    }
    let limited = node
        .admin(Method::GET, "/functions/boom/logs?limit=1")
        .await;
    assert_eq!(limited.ok()["lines"].as_array().unwrap().len(), 1);
}
