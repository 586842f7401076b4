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
//!   subscriber did not keep up, `shutting_down` when the node stops,
//!   `token_expired` / `token_revoked` when its token stops being valid.
//!
//! With access control on, the token (`auth` query parameter or
//! `Authorization: Bearer`) must grant `read` on every channel or pattern
//! (a pattern's text, such as `chat.*`); `uuid` names the client when the
//! token is bound to one.

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

use super::auth::{TokenWatch, presented_token};
use super::error::ApiError;
use super::extract::{Path, Query};
use super::replay::ReplayFilter;
use crate::access::Permissions;
use crate::bus::{Closed, Delivery, MessageKind, Pattern, Subscription, parse_pattern_list};
use crate::node::Node;

/// Query parameters of the subscribe endpoint.
#[derive(Debug, Deserialize)]
pub struct SubscribeParams {
    since: Option<String>,
    auth: Option<String>,
    uuid: Option<String>,
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
        .or_else(|| super::header(&headers, "last-event-id"));
    let since = super::timetoken(since)?;
    let token = presented_token(&headers, params.auth);
    let names: Vec<String> = patterns.iter().map(Pattern::to_string).collect();
    let verified = node.access.authorize(
        token.as_deref(),
        params.uuid.as_deref(),
        Permissions::READ,
        names.iter().map(String::as_str),
    )?;

    let subscription = node.bus.subscriber();
    subscription.add(&patterns);
    let mut filter = ReplayFilter::default();
    let replayed = match since {
        Some(since) => filter.replay(node.bus.replay(patterns.clone(), since).await?, &patterns),
        None => Vec::new(),
    };
    let ready = Event::default()
        .event("ready")
        .data(json!({ "channels": names }).to_string());
    let watch = TokenWatch::new(&node.access, verified);
    let live = live(subscription, filter, watch, node.shutting_down());
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

/// A live subscription's state between events.
struct Open {
    subscription: Subscription,
    filter: ReplayFilter,
    watch: TokenWatch,
    shutdown: tokio::sync::watch::Receiver<bool>,
}

fn live(
    subscription: Subscription,
    filter: ReplayFilter,
    watch: TokenWatch,
    shutdown: tokio::sync::watch::Receiver<bool>,
) -> impl Stream<Item = Event> {
    let open = Open {
        subscription,
        filter,
        watch,
        shutdown,
    };
    stream::unfold(Some(open), |state| async move {
        let mut open = state?;
        loop {
            let next = tokio::select! {
                next = open.subscription.recv() => next,
                _ = open.shutdown.changed() => {
                    let end = error_event("shutting_down", "the node is shutting down; reconnect with `since`");
                    return Some((end, None));
                }
                ended = open.watch.ended() => {
                    return Some((error_event(ended.code(), &ended.to_string()), None));
                }
            };
            match next {
                Ok(delivery) if open.filter.admit(&delivery) => {
                    return Some((message_event(&delivery), Some(open)));
                }
                Ok(_) => continue,
                Err(Closed::Slow) => {
                    let end = error_event(
                        "slow_consumer",
                        "this subscriber did not keep up and was disconnected; reconnect with `since` set to the last timetoken received",
                    );
                    return Some((end, None));
                }
            }
        }
    })
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
