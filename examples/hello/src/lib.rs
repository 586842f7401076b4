//! An HTTP endpoint function (served at `/v1/fn/hello/...`) that answers
//! with a greeting and what it saw of the request:
//!
//! ```json
//! {"greeting": "hello from edgefn", "method": "GET", "path": "/x", "query": {"a": "1"}, "body_length": 0}
//! ```

use edgefn_sdk::endpoint;
use edgefn_sdk::http::{Request, Response};
use edgefn_sdk::serde_json::{Map, Value, json};

#[endpoint]
fn hello(req: Request) -> Response {
    // A repeated query parameter keeps its last value.
    let query: Map<String, Value> = req
        .query_pairs()
        .into_iter()
        .map(|(k, v)| (k, v.into()))
        .collect();
    Response::json(
        200,
        &json!({
            "greeting": "hello from edgefn",
            "method": req.method,
            "path": req.path,
            "query": query,
            "body_length": req.body.len(),
        }),
    )
}
