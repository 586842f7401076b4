//! `GET /v1/ws`: a WebSocket carrying JSON text frames to subscribe,
//! unsubscribe and publish on one connection.
//!
//! Client frames (`id` is optional and echoed in the answer):
//! - `{"type": "subscribe", "channels": ["a", "b.*"], "since": "<timetoken>"?, "id": ...}`
//!   → replayed messages (with `since`), then `{"type": "subscribed", "channels": [...all held], "id": ...}`;
//!   first, when history no longer holds every message after `since` on
//!   some of them, `{"type": "reset", "code": "history_gap", "since",
//!   "channels": [{"channel", "dropped_through"}], "message"}`: reload
//!   their state (the replay goes on with what history still holds);
//! - `{"type": "unsubscribe", "channels": [...], "id": ...}` → `{"type": "unsubscribed", "channels": [...still held], "id": ...}`;
//! - `{"type": "publish" | "fire" | "signal", "channel": "c", "message": <any JSON>, "meta": {...}?, "publisher": "..."?, "store": false?, "id": ...}`
//!   → `{"type": "published", "timetoken": "...", "id": ...}` (`store: false`
//!   keeps a publish out of history).
//!
//! Publish frames are pipelined: each one's hooks run and its place in its
//! channel's order is fixed as it is read, then the connection reads on
//! while up to [`MAX_IN_FLIGHT`] are being committed. Messages from one
//! connection keep their order, and their answers come in the order of
//! the frames.
//!
//! Deliveries are encoded once per message for every WebSocket subscriber
//! that gets it the same way, and those waiting are written together.
//!
//! Server frames: `{"type": "message", ...the message's JSON view}` for each
//! delivery, and `{"type": "error", "id": ..., "error": {code, message, ...}}`
//! for a frame that failed (the connection stays open). A subscriber that
//! does not keep up is closed with code 4008; a frame larger than
//! `max_ws_frame` closes the connection with 1009; a shutting-down node
//! closes with 1001.
//!
//! With access control on, the token given at connect (`?auth=TOKEN` or
//! `Authorization: Bearer`; `?uuid=ID` names the client) must grant `read`
//! for subscribes and `write` for publishes. When it expires or is revoked
//! the connection is closed with code 4003 (`token_expired` /
//! `token_revoked`).
//!
//! Ids starting with `fn:` belong to functions: a `?uuid=fn:…` connect is
//! refused with 400 `reserved_id`, a publish frame with such a
//! `publisher` gets an error frame with that code.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message as Frame, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::http::HeaderMap;
use axum::response::Response;
use bytes::{BufMut, Bytes, BytesMut};
use futures::future::BoxFuture;
use futures::stream::FuturesOrdered;
use futures::{FutureExt, SinkExt, StreamExt};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;
use serde_json::{Value, json};

use super::auth::{TokenWatch, presented_token};
use super::error::ApiError;
use super::extract::Query;
use super::limits;
use super::replay::{ReplayFilter, history_gap};
use crate::access::{AccessError, Permissions, Verified};
use crate::bus::{
    Channel, Closed, Delivery, Message, MessageKind, Pattern, Subscription, WireForm,
    check_client_id,
};
use crate::node::{Node, SocketGuard};

/// Close code sent to a subscriber that did not keep up.
pub const CLOSE_SLOW: u16 = 4008;
/// Close code sent when the connection's token expires or is revoked (the
/// reason is `token_expired` or `token_revoked`).
pub const CLOSE_TOKEN: u16 = 4003;
/// Publish frames of one connection being committed at once; past it the
/// connection stops reading until the oldest is answered.
pub const MAX_IN_FLIGHT: usize = 1024;
/// Queued deliveries written to the socket before one flush.
const WRITE_BATCH: usize = 64;
/// What the connection reserves for reading frames; larger frames (up to
/// `max_ws_frame`) grow it as they come. Small, so an idle subscriber
/// costs little.
const READ_BUFFER: usize = 512;
/// Bytes of frames gathered before they are written out.
const WRITE_BUFFER: usize = 16 * 1024;

