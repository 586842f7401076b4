//! Deployments are the cluster's: a function deployed through one node
//! answers on another within a few seconds; a redeploy (another component,
//! another config) and a removal made through a third node are seen there
//! too.

use std::time::Duration;

use edgefn_e2e::wait::eventually;
use edgefn_e2e::*;
use reqwest::Method;

use super::cluster;

/// How long a deployment change may take to reach another node.
const SPREAD: Duration = Duration::from_secs(5);

#[tokio::test]
async fn deploy_redeploy_and_remove_reach_every_node() {
    let (_nats, nodes) = cluster("").await;
    let (a, b, c) = (&nodes[0], &nodes[1], &nodes[2]);

    let deployed = a
        .deploy_ok("hello", "hello", &json!({"endpoint": true}))
        .await;
    assert_eq!(deployed["version"], 1, "{deployed}");
    let greeting = eventually("hello, deployed on A, to answer on C", SPREAD, || async {
        let answer = c.get("/v1/fn/hello/greet?who=c").await;
        (answer.status == 200).then_some(answer.body)
    })
    .await;
    assert_eq!(greeting["greeting"], "hello from edgefn", "{greeting}");
    assert_eq!(greeting["path"], "/greet", "{greeting}");
    assert_eq!(greeting["query"], json!({"who": "c"}), "{greeting}");
    assert_eq!(c.show("hello").await["version"], 1);

    // Redeployed through B as another component with a config: a new
    // version on every node.
    let spec = json!({"endpoint": true, "config": {"VERSION": "two"}});
    let deployed = b.deploy_ok("hello", "stamp-b", &spec).await;
    assert_eq!(
        deployed["version"], 2,
        "B did not know of the version deployed through A: {deployed}"
    );
    for (name, node) in [("A", a), ("C", c)] {
        let what = format!("the redeploy through B to answer on {name}");
        let identity = eventually(&what, SPREAD, || async {
            let answer = node.get("/v1/fn/hello/who").await;
            (answer.status == 200 && answer.body["build"] == "b").then_some(answer.body)
        })
        .await;
        assert_eq!(identity, json!({"build": "b", "config": "two"}));
        assert_eq!(node.show("hello").await["version"], 2, "on {name}");
    }

    // Removed through B: gone everywhere.
    b.admin(Method::DELETE, "/functions/hello").await.ok();
    for (name, node) in [("A", a), ("C", c)] {
        let what = format!("the removal through B to reach {name}");
        eventually(&what, SPREAD, || async {
            let answer = node.get("/v1/fn/hello/who").await;
            (answer.status == 404).then_some(())
        })
        .await;
        let shown = node.admin(Method::GET, "/functions/hello").await;
        assert_eq!(shown.status, 404, "still listed on {name}: {}", shown.body);
        let list = node.admin(Method::GET, "/functions").await;
        assert_eq!(list.ok()["functions"], json!([]), "still listed on {name}");
    }
}

#[tokio::test]
async fn a_javascript_deploy_runs_on_every_node_from_one_snapshot() {
    let (_nats, nodes) = cluster("").await;
    let (a, c) = (&nodes[0], &nodes[2]);
    // The module's top-level code runs once, on A: the snapshot carries its
    // result to the others.
    let source = "const loaded = Math.random();\n\
                  export default (request, response) => response.send({ loaded, path: request.path });";
    let deployed = a
        .deploy_js_ok("js-hello", source, &json!({"endpoint": true}))
        .await;
    assert_eq!(deployed["source"]["language"], "javascript", "{deployed}");
    let on_a = a.get("/v1/fn/js-hello/x").await.ok().clone();
    let on_c = eventually(
        "the JavaScript function, deployed on A, to answer on C",
        SPREAD,
        || async {
            let answer = c.get("/v1/fn/js-hello/x").await;
            (answer.status == 200).then_some(answer.body)
        },
    )
    .await;
    assert_eq!(on_c, on_a);
    assert_eq!(on_c["path"], "/x");
}
