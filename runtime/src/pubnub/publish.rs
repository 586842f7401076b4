//! Publishing, PubNub style:
//! - `GET /publish/{pub}/{sub}/0/{channel}/0/{json}` and the POST form
//!   (`/publish/{pub}/{sub}/0/{channel}/0` with the JSON as body), with
//!   `store`, `ttl` (hours history keeps it; 0: until trimmed), `meta`, `uuid`, `norep`, `custom_message_type`;
//!   `store=0&norep=true` is a fire: functions only. Answer
//!   `[1,"Sent","<timetoken>"]`.
//! - `GET /signal/{pub}/{sub}/0/{channel}/0/{json}` (at most 64 bytes).
//! - `GET /time/0` → `[<timetoken>]`.
//!
//! A before-publish rejection answers 403 `[0,"function `f` rejected the
//! message: <reason>"]`, which the SDKs surface as an error carrying it.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;

use super::reply::{self, PnError, Shape};
use super::request::{PnRequest, check_keys};
use crate::access::Permissions;
use crate::bus::{Channel, Message, MessageKind, Timetoken};
use crate::http::extract::Path;
use crate::http::limits::Client;
use crate::http::read_body;
use crate::node::Node;

/// Longest `custom_message_type`, as PubNub allows.
const MAX_CUSTOM_TYPE: usize = 50;

/// `GET /time/0`.
pub async fn time() -> Response {
    reply::ok(json!([Timetoken::now().0]))
}

/// Path of the GET forms: keys, signature slot, channel, callback, message.
pub(super) type GetPath = (String, String, String, String, String, String);

/// `GET /publish/...`.
pub async fn publish_get(
    State(node): State<Arc<Node>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    Path(path): Path<GetPath>,
    request: PnRequest,
) -> Result<Response, PnError> {
    let kind = publish_kind(&request);
    handle_get(&node, client, path, &request, kind).await
}

/// `POST /publish/...` with the message as body.
pub async fn publish_post(
    State(node): State<Arc<Node>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    Path((pub_key, sub_key, _, channel, _)): Path<(String, String, String, String, String)>,
    request: PnRequest,
    body: Body,
) -> Result<Response, PnError> {
    // Before the body is read: a flood of large bodies costs nothing.
    check_limit(&node, &request, client)?;
    let body = read_body(body, node.config.http.max_publish_body)
        .await
        .map_err(|e| {
            PnError::new(
                e.status(),
                e.body()["error"]["message"].as_str().unwrap_or_default(),
                Shape::Array,
            )
        })?;
    let message = std::str::from_utf8(&body)
        .map_err(|_| PnError::new(StatusCode::BAD_REQUEST, "Invalid JSON", Shape::Array))?;
    let kind = publish_kind(&request);
    let target = Target {
        keys: (&pub_key, &sub_key),
        channel: &channel,
        kind,
    };
    handle(&node, &request, target, message, &body).await
}

/// `GET /signal/...`.
pub async fn signal(
    State(node): State<Arc<Node>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    Path(path): Path<GetPath>,
    request: PnRequest,
) -> Result<Response, PnError> {
    handle_get(&node, client, path, &request, MessageKind::Signal).await
}

/// Publishes the message a GET form carries in its `path` as `kind`.
pub(super) async fn handle_get(
    node: &Arc<Node>,
    client: SocketAddr,
    path: GetPath,
    request: &PnRequest,
    kind: MessageKind,
) -> Result<Response, PnError> {
    check_limit(node, request, client)?;
    let (pub_key, sub_key, _, channel, _, message) = path;
    let target = Target {
        keys: (&pub_key, &sub_key),
        channel: &channel,
        kind,
    };
    handle(node, request, target, &message, &[]).await
}

/// Where a publish goes and who sends it.
pub(super) struct Target<'a> {
    pub(super) keys: (&'a str, &'a str),
    pub(super) channel: &'a str,
    pub(super) kind: MessageKind,
}

/// Counts a publish against its client's rate limit (see
/// [`crate::http::limits`]): the `auth` token's identity when it verifies,
/// the address otherwise.
fn check_limit(node: &Node, request: &PnRequest, address: SocketAddr) -> Result<(), PnError> {
    let presented = request.presented_token(&node.access);
    let client = Client::verified(presented.as_ref(), address.ip());
    node.limits.check(&client).map_err(PnError::limited)
}

/// Fire is a publish with `store=0&norep=true`.
fn publish_kind(request: &PnRequest) -> MessageKind {
    let not_stored = matches!(request.param("store"), Some("0" | "false"));
    if not_stored && request.flag("norep") {
        MessageKind::Fire
    } else {
        MessageKind::Publish
    }
}

/// Publishes `payload` as `target` says (also the file messages of
/// [`super::files`]), answering `[1,"Sent","<timetoken>"]`.
pub(super) async fn handle(
    node: &Arc<Node>,
    request: &PnRequest,
    target: Target<'_>,
    payload: &str,
    body: &[u8],
) -> Result<Response, PnError> {
    let Target {
        keys: (pub_key, sub_key),
        channel,
        kind,
    } = target;
    check_keys(node, pub_key, sub_key)?;
    let channel = Channel::parse(channel).map_err(|e| PnError::from(e).shaped(Shape::Array))?;
    let verified = request.authorize(
        node,
        body,
        Permissions::WRITE,
        &[channel.as_str()],
        &[],
        // Refusals are objects even here, as PubNub answers them.
        Shape::Object,
    )?;
    let publisher = request
        .uuid()
        .map(str::to_owned)
        .or_else(|| verified.and_then(|v| v.token.authorized_uuid.clone()));
    // `meta=null` is no meta (the Python SDK sends it with every file message).
    let meta = request.param("meta").filter(|m| m.trim() != "null");
    let mut message = Message::new(channel, kind, payload, meta, publisher)?;
    if kind.is_stored() {
        message.store = !matches!(request.param("store"), Some("0" | "false"));
        if let Some(ttl) = request.param("ttl").filter(|t| !t.is_empty()) {
            let hours = ttl.parse().map_err(|_| {
                let bad = format!("ttl `{ttl}` is not a number of hours");
                PnError::new(StatusCode::BAD_REQUEST, bad, Shape::Array)
            })?;
            message.expire_after(hours, node.config.pubnub.ttl_hour_secs);
        }
    }
    if let Some(custom) = request
        .param("custom_message_type")
        .filter(|c| !c.is_empty())
    {
        if custom.len() > MAX_CUSTOM_TYPE {
            let too_long =
                format!("custom_message_type is longer than {MAX_CUSTOM_TYPE} characters");
            return Err(PnError::new(
                axum::http::StatusCode::BAD_REQUEST,
                too_long,
                Shape::Array,
            ));
        }
        message.custom_type = Some(custom.to_owned());
    }
    let published = node.publish(message).await?;
    Ok(reply::ok(json!([1, "Sent", published.timetoken])))
}