/// `GET /v1/ws`.
pub async fn upgrade(
    State(node): State<Arc<Node>>,
    ConnectInfo(address): ConnectInfo<SocketAddr>,
    Query(params): Query<ConnectParams>,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let ws = ws.map_err(|e| ApiError::new(e.status(), "not_websocket", e.body_text()))?;
    params.uuid.as_deref().map(check_client_id).transpose()?;
    let token = presented_token(&headers, params.auth);
    let client = Client {
        limited_as: limits::Client::of(&node.access, token.as_deref(), address.ip()),
        token,
        uuid: params.uuid,
    };
    let max = node.config.http.max_ws_frame;
    Ok(ws
        .max_message_size(max)
        .max_frame_size(max)
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER)
        .on_upgrade(move |socket| Connection::new(node, socket, client).run()))
}

/// Whether a receive failed because the client's frame or message was over
/// the size limit.
fn too_big(error: &axum::Error) -> bool {
    std::error::Error::source(error)
        .and_then(|e| e.downcast_ref::<tungstenite::Error>())
        .is_some_and(|e| matches!(e, tungstenite::Error::Capacity(_)))
}

/// Query parameters of the WebSocket endpoint.
#[derive(Debug, Deserialize)]
pub struct ConnectParams {
    auth: Option<String>,
    uuid: Option<String>,
}

/// Who is on the other end: the token and client id given at connect.
struct Client {
    /// Who its publishes count against.
    limited_as: limits::Client,
    token: Option<String>,
    uuid: Option<String>,
}

/// A client frame: its `type` says which of the other fields it uses.
#[derive(Deserialize)]
struct Request<'a> {
    #[serde(rename = "type", borrow)]
    kind: &'a str,
    #[serde(default, borrow, deserialize_with = "present")]
    id: Option<&'a RawValue>,
    channels: Option<Vec<String>>,
    since: Option<String>,
    channel: Option<String>,
    #[serde(default, borrow, deserialize_with = "present")]
    message: Option<&'a RawValue>,
    #[serde(borrow)]
    meta: Option<&'a RawValue>,
    publisher: Option<String>,
    store: Option<bool>,
}

/// A field that is there, even as `null`.
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<&'de RawValue>, D::Error> {
    <&RawValue>::deserialize(d).map(Some)
}

/// The answer to one frame, as text.
type Answer = BoxFuture<'static, String>;

struct Connection {
    node: Arc<Node>,
    _open: SocketGuard,
    socket: WebSocket,
    client: Client,
    subscription: Subscription,
    filter: ReplayFilter,
    /// The token behind the subscriptions, once one was checked.
    watch: TokenWatch,
    /// Publishes being committed, answered in the order they came.
    in_flight: FuturesOrdered<Answer>,
}

impl Connection {
    fn new(node: Arc<Node>, socket: WebSocket, client: Client) -> Self {
        let subscription = node.bus.subscriber();
        let watch = TokenWatch::new(&node.access, None);
        Self {
            _open: node.hold_socket(),
            node,
            socket,
            client,
            subscription,
            filter: ReplayFilter::default(),
            watch,
            in_flight: FuturesOrdered::new(),
        }
    }

    fn authorize(
        &self,
        wanted: Permissions,
        channels: &[&str],
    ) -> Result<Option<Arc<Verified>>, AccessError> {
        let token = self.client.token.as_deref();
        let uuid = self.client.uuid.as_deref();
        self.node
            .access
            .authorize(token, uuid, wanted, channels.iter().copied())
    }

    async fn run(mut self) {
        let mut shutdown = self.node.shutting_down();
        loop {
            let reading = self.in_flight.len() < MAX_IN_FLIGHT;
            let answering = !self.in_flight.is_empty();
            let sent = tokio::select! {
                frame = self.socket.recv(), if reading => match frame {
                    Some(Ok(Frame::Text(text))) => self.handle(&text).await,
                    Some(Err(e)) if too_big(&e) => return self.close(1009, "frame too large").await,
                    Some(Ok(Frame::Close(_))) | None | Some(Err(_)) => return,
                    Some(Ok(_)) => Ok(()),
                },
                Some(answer) = self.in_flight.next(), if answering => self.send_answers(answer).await,
                delivery = self.subscription.recv() => match delivery {
                    Ok(delivery) => self.send_deliveries(delivery).await,
                    Err(Closed::Slow) => return self.close(CLOSE_SLOW, "slow consumer: reconnect with `since`").await,
                },
                _ = shutdown.changed() => return self.close(1001, "node shutting down").await,
                ended = self.watch.ended() => return self.close(CLOSE_TOKEN, ended.code()).await,
            };
            if sent.is_err() {
                return;
            }
        }
    }

