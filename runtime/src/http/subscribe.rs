//! `GET /v1/subscribe/{channels}`: a Server-Sent Events stream of the
//! messages published on comma-separated channels or wildcards (`a,b.*`).
//!
//! With `?since=TIMETOKEN` (or a `Last-Event-ID` header, which browsers send
//! on reconnect) stored messages after that timetoken are replayed first.
//! Events:
//! - `reset`: first, when history no longer holds every message after
//!   `since` on some channels (`{"code": "history_gap", "since",
//!   "channels": [{"channel", "dropped_through"}], "message"}`): reload
//!   their state; the replay goes on with what history still holds;
//! - `ready`: the subscription is live (`{"channels": [...]}`), sent once
//!   after any replay;
//! - `message` / `signal` / `action` (a message action added or removed):
//!   one message, `id` = its timetoken, data = its JSON view (`channel,
//!   timetoken, message, meta, publisher, kind`, and `subscription` when it
//!   matched a wildcard);
//! - `error`: the stream ends; `{"code": "slow_consumer", ...}` when the
//!   subscriber did not keep up, `shutting_down` when the node stops,
//!   `token_expired` / `token_revoked` when its token stops being valid.
//!
//! Each message is encoded as an event once for every SSE subscriber that
//! gets it the same way, and events already queued go out in one write.
//! A comment line keeps an idle stream open every `sse_keepalive_secs`.
//!
//! With access control on, the token (`auth` query parameter or
//! `Authorization: Bearer`) must grant `read` on every channel or pattern
//! (a pattern's text, such as `chat.*`); `uuid` names the client when the
//! token is bound to one (`fn:…` is reserved for functions: 400
//! `reserved_id`).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use bytes::{BufMut, Bytes, BytesMut};
use futures::Stream;
use futures::stream::{self, StreamExt};
use serde::Deserialize;
use serde_json::json;

use super::auth::{TokenWatch, presented_token};
use super::error::ApiError;
use super::extract::{Path, Query};
use super::replay::{ReplayFilter, history_gap};
use crate::access::Permissions;
use crate::bus::{
    Delivery, MessageKind, Pattern, Subscription, Timetoken, WireForm, check_client_id,
    parse_pattern_list,
};
use crate::node::Node;

