//! Answers while the node starts. The listener is bound first; until the
//! node is ready (in a cluster, until NATS answers, however long that
//! takes) every request gets 503 `starting` saying why, and `/healthz`
//! says `starting`, so clients and health checks learn what is going on
//! instead of hanging in the listen backlog.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use tokio::net::TcpListener;

use super::error::ApiError;
use super::server;
use crate::config::HttpConfig;

/// What a client is told to wait before trying again.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// Runs `start` to its end while answering on `listener` that the node is
/// starting (`reason` says on what it waits); returns what `start` returned.
pub async fn answer_while<T>(
    listener: &TcpListener,
    config: &HttpConfig,
    reason: &str,
    start: impl Future<Output = T>,
) -> T {
    let mut started = None;
    let done = async { started = Some(start.await) };
    // Dropping the handle lets each connection answer and close.
    drop(server::accept(router(reason), listener, config, done).await);
    started.expect("accepting stops only once the start is done")
}

/// 503 `starting` for every request; `/healthz` says `starting`.
fn router(reason: &str) -> Router {
    let reason: Arc<str> = reason.into();
    let health = {
        let reason = Arc::clone(&reason);
        move || async move {
            let body = json!({ "status": "starting", "reason": &*reason });
            (StatusCode::SERVICE_UNAVAILABLE, Json(body))
        }
    };
    let starting = move || async move {
        let message = format!("the node is starting ({reason}); try again shortly");
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "starting", message)
            .retry_after(RETRY_AFTER)
            .closing()
    };
    Router::new()
        .route("/healthz", get(health))
        .fallback(starting)
}