    async fn handle(&mut self, text: &str) -> Result<(), axum::Error> {
        let request = match serde_json::from_str::<Request>(text) {
            Ok(request) => request,
            Err(e) => {
                let id = serde_json::from_str::<Value>(text)
                    .ok()
                    .and_then(|frame| frame.get("id").cloned())
                    .unwrap_or(Value::Null);
                let error =
                    ApiError::bad_request("invalid_frame", format!("frame not understood: {e}"));
                return self.send_text(error_frame(id, error)).await;
            }
        };
        let kind = match request.kind {
            "publish" => MessageKind::Publish,
            "fire" => MessageKind::Fire,
            "signal" => MessageKind::Signal,
            _ => {
                let id = raw_id(request.id);
                let answer = match (request.kind, &request.channels) {
                    ("subscribe", Some(channels)) => self.subscribe(channels, request.since).await,
                    ("unsubscribe", Some(channels)) => self.unsubscribe(channels),
                    ("subscribe" | "unsubscribe", None) => Err(ApiError::bad_request(
                        "invalid_frame",
                        "frame not understood: missing field `channels`",
                    )),
                    (other, _) => Err(ApiError::bad_request(
                        "invalid_frame",
                        format!(
                            "frame not understood: unknown type `{other}`; expected subscribe, unsubscribe, publish, fire or signal"
                        ),
                    )),
                };
                return match answer {
                    Ok(mut answer) => {
                        answer["id"] = id;
                        self.send_text(answer.to_string()).await
                    }
                    Err(error) => self.send_text(error_frame(id, error)).await,
                };
            }
        };
        let id = request.id.map(RawValue::to_owned);
        let answer = match self.start_publish(request, kind).await {
            Ok(pending) => async move {
                match pending.await {
                    Ok(published) => {
                        published_frame(&published.timetoken.to_string(), id.as_deref())
                    }
                    Err(e) => error_frame(raw_id(id.as_deref()), ApiError::from(e)),
                }
            }
            .boxed(),
            Err(error) => futures::future::ready(error_frame(raw_id(id.as_deref()), error)).boxed(),
        };
        self.in_flight.push_back(answer);
        Ok(())
    }

    async fn subscribe(
        &mut self,
        channels: &[String],
        since: Option<String>,
    ) -> Result<Value, ApiError> {
        let patterns = self.patterns(channels)?;
        let held = self.subscription.patterns().len();
        let max = self.node.config.http.max_patterns_per_subscriber;
        if held + patterns.len() > max {
            return Err(ApiError::bad_request(
                "too_many_channels",
                format!(
                    "this connection would hold {} channels; at most {max} are allowed",
                    held + patterns.len()
                ),
            ));
        }
        let since = super::timetoken(since)?;
        let names: Vec<String> = patterns.iter().map(Pattern::to_string).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let verified = self.authorize(Permissions::READ, &names)?;
        if verified.is_some() {
            self.watch.watch(verified);
        }
        self.subscription.add(&patterns);
        if let Some(since) = since
            && let Some(mut gap) = history_gap(&self.node.bus, &patterns, since).await?
        {
            gap["type"] = "reset".into();
            self.socket
                .feed(Frame::Text(Utf8Bytes::from(gap.to_string())))
                .await
                .map_err(|e| ApiError::bad_request("closed", e.to_string()))?;
        }
        let mut after = since;
        while let Some(since) = after {
            let (messages, more) = self.node.bus.replay(patterns.clone(), since).await?;
            let last = messages.last().map_or(since, |last| last.timetoken);
            let mut replayed = self
                .filter
                .replay(messages.into_iter().map(Arc::new), &patterns);
            after = if more {
                Some(last)
            } else {
                let delivered = self.node.bus.delivered_after(&patterns, last);
                replayed.extend(self.filter.replay(delivered, &patterns));
                None
            };
            for delivery in replayed {
                self.socket
                    .feed(delivery_frame(&delivery))
                    .await
                    .map_err(|e| ApiError::bad_request("closed", e.to_string()))?;
            }
        }
        Ok(json!({ "type": "subscribed", "channels": self.held() }))
    }

    fn unsubscribe(&mut self, channels: &[String]) -> Result<Value, ApiError> {
        let patterns = self.patterns(channels)?;
        self.subscription.remove(&patterns);
        Ok(json!({ "type": "unsubscribed", "channels": self.held() }))
    }

