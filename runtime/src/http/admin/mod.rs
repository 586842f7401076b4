//! The admin API under `/v1/admin/`, behind the admin key (sent as
//! `Authorization: Bearer KEY` or `X-Edgefn-Admin-Key: KEY`; missing or
//! wrong: 401). Keys are compared in constant time and never echoed.
//!
//! # Layout
//! - [`functions`]: deploy, list, show, remove, logs;
//! - [`tokens`]: grant, inspect and revoke access tokens;
//! - [`kv`]: read and write the functions' key-value store;
//! - [`cluster`]: the nodes of the cluster.

pub mod cluster;
pub mod functions;
pub mod kv;
pub mod tokens;

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use subtle::ConstantTimeEq;

use super::auth::presented_token;
use super::error::ApiError;
use super::header;
use crate::node::Node;

/// The admin routes, to nest under `/v1/admin`.
pub fn router(node: &Arc<Node>) -> Router<Arc<Node>> {
    Router::new()
        .route("/functions", get(functions::list))
        .route(
            "/functions/{name}",
            get(functions::show)
                .put(functions::deploy)
                .delete(functions::remove),
        )
        .route("/functions/{name}/logs", get(functions::logs))
        .route("/tokens", post(tokens::grant))
        .route(
            "/tokens/{token}",
            get(tokens::inspect).delete(tokens::revoke),
        )
        .route("/cluster", get(cluster::status))
        .route("/kv", get(kv::list))
        .route("/kv/{*key}", get(kv::get).put(kv::set).delete(kv::delete))
        .layer(DefaultBodyLimit::max(node.config.http.max_deploy_body))
        .route_layer(middleware::from_fn_with_state(
            Arc::clone(node),
            require_key,
        ))
}

/// Refuses requests without the admin key.
pub async fn require_key(
    State(node): State<Arc<Node>>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let headers = request.headers();
    let presented = presented_token(headers, header(headers, "x-edgefn-admin-key"));
    let unauthorized = |message| ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message);
    match presented {
        Some(key) if bool::from(key.as_bytes().ct_eq(node.admin_key.as_bytes())) => {
            Ok(next.run(request).await)
        }
        Some(_) => Err(unauthorized("the admin key is wrong")),
        None => Err(unauthorized(
            "the admin key is missing: send `Authorization: Bearer KEY`",
        )),
    }
}
