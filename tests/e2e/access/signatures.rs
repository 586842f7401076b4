//! Secret-key signatures on the PubNub API: a v2 signature covers the
//! method and the body and is taken everywhere; the legacy v1 one covers
//! neither, so it is taken only on reads sent as `GET` and, as PubNub
//! takes it (its Python SDK signs so), on `POST /publish`. On a grant or
//! another request that changes state it is refused with 403 naming why,
//! even when it is a valid v1 signature of that very path and query (a
//! captured `GET` replayed as `DELETE`).

use edgefn_e2e::signing::{Scheme, signed_query};
use edgefn_e2e::*;
use reqwest::Method;

const SECRET: &str = "sig-secret";

/// Sends `method path` signed with `scheme` over `params` and `body`.
async fn signed(
    node: &Node,
    scheme: Scheme,
    (method, path): (Method, &str),
    params: &[(&str, &str)],
    body: &str,
) -> Answer {
    let query = signed_query(scheme, SECRET, (method.as_str(), path, body), params);
    let url = node.url(&format!("{path}?{query}"));
    let request = node.http().request(method, url).body(body.to_owned());
    node.send(request).await
}

/// Asserts a PubNub-shaped 403 saying that v1 is not taken here.
#[track_caller]
fn assert_v1_refused(answer: &Answer, what: &str) {
    assert_eq!(answer.status, 403, "{what}: {}", answer.body);
    assert_eq!(answer.body["service"], "Access Manager", "{what}");
    let message = answer.body["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("v1 signature") && message.contains("v2"),
        "{what}: {message}"
    );
}

#[tokio::test]
async fn v1_signatures_only_read_and_v2_signs_everything() {
    let node = Node::start_secured(SECRET).await;
    let uuid = [("uuid", "server")];
    let publish = "/publish/demo/demo/0/sig.a/0/%22first%22";
    let answer = signed(&node, Scheme::V2, (Method::GET, publish), &uuid, "").await;
    assert_eq!(answer.status, 200, "v2 publish: {}", answer.body);

    // A v1 signature reads history ...
    let history = "/v3/history/sub-key/demo/channel/sig.a";
    let read = signed(&node, Scheme::V1, (Method::GET, history), &uuid, "").await;
    assert_eq!(read.status, 200, "v1 read: {}", read.body);
    let messages = read.body["channels"]["sig.a"].as_array().expect("messages");
    assert_eq!(messages.len(), 1, "{}", read.body);

    // ... but the same path and query signed the same way cannot delete it,
    let delete = signed(&node, Scheme::V1, (Method::DELETE, history), &uuid, "").await;
    assert_v1_refused(&delete, "v1 delete");
    // nor change a group, nor grant. (It may publish by POST, as PubNub
    // lets its Python SDK do: tests/sdk/python/test_access.py.)
    let group = "/v1/channel-registration/sub-key/demo/channel-group/sig-g";
    let add = [("add", "sig.a"), ("uuid", "server")];
    let answer = signed(&node, Scheme::V1, (Method::GET, group), &add, "").await;
    assert_v1_refused(&answer, "v1 group change");
    let heartbeat = "/v2/presence/sub-key/demo/channel/sig.a/heartbeat";
    let answer = signed(&node, Scheme::V1, (Method::GET, heartbeat), &uuid, "").await;
    assert_v1_refused(&answer, "v1 heartbeat");
    let grant = r#"{"ttl": 5, "permissions": {"resources": {"channels": {"sig.a": 1}}}}"#;
    let pam = "/v3/pam/demo/grant";
    let answer = signed(&node, Scheme::V1, (Method::POST, pam), &uuid, grant).await;
    assert_v1_refused(&answer, "v1 grant");
    let answer = signed(&node, Scheme::V2, (Method::POST, pam), &uuid, grant).await;
    assert_eq!(answer.status, 200, "v2 grant: {}", answer.body);

    let read = signed(&node, Scheme::V2, (Method::GET, history), &uuid, "").await;
    let messages = read.body["channels"]["sig.a"].as_array().expect("messages");
    assert_eq!(
        messages.len(),
        1,
        "a v1 request changed history: {}",
        read.body
    );
    assert_eq!(messages[0]["message"], "first");

    // v2 deletes.
    let delete = signed(&node, Scheme::V2, (Method::DELETE, history), &uuid, "").await;
    assert_eq!(delete.status, 200, "v2 delete: {}", delete.body);
    let read = signed(&node, Scheme::V2, (Method::GET, history), &uuid, "").await;
    assert!(
        read.body["channels"]["sig.a"]
            .as_array()
            .is_none_or(Vec::is_empty),
        "{}",
        read.body
    );
}