    /// Checks a publish frame, runs its hooks and fixes its order.
    async fn start_publish(
        &mut self,
        request: Request<'_>,
        kind: MessageKind,
    ) -> Result<crate::node::PendingPublish, ApiError> {
        let (Some(channel), Some(payload)) = (request.channel, request.message) else {
            return Err(ApiError::bad_request(
                "invalid_frame",
                "frame not understood: a publish needs `channel` and `message`",
            ));
        };
        let channel = Channel::parse(&channel)?;
        self.node
            .limits
            .check(&self.client.limited_as)
            .map_err(ApiError::limited)?;
        request
            .publisher
            .as_deref()
            .map(check_client_id)
            .transpose()?;
        let verified = self.authorize(Permissions::WRITE, &[channel.as_str()])?;
        let publisher = request
            .publisher
            .or_else(|| self.client.uuid.clone())
            .or_else(|| verified.and_then(|v| v.token.authorized_uuid.clone()));
        let meta = request.meta.map(RawValue::get);
        let mut message = Message::new(channel, kind, payload.get(), meta, publisher)?;
        if kind == MessageKind::Publish {
            message.store = request.store.unwrap_or(true);
        }
        Ok(self.node.start_publish(message).await?)
    }

    fn patterns(&self, channels: &[String]) -> Result<Vec<Pattern>, ApiError> {
        channels
            .iter()
            .map(|c| Pattern::parse(c).map_err(ApiError::from))
            .collect()
    }

    fn held(&self) -> Vec<String> {
        self.subscription
            .patterns()
            .iter()
            .map(Pattern::to_string)
            .collect()
    }

    /// Writes `first` and the answers ready behind it, then flushes.
    async fn send_answers(&mut self, first: String) -> Result<(), axum::Error> {
        self.socket.feed(Frame::Text(first.into())).await?;
        while let Some(Some(answer)) = self.in_flight.next().now_or_never() {
            self.socket.feed(Frame::Text(answer.into())).await?;
        }
        self.socket.flush().await
    }

    /// Writes `first` and the deliveries queued behind it (up to
    /// [`WRITE_BATCH`]), then flushes.
    async fn send_deliveries(&mut self, first: Arc<Delivery>) -> Result<(), axum::Error> {
        for delivery in self.subscription.with_queued(first, WRITE_BATCH) {
            if self.filter.admit(&delivery) {
                self.socket.feed(delivery_frame(&delivery)).await?;
            }
        }
        self.socket.flush().await
    }

    async fn send_text(&mut self, text: String) -> Result<(), axum::Error> {
        self.socket.send(Frame::Text(Utf8Bytes::from(text))).await
    }

    async fn close(mut self, code: u16, reason: &'static str) {
        let frame = CloseFrame {
            code,
            reason: Utf8Bytes::from_static(reason),
        };
        let _ = self.socket.send(Frame::Close(Some(frame))).await;
    }
}

/// A delivery as a text frame: `{"type":"message", ...its JSON view}`,
/// encoded once for every connection that sends it.
fn delivery_frame(delivery: &Delivery) -> Frame {
    let bytes = delivery.encoded(WireForm::WebSocket, encode_delivery);
    Frame::Text(Utf8Bytes::try_from(bytes).expect("JSON text is UTF-8"))
}

fn encode_delivery(delivery: &Delivery) -> Bytes {
    const TYPE: &[u8] = br#"{"type":"message","#;
    let view = serde_json::to_vec(&delivery.view()).expect("a message view always serializes");
    let mut frame = BytesMut::with_capacity(TYPE.len() + view.len());
    frame.put_slice(TYPE);
    // The view is an object with at least one field: `{` is replaced.
    frame.put_slice(&view[1..]);
    frame.freeze()
}

fn published_frame(timetoken: &str, id: Option<&RawValue>) -> String {
    json!({ "type": "published", "timetoken": timetoken, "id": id }).to_string()
}

fn error_frame(id: Value, error: ApiError) -> String {
    let mut frame = error.body();
    frame["type"] = "error".into();
    frame["id"] = id;
    frame.to_string()
}

/// A frame's `id` as a JSON value to echo (null when it had none).
fn raw_id(id: Option<&RawValue>) -> Value {
    id.and_then(|raw| serde_json::from_str(raw.get()).ok())
        .unwrap_or(Value::Null)
}
