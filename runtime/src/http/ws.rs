//! `GET /v1/ws`: a WebSocket carrying JSON text frames to subscribe,
//! unsubscribe and publish on one connection.
//!
//! Client frames (`id` is optional and echoed in the answer):
//! - `{"type": "subscribe", "channels": ["a", "b.*"], "since": "<timetoken>"?, "id": ...}`
//!   → replayed messages (with `since`), then `{"type": "subscribed", "channels": [...all held], "id": ...}`;
//! - `{"type": "unsubscribe", "channels": [...], "id": ...}` → `{"type": "unsubscribed", "channels": [...still held], "id": ...}`;
//! - `{"type": "publish" | "fire" | "signal", "channel": "c", "message": <any JSON>, "meta": {...}?, "publisher": "..."?, "id": ...}`
//!   → `{"type": "published", "timetoken": "...", "id": ...}`.
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

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message as Frame, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::{TokenWatch, presented_token};
use super::error::ApiError;
use super::extract::Query;
use super::replay::ReplayFilter;
use crate::access::{AccessError, Permissions, Verified};
use crate::bus::{Channel, Closed, Delivery, Message, MessageKind, Pattern, Subscription};
use crate::node::{Node, SocketGuard};

/// Close code sent to a subscriber that did not keep up.
pub const CLOSE_SLOW: u16 = 4008;
/// Close code sent when the connection's token expires or is revoked (the
/// reason is `token_expired` or `token_revoked`).
pub const CLOSE_TOKEN: u16 = 4003;

/// `GET /v1/ws`.
pub async fn upgrade(
    State(node): State<Arc<Node>>,
    ConnectInfo(address): ConnectInfo<SocketAddr>,
    Query(params): Query<ConnectParams>,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let ws = ws.map_err(|e| ApiError::new(e.status(), "not_websocket", e.body_text()))?;
    let client = Client {
        address: address.ip(),
        token: presented_token(&headers, params.auth),
        uuid: params.uuid,
    };
    let max = node.config.http.max_ws_frame;
    Ok(ws
        .max_message_size(max)
        .max_frame_size(max)
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
    address: IpAddr,
    token: Option<String>,
    uuid: Option<String>,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
enum Request {
    Subscribe {
        channels: Vec<String>,
        since: Option<String>,
    },
    Unsubscribe {
        channels: Vec<String>,
    },
    Publish(Publish),
    Fire(Publish),
    Signal(Publish),
}

#[derive(Deserialize)]
struct Publish {
    channel: String,
    message: Value,
    meta: Option<Value>,
    publisher: Option<String>,
}

struct Connection {
    node: Arc<Node>,
    _open: SocketGuard,
    socket: WebSocket,
    client: Client,
    subscription: Subscription,
    filter: ReplayFilter,
    /// The token behind the subscriptions, once one was checked.
    watch: TokenWatch,
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
            let sent = tokio::select! {
                frame = self.socket.recv() => match frame {
                    Some(Ok(Frame::Text(text))) => self.handle(&text).await,
                    Some(Err(e)) if too_big(&e) => return self.close(1009, "frame too large").await,
                    Some(Ok(Frame::Close(_))) | None | Some(Err(_)) => return,
                    Some(Ok(_)) => Ok(()),
                },
                delivery = self.subscription.recv() => match delivery {
                    Ok(delivery) if self.filter.admit(&delivery) => self.send_delivery(&delivery).await,
                    Ok(_) => Ok(()),
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
        let frame: Value = serde_json::from_str(text).unwrap_or(Value::Null);
        let id = frame.get("id").cloned().unwrap_or(Value::Null);
        let answer = match serde_json::from_value::<Request>(frame) {
            Ok(Request::Subscribe { channels, since }) => self.subscribe(&channels, since).await,
            Ok(Request::Unsubscribe { channels }) => self.unsubscribe(&channels),
            Ok(Request::Publish(p)) => self.publish(p, MessageKind::Publish).await,
            Ok(Request::Fire(p)) => self.publish(p, MessageKind::Fire).await,
            Ok(Request::Signal(p)) => self.publish(p, MessageKind::Signal).await,
            Err(e) => Err(ApiError::bad_request(
                "invalid_frame",
                format!("frame not understood: {e}"),
            )),
        };
        match answer {
            Ok(mut answer) => {
                answer["id"] = id;
                self.send_text(answer.to_string()).await
            }
            Err(error) => self.send_error(id, error).await,
        }
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
        if let Some(since) = since {
            let messages = self.node.bus.replay(patterns.clone(), since).await?;
            for delivery in self.filter.replay(messages, &patterns) {
                self.send_delivery(&delivery)
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

    async fn publish(&mut self, request: Publish, kind: MessageKind) -> Result<Value, ApiError> {
        let channel = Channel::parse(&request.channel)?;
        let token = self.client.token.as_deref();
        self.node
            .limits
            .check(self.client.address, token)
            .map_err(ApiError::limited)?;
        let verified = self.authorize(Permissions::WRITE, &[channel.as_str()])?;
        let publisher = request
            .publisher
            .or_else(|| self.client.uuid.clone())
            .or_else(|| verified.and_then(|v| v.token.authorized_uuid.clone()));
        let meta = request.meta.map(|m| m.to_string());
        let message = Message::new(
            channel,
            kind,
            &request.message.to_string(),
            meta.as_deref(),
            publisher,
        )?;
        let published = self.node.publish(message).await?;
        Ok(json!({ "type": "published", "timetoken": published.timetoken }))
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

    async fn send_delivery(&mut self, delivery: &Delivery) -> Result<(), axum::Error> {
        let view = delivery.published.view(delivery.subscription.as_deref());
        let mut frame = serde_json::to_value(&view).expect("a message view always serializes");
        frame["type"] = "message".into();
        self.send_text(frame.to_string()).await
    }

    async fn send_error(&mut self, id: Value, error: ApiError) -> Result<(), axum::Error> {
        let mut frame = error.body();
        frame["type"] = "error".into();
        frame["id"] = id;
        self.send_text(frame.to_string()).await
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
