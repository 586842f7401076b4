//! `/v1/blocks/sub-key/{sub}/{name}/{path...}`: On Request functions at
//! PubNub's address. `{name}` is the endpoint function (as deployed with
//! `--endpoint`); it sees the rest of the path, the query, headers and body,
//! exactly as at `/v1/fn/{name}/{path...}`.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};

use super::request::check_subscribe_key;
use crate::http::endpoint;
use crate::http::extract::Path;
use crate::node::Node;

/// `/v1/blocks/sub-key/{sub}/{*path}`.
pub async fn call(
    State(node): State<Arc<Node>>,
    Path((sub_key, path)): Path<(String, String)>,
    request: Request,
) -> Response {
    if let Err(e) = check_subscribe_key(&node, &sub_key) {
        return e.into_response();
    }
    let (name, rest) = path.split_once('/').unwrap_or((&path, ""));
    match endpoint::invoke(&node, name, rest, request).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}
