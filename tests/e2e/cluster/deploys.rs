//! Deployments are the cluster's: a function deployed through one node
//! answers on another within a few seconds; a redeploy (another component,
//! another config) and a removal made through a third node are seen there
//! too. A node still fetching another node's component deploys and removes
//! its own functions meanwhile, and a change made here meanwhile is not
//! overwritten by the older record once that fetch ends.

use std::time::Duration;

use async_nats::jetstream;
use edgefn_e2e::paths::guest_bytes;
use edgefn_e2e::wait::{eventually, within};
use edgefn_e2e::*;
use futures::StreamExt;
use reqwest::Method;
use sha2::{Digest, Sha256};

use super::{NODES, cluster};

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
        let logs = node.admin(Method::GET, "/functions/hello/logs").await;
        assert_eq!(logs.status, 404, "its log kept on {name}: {}", logs.body);
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

/// The object store of components, as the nodes name it.
const COMPONENTS: &str = "edgefn_components";

#[tokio::test]
async fn a_remote_deploy_still_fetching_holds_up_no_local_change_and_loses_to_it() {
    let (nats, nodes) = cluster("").await;
    let (a, b) = (&nodes[0], &nodes[1]);
    let js = jetstream::new(async_nats::connect(nats.url()).await.expect("NATS answers"));

    // A record as another node writes it, copied from a real deploy.
    a.deploy_ok("template", "hello", &json!({"endpoint": true}))
        .await;
    b.deploy_ok("doomed", "hello", &json!({"endpoint": true}))
        .await;
    let records = js
        .get_key_value("edgefn_deployments")
        .await
        .expect("the deployments bucket");
    let template = records
        .get("template")
        .await
        .expect("get")
        .expect("the template's record");
    let mut record: Value = serde_json::from_slice(&template).unwrap();

    // Its component is stored with its chunk withheld: every node that
    // fetches it waits for the chunk until the test publishes it.
    let bytes = guest_bytes("stamp-b");
    let hash = hex::encode(Sha256::digest(&bytes));
    let components = js
        .get_object_store(COMPONENTS)
        .await
        .expect("the components store");
    let info = components
        .put(hash.as_str(), &mut bytes.as_slice())
        .await
        .expect("component stored");
    let chunks = format!("$O.{COMPONENTS}.C.{}", info.nuid);
    let stream = js
        .get_stream(format!("OBJ_{COMPONENTS}"))
        .await
        .expect("the components stream");
    stream
        .purge()
        .filter(chunks.as_str())
        .await
        .expect("chunk purged");

    record["spec"]["name"] = json!("slow");
    record["component"] = json!(hash);
    record["version"] = json!(1);
    record["deployed_at_ms"] = json!(1_000);
    records
        .put("slow", serde_json::to_vec(&record).unwrap().into())
        .await
        .expect("record written");
    eventually(
        "every node to be fetching the withheld component",
        SPREAD,
        || {
            let (stream, chunks) = (stream.clone(), chunks.clone());
            async move {
                let fetching = stream
                    .consumers()
                    .filter(|c| {
                        let on_chunks = c.as_ref().is_ok_and(|c| {
                            c.config.filter_subject == chunks
                                || c.config.filter_subjects.contains(&chunks)
                        });
                        std::future::ready(on_chunks)
                    })
                    .count()
                    .await;
                (fetching >= NODES).then_some(())
            }
        },
    )
    .await;

    // B deploys the same name and removes another function while its
    // remote apply waits.
    let deployed = within(
        "a local deploy during a remote apply",
        SPREAD,
        b.deploy_ok("slow", "stamp-a", &json!({"endpoint": true})),
    )
    .await;
    assert_eq!(deployed["version"], 1, "{deployed}");
    let removed = within(
        "a local removal during a remote apply",
        SPREAD,
        b.admin(Method::DELETE, "/functions/doomed"),
    )
    .await;
    removed.ok();
    assert_eq!(b.get("/v1/fn/slow/who").await.ok()["build"], "a");
    // B runs its deploy already compiled; its component's chunk is now
    // withheld too, so B would hang if it let the older record replace its
    // deploy and then had to install its own record again.
    let own = hex::encode(Sha256::digest(guest_bytes("stamp-a")));
    let own = components.info(&own).await.expect("B's component stored");
    let own_chunks = format!("$O.{COMPONENTS}.C.{}", own.nuid);
    stream
        .purge()
        .filter(own_chunks.as_str())
        .await
        .expect("chunk purged");

    // The chunk arrives; the older remote record must not replace B's.
    js.publish(chunks, bytes.into())
        .await
        .expect("chunk sent")
        .await
        .expect("chunk stored");
    // Deployment changes apply in order: once a later one is live on B,
    // the withheld one has been dealt with.
    a.deploy_ok("marker", "hello", &json!({"endpoint": true}))
        .await;
    eventually(
        "the change after the withheld one to reach B",
        SPREAD,
        || async { (b.get("/v1/fn/marker/x").await.status == 200).then_some(()) },
    )
    .await;
    let shown = b.show("slow").await;
    assert_eq!(
        shown["deployed_at_ms"], deployed["deployed_at_ms"],
        "{shown}"
    );
    assert_eq!(b.get("/v1/fn/slow/who").await.ok()["build"], "a");
}
