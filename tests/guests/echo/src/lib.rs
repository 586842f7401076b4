//! An HTTP endpoint that answers with everything it saw of the request:
//! method, path, raw query, headers (in order) and body (as text), with the
//! status given by the `status` query parameter (default 200) and an
//! `x-echo: yes` header.

use edgefn_sdk::endpoint;
use edgefn_sdk::http::{Request, Response};
use edgefn_sdk::serde_json::json;

#[endpoint]
fn echo(req: Request) -> Response {
    let status = req
        .query_param("status")
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    let headers: Vec<_> = req.headers.iter().map(|(k, v)| json!([k, v])).collect();
    let body = json!({
        "method": req.method,
        "path": req.path,
        "query": req.query,
        "headers": headers,
        "body": String::from_utf8_lossy(&req.body),
    });
    Response::json(status, &body).with_header("x-echo", "yes")
}
