//! `/v1/fn/{name}/{path...}`: HTTP endpoint functions. Any method; headers,
//! query and body are passed through, the path as `/{path...}`.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use http_body_util::{BodyExt, Full};

use super::error::ApiError;
use super::extract::Path;
use crate::node::Node;

/// `/v1/fn/{name}` and `/v1/fn/{name}/{*rest}`.
pub async fn call(
    State(node): State<Arc<Node>>,
    Path(params): Path<Vec<(String, String)>>,
    request: Request,
) -> Result<Response, ApiError> {
    let name = params.first().map(|(_, v)| v.as_str()).unwrap_or_default();
    let rest = params.get(1).map(|(_, v)| v.as_str()).unwrap_or_default();
    invoke(&node, name, rest, request).await
}

/// Hands `request` to the endpoint function `name`, with `/{rest}` as its
/// path (the query is kept).
///
/// # Errors
/// 404 when no such endpoint is deployed, 413 when the body is too large,
/// 502/504 when the function fails.
pub async fn invoke(
    node: &Node,
    name: &str,
    rest: &str,
    request: Request,
) -> Result<Response, ApiError> {
    let registry = node.functions.snapshot();
    let function = registry
        .get(name)
        .filter(|f| f.deployment.spec.endpoint)
        .ok_or_else(|| {
            ApiError::not_found(format!("no endpoint function named `{name}` is deployed"))
        })?;

    let (mut parts, body) = request.into_parts();
    let body = super::read_body(body, node.config.http.max_endpoint_body).await?;
    let path_and_query = match parts.uri.query() {
        Some(query) => format!("/{rest}?{query}"),
        None => format!("/{rest}"),
    };
    parts.uri = path_and_query.parse().map_err(|_| {
        ApiError::bad_request("invalid_path", "the request path is not a valid URI")
    })?;
    if !parts.headers.contains_key(http::header::HOST) {
        parts.headers.insert(
            http::header::HOST,
            http::HeaderValue::from_static("localhost"),
        );
    }
    let request = http::Request::from_parts(parts, Full::new(body));
    let sandbox = node.functions.sandbox();
    let timeout = function
        .deployment
        .spec
        .timeout(sandbox.config().default_timeout());
    let response = sandbox
        .endpoint(Arc::clone(&function.prepared), request, timeout)
        .await?;
    Ok(response.map(|body| Body::new(body.map_err(axum::Error::new))))
}
