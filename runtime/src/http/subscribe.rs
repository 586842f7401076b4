//! `GET /v1/subscribe/{channels}`: a Server-Sent Events stream of the
//! messages published on comma-separated channels or wildcards (`a,b.*`).
//!
//! With `?since=TIMETOKEN` (or a `Last-Event-ID` header, which browsers send
//! on reconnect) stored messages after that timetoken are replayed first.
//! Events:
//! - `ready`: the subscription is live (`{"channels": [...]}`), sent once
//!   after any replay;
//! - `message` / `signal`: one message, `id` = its timetoken, data = its JSON
//!   view (`channel, timetoken, message, meta, publisher, kind`, and
//!   `subscription` when it matched a wildcard);
//! - `error`: the stream ends; `{"code": "slow_consumer", ...}` when the
//!   subscriber did not keep up, `shutting_down` when the node stops.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use futures::stream::{self, StreamExt};
use serde::Deserialize;
use serde_json::json;

use super::error::ApiError;
use super::extract::{Path, Query};
use super::replay::ReplayFilter;
use crate::bus::{
    Closed, Delivery, MessageKind, Pattern, Subscription, Timetoken, parse_pattern_list,
};
use crate::node::Node;

/// Query parameters of the subscribe endpoint.
#[derive(Debug, Deserialize)]
pub struct SubscribeParams {
    since: Option<String>,
}

/// `GET /v1/subscribe/{channels}`.
pub async fn subscribe(
    State(node): State<Arc<Node>>,
    Path(channels): Path<String>,
    Query(params): Query<SubscribeParams>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let patterns = parse_patterns(&node, &channels)?;
    let since = params
        .since
        .or_else(|| super::publish::header(&headers, "last-event-id"));
    let since = since
        .map(|t| t.parse::<Timetoken>())
        .transpose()
        .map_err(|e| ApiError::bad_request("invalid_timetoken", e.to_string()))?;

    let subscription = node.bus.subscriber();
    subscription.add(&patterns);
    let mut filter = ReplayFilter::default();
    let replayed = match since {
        Some(since) => filter.replay(node.bus.replay(patterns.clone(), since).await?, &patterns),
        None => Vec::new(),
    };
    let names: Vec<String> = patterns.iter().map(Pattern::to_string).collect();
    let ready = Event::default()
        .event("ready")
        .data(json!({ "channels": names }).to_string());
    let live = live(subscription, filter, node.shutting_down());
    let events = stream::iter(replayed.iter().map(message_event).collect::<Vec<_>>())
        .chain(stream::once(async { ready }))
        .chain(live)
        .map(Ok);
    let keepalive = Duration::from_secs(node.config.http.sse_keepalive_secs.max(1));
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(keepalive)))
}

/// Parses and bounds a subscribe request's patterns.
pub(super) fn parse_patterns(node: &Node, list: &str) -> Result<Vec<Pattern>, ApiError> {
    let patterns = parse_pattern_list(list)?;
    let max = node.config.http.max_patterns_per_subscriber;
    if patterns.len() > max {
        return Err(ApiError::bad_request(
            "too_many_channels",
            format!(
                "{} channels in one subscription; at most {max} are allowed",
                patterns.len()
            ),
        ));
    }
    Ok(patterns)
}

enum Live {
    Open(
        Subscription,
        ReplayFilter,
        tokio::sync::watch::Receiver<bool>,
    ),
    Done,
}

fn live(
    subscription: Subscription,
    filter: ReplayFilter,
    shutdown: tokio::sync::watch::Receiver<bool>,
) -> impl Stream<Item = Event> {
    stream::unfold(
        Live::Open(subscription, filter, shutdown),
        |state| async move {
            let Live::Open(mut subscription, mut filter, mut shutdown) = state else {
                return None;
            };
            loop {
                let next = tokio::select! {
                    next = subscription.recv() => next,
                    _ = shutdown.changed() => {
                        let end = error_event("shutting_down", "the node is shutting down; reconnect with `since`");
                        return Some((end, Live::Done));
                    }
                };
                match next {
                    Ok(delivery) if filter.admit(&delivery) => {
                        return Some((
                            message_event(&delivery),
                            Live::Open(subscription, filter, shutdown),
                        ));
                    }
                    Ok(_) => continue,
                    Err(Closed::Slow) => {
                        let end = error_event(
                            "slow_consumer",
                            "this subscriber did not keep up and was disconnected; reconnect with `since` set to the last timetoken received",
                        );
                        return Some((end, Live::Done));
                    }
                }
            }
        },
    )
}

fn message_event(delivery: &Delivery) -> Event {
    let kind = match delivery.published.message.kind {
        MessageKind::Signal => "signal",
        _ => "message",
    };
    Event::default()
        .event(kind)
        .id(delivery.published.timetoken.to_string())
        .data(delivery.to_json())
}

fn error_event(code: &str, message: &str) -> Event {
    Event::default()
        .event("error")
        .data(json!({ "code": code, "message": message }).to_string())
}