/// Queued events written to the stream in one chunk, at most.
const WRITE_BATCH: usize = 64;
/// What keeps an idle stream open: an SSE comment.
const KEEPALIVE: &[u8] = b":\n\n";

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
) -> Result<Response, ApiError> {
    let patterns = parse_patterns(&node, &channels)?;
    params.uuid.as_deref().map(check_client_id).transpose()?;
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
    let mut open = Open {
        subscription,
        filter: ReplayFilter::default(),
        watch: TokenWatch::new(&node.access, verified),
        shutdown: node.shutting_down(),
        keepalive: Duration::from_secs(node.config.http.sse_keepalive_secs.max(1)),
        replay: None,
        ready: event("ready", &json!({ "channels": names }).to_string()),
    };
    // The first page of a replay is read before answering, so a store that
    // cannot be read is an error status rather than a cut stream.
    let first = match since {
        Some(since) => {
            let mut first = BytesMut::new();
            if let Some(gap) = history_gap(&node.bus, &patterns, since).await? {
                first.put(event("reset", &gap.to_string()));
            }
            first.put(open.replay_page(&node, patterns, since).await?);
            first.freeze()
        }
        None => open.ready.clone(),
    };
    let events = stream::once(async move { first })
        .chain(live(node, open))
        .map(Ok::<_, Infallible>);
    let headers = [
        (
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/event-stream"),
        ),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
    ];
    Ok((headers, Body::from_stream(events)).into_response())
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

/// A subscription's state between writes.
struct Open {
    subscription: Subscription,
    filter: ReplayFilter,
    watch: TokenWatch,
    shutdown: tokio::sync::watch::Receiver<bool>,
    keepalive: Duration,
    /// What a replay still has to read: its patterns and the last
    /// timetoken sent.
    replay: Option<(Vec<Pattern>, Timetoken)>,
    /// The `ready` event, sent once the replay is done.
    ready: Bytes,
}

/// The stream's chunks after the first: the rest of a replay, page by
/// page; then the events queued at each wake-up in one chunk, a keep-alive
/// comment when idle, and a last `error` event that says why it ended.
fn live(node: Arc<Node>, open: Open) -> impl Stream<Item = Bytes> {
    stream::unfold(Some(open), move |state| {
        let node = Arc::clone(&node);
        async move {
            let mut open = state?;
            if let Some((patterns, since)) = open.replay.take() {
                return Some(match open.replay_page(&node, patterns, since).await {
                    Ok(page) => (page, Some(open)),
                    Err(e) => (error_frame(&e), None),
                });
            }
            open.next_live().await
        }
    })
}

impl Open {
    /// One page of stored messages after `since` as events; notes where
    /// the next page starts, or adds what was delivered but not stored
    /// after the last one, then `ready`.
    async fn replay_page(
        &mut self,
        node: &Node,
        patterns: Vec<Pattern>,
        since: Timetoken,
    ) -> Result<Bytes, ApiError> {
        let (messages, more) = node.bus.replay(patterns.clone(), since).await?;
        let last = messages.last().map_or(since, |last| last.timetoken);
        let mut replayed = self
            .filter
            .replay(messages.into_iter().map(Arc::new), &patterns);
        if !more {
            let delivered = node.bus.delivered_after(&patterns, last);
            replayed.extend(self.filter.replay(delivered, &patterns));
        }
        let mut chunk = BytesMut::new();
        for delivery in replayed {
            chunk.put(message_event(&delivery));
        }
        if more {
            self.replay = Some((patterns, last));
        } else {
            chunk.put(self.ready.clone());
        }
        Ok(chunk.freeze())
    }

    /// The next chunk of live events, a keep-alive, or the end.
    async fn next_live(mut self) -> Option<(Bytes, Option<Self>)> {
        loop {
            let next = tokio::select! {
                next = self.subscription.recv() => next,
                () = tokio::time::sleep(self.keepalive) => {
                    return Some((Bytes::from_static(KEEPALIVE), Some(self)));
                }
                _ = self.shutdown.changed() => {
                    let end = error_event("shutting_down", "the node is shutting down; reconnect with `since`");
                    return Some((end, None));
                }
                ended = self.watch.ended() => {
                    return Some((error_event(ended.code(), &ended.to_string()), None));
                }
            };
            let Ok(first) = next else {
                let end = error_event(
                    "slow_consumer",
                    "this subscriber did not keep up and was disconnected; reconnect with `since` set to the last timetoken received",
                );
                return Some((end, None));
            };
            let chunk = self.batch(first);
            if !chunk.is_empty() {
                return Some((chunk, Some(self)));
            }
        }
    }

    /// `first` and the deliveries queued behind it (up to [`WRITE_BATCH`])
    /// as one chunk of events, leaving out what a replay already sent.
    fn batch(&mut self, first: Arc<Delivery>) -> Bytes {
        let mut chunk = BytesMut::new();
        for delivery in self.subscription.with_queued(first, WRITE_BATCH) {
            if self.filter.admit(&delivery) {
                chunk.put(message_event(&delivery));
            }
        }
        chunk.freeze()
    }
}

/// A delivery as an SSE event (`message`, `signal`, `action`, `object` or
/// `file`, `id` = timetoken),
/// encoded once for every stream that sends it.
fn message_event(delivery: &Delivery) -> Bytes {
    delivery.encoded(WireForm::ServerSentEvent, |delivery| {
        let kind = match delivery.published.message.kind {
            MessageKind::Signal => "signal",
            MessageKind::Action => "action",
            MessageKind::Object => "object",
            MessageKind::File => "file",
            _ => "message",
        };
        let id = delivery.published.timetoken.to_string();
        let mut event = BytesMut::new();
        put_field(&mut event, "event", kind);
        put_field(&mut event, "id", &id);
        put_field(&mut event, "data", &delivery.to_json());
        event.put_u8(b'\n');
        event.freeze()
    })
}

/// An `error` event for `error`: its code and message, as the others.
fn error_frame(error: &ApiError) -> Bytes {
    event("error", &error.body()["error"].to_string())
}

fn error_event(code: &str, message: &str) -> Bytes {
    event(
        "error",
        &json!({ "code": code, "message": message }).to_string(),
    )
}

/// An event named `name` whose data is `data` (JSON: one line).
fn event(name: &str, data: &str) -> Bytes {
    let mut event = BytesMut::new();
    put_field(&mut event, "event", name);
    put_field(&mut event, "data", data);
    event.put_u8(b'\n');
    event.freeze()
}

/// `name: value\n`, one such line for each line of `value` (a message's
/// JSON may hold line breaks between its tokens; readers join the lines).
fn put_field(event: &mut BytesMut, name: &str, value: &str) {
    for line in value.split(['\n', '\r']) {
        event.put_slice(name.as_bytes());
        event.put_slice(b": ");
        event.put_slice(line.as_bytes());
        event.put_u8(b'\n');
    }
}
