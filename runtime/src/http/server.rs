//! The HTTP server: the accept loop and what each connection is held to.
//!
//! - at most `max_connections` at once; connections beyond that are closed
//!   as soon as they are accepted, and accept errors (such as running out of
//!   file descriptors) back off instead of spinning;
//! - a request head of at most `max_header_bytes`, sent within
//!   `header_timeout_secs` (which also ends idle keep-alive connections),
//!   and no pause longer than `body_timeout_secs` in a request body (a layer
//!   of the router, in `http/mod.rs`);
//! - a write may not stay blocked longer than `write_timeout_secs`, so a
//!   client that stops reading (a stalled SSE subscriber, say) is cut off
//!   rather than held open;
//! - a connection closed while its client is still sending is drained
//!   first (`linger.rs`), so the client reads the answer (a 413, say)
//!   instead of a reset;
//! - HTTP/1.1 with upgrades (WebSocket); a connection that opens an SSE
//!   stream is served without hyper's per-connection buffers
//!   (`event_stream.rs`), so an idle subscriber costs little;
//! - on shutdown: stop accepting, let in-flight requests finish for up to
//!   `shutdown_grace_secs`, then close what is left.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_io_timeout::TimeoutStream;
use tower::ServiceExt;

use super::event_stream::{self, HeadLimits};
use super::linger::LingeringClose;
use crate::config::HttpConfig;

/// Longest pause after a failed accept.
const MAX_ACCEPT_BACKOFF: Duration = Duration::from_secs(1);

/// Serves `app` on `listener` until `shutdown` resolves, then drains.
///
/// # Errors
/// Never fails once started; the result is for the caller's `?`.
pub async fn serve(
    app: Router,
    listener: TcpListener,
    config: &HttpConfig,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let open = accept(app, &listener, config, shutdown).await;
    // Closing the listener makes new connections fail at once instead of
    // waiting in the kernel's backlog until the drain ends.
    drop(listener);
    let grace = Duration::from_secs(config.shutdown_grace_secs);
    if tokio::time::timeout(grace, open.shutdown()).await.is_err() {
        tracing::warn!("shutdown grace period over; closing the remaining connections");
    }
    Ok(())
}

/// Accepts connections on `listener` and serves `app` on them until `stop`
/// resolves; returns the handle that shuts down the connections still open
/// (dropping it lets each finish its request and close).
pub async fn accept(
    app: Router,
    listener: &TcpListener,
    config: &HttpConfig,
    stop: impl Future<Output = ()>,
) -> GracefulShutdown {
    let connections = Arc::new(Semaphore::new(config.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let write_timeout = Duration::from_secs(config.write_timeout_secs.max(1));
    let head = HeadLimits {
        max_bytes: config.max_header_bytes.max(8192),
        timeout: Duration::from_secs(config.header_timeout_secs.max(1)),
    };
    let mut http = Builder::new(TokioExecutor::new()).http1_only();
    http.http1()
        .timer(TokioTimer::new())
        .header_read_timeout(head.timeout)
        .max_buf_size(head.max_bytes);
    let http = Arc::new(http);
    let mut backoff = Duration::from_millis(5);
    tokio::pin!(stop);
    loop {
        let (stream, address) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => {
                    backoff = Duration::from_millis(5);
                    accepted
                }
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed; backing off");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_ACCEPT_BACKOFF);
                    continue;
                }
            },
            () = &mut stop => break,
        };
        let Ok(permit) = Arc::clone(&connections).try_acquire_owned() else {
            tracing::warn!(%address, "connection refused: {} connections are open", config.max_connections);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let (app, http, watcher) = (app.clone(), Arc::clone(&http), graceful.watcher());
        tokio::spawn(async move {
            let event_stream = event_stream::starts_event_stream(&stream, head.timeout).await;
            let mut stream = TimeoutStream::new(stream);
            stream.set_write_timeout(Some(write_timeout));
            let stream = LingeringClose::new(Box::pin(stream));
            if event_stream {
                event_stream::serve(stream, address, app, head).await;
            } else {
                let service =
                    hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
                        request.extensions_mut().insert(ConnectInfo(address));
                        let app = app.clone();
                        async move {
                            Ok::<_, Infallible>(
                                app.oneshot(request).await.unwrap_or_else(|e| match e {}),
                            )
                        }
                    });
                let connection = http.serve_connection_with_upgrades(TokioIo::new(stream), service);
                if let Err(e) = watcher.watch(connection).await {
                    tracing::debug!(%address, error = %e, "connection ended with an error");
                }
            }
            drop(permit);
        });
    }
    graceful
}
