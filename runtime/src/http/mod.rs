//! The HTTP API: the native publish/subscribe API under `/v1/`, the admin
//! API under `/v1/admin/`, endpoint functions under `/v1/fn/`, `/healthz`
//! and `/metrics`.
//!
//! # Layout
//! - [`publish`], [`subscribe`] (SSE), [`ws`] (WebSocket), [`history`]: the
//!   native API, with [`replay`] joining history and live feeds;
//! - [`admin`]: deploy, list, show, remove, logs; tokens; KV;
//! - [`auth`]: access checks and token watches;
//! - [`endpoint`]: HTTP endpoint functions;
//! - [`error`]: JSON error answers, [`extract`]: extractors that answer with them;
//! - [`server`]: the accept loop and per-connection limits, [`event_stream`]:
//!   SSE connections served without hyper's buffers, [`linger`]: draining
//!   connections closed while their client still sends, [`starting`]: answers
//!   while the node starts;
//! - [`limits`]: publish rate limits.

pub mod admin;
pub mod auth;
pub mod endpoint;
pub mod error;
pub mod event_stream;
pub mod extract;
pub mod history;
pub mod limits;
pub mod linger;
pub mod publish;
pub mod replay;
pub mod server;
pub mod starting;
pub mod subscribe;
pub mod ws;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{MethodRouter, any, get, post};
use axum::{Extension, Json, Router};
use serde_json::json;
use tokio::net::TcpListener;
use tower_http::decompression::RequestDecompressionLayer;
use tower_http::timeout::RequestBodyTimeoutLayer;

use self::error::ApiError;
use crate::bus::{MessageKind, Timetoken};
use crate::node::Node;

/// `POST` to [`publish::publish`], sending messages of `kind`.
fn publish_route(kind: MessageKind) -> MethodRouter<Arc<Node>> {
    post(publish::publish).layer(Extension(kind))
}

/// The API's routes.
pub fn router(node: Arc<Node>) -> Router {
    let admin = admin::router(&node);
    let body_timeout = Duration::from_secs(node.config.http.body_timeout_secs.max(1));
    Router::new()
        .route("/v1/publish/{channel}", publish_route(MessageKind::Publish))
        .route("/v1/fire/{channel}", publish_route(MessageKind::Fire))
        .route("/v1/signal/{channel}", publish_route(MessageKind::Signal))
        .route("/v1/subscribe/{channels}", get(subscribe::subscribe))
        .route("/v1/ws", get(ws::upgrade))
        .route("/v1/history/{channel}", get(history::history))
        .route("/v1/fn/{name}", any(endpoint::call))
        .route("/v1/fn/{name}/{*rest}", any(endpoint::call))
        .nest("/v1/admin", admin)
        .merge(crate::pubnub::router())
        .route("/healthz", get(health))
        .route("/metrics", get(metrics))
        .fallback(|| async { ApiError::not_found("no such endpoint; see the README for the API") })
        // PubNub's SDKs compress POST bodies (deflate, gzip); body limits
        // apply to the decompressed bytes.
        .layer(RequestDecompressionLayer::new())
        // A client that stops sending mid-body is cut off, not waited for.
        .layer(RequestBodyTimeoutLayer::new(body_timeout))
        .with_state(node)
}

/// Serves the API on `listener` until `shutdown` resolves, then lets
/// in-flight requests finish within the configured grace period.
///
/// # Errors
/// When the listener fails.
pub async fn serve(
    node: Arc<Node>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let config = node.config.http.clone();
    server::serve(router(node), listener, &config, shutdown).await
}

/// A header's value, if it is present and text.
pub fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// Parses an optional timetoken parameter.
///
/// # Errors
/// 400 `invalid_timetoken`.
pub fn timetoken(text: Option<String>) -> Result<Option<Timetoken>, ApiError> {
    text.map(|t| t.parse::<Timetoken>())
        .transpose()
        .map_err(|e| ApiError::bad_request("invalid_timetoken", e.to_string()))
}

/// Reads a request body of at most `limit` bytes.
///
/// # Errors
/// 413 when it is longer, 400 when it cannot be read.
pub async fn read_body(body: Body, limit: usize) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        let too_long = std::error::Error::source(&e)
            .is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
        if too_long {
            ApiError::too_large(format!("the request body is larger than {limit} bytes")).closing()
        } else {
            ApiError::bad_request(
                "invalid_body",
                format!("the request body could not be read: {e}"),
            )
            .closing()
        }
    })
}

/// `GET /healthz`: 200 `ok`, or 503 `degraded` while a cluster node cannot
/// reach NATS (its publishes fail fast meanwhile).
async fn health(State(node): State<Arc<Node>>) -> impl IntoResponse {
    let (status, code) = if node.healthy() {
        ("ok", StatusCode::OK)
    } else {
        ("degraded", StatusCode::SERVICE_UNAVAILABLE)
    };
    let body = Json(json!({
        "status": status,
        "cluster": node.cluster.is_some(),
        "functions": node.functions.snapshot().iter().count(),
        "subscribers": node.bus.subscriber_count(),
    }));
    (code, body)
}

async fn metrics(State(node): State<Arc<Node>>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        node.metrics.encode(),
    )
}
