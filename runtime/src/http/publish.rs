//! `POST /v1/publish/{channel}`, `POST /v1/fire/{channel}` and
//! `POST /v1/signal/{channel}`: the body is the message (any JSON value).
//!
//! Optional: `meta` (a JSON object) as query parameter or `X-Edgefn-Meta`
//! header; the publisher's id as `publisher` (or `uuid`) query parameter or
//! `X-Edgefn-Publisher` header (defaults to the token's authorized user;
//! `fn:…` is reserved for functions: 400 `reserved_id`);
//! `store=0` to keep a publish out of history; `ttl=HOURS` to keep it there
//! only that long (0: until trimmed). With access control on, a
//! token granting `write` on the channel (`auth` query parameter or
//! `Authorization: Bearer`).
//! Answer: `{"timetoken": "<17 digits>"}`.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::HeaderMap;
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::presented_token;
use super::error::ApiError;
use super::extract::{Path, Query};
use super::header;
use super::limits::Client;
use crate::access::Permissions;
use crate::bus::{Channel, Message, MessageKind, check_client_id};
use crate::node::Node;

/// Query parameters of the publish endpoints.
#[derive(Debug, Deserialize)]
pub struct PublishParams {
    meta: Option<String>,
    publisher: Option<String>,
    uuid: Option<String>,
    store: Option<String>,
    ttl: Option<u64>,
    auth: Option<String>,
}

/// `POST /v1/publish/{channel}`, `/v1/fire/{channel}` and
/// `/v1/signal/{channel}`: the router gives each route its kind.
pub async fn publish(
    State(node): State<Arc<Node>>,
    ConnectInfo(address): ConnectInfo<SocketAddr>,
    Extension(kind): Extension<MessageKind>,
    Path(channel): Path<String>,
    Query(params): Query<PublishParams>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let channel = Channel::parse(&channel)?;
    let token = presented_token(&headers, params.auth);
    // Before the body is read: a flood of large bodies costs nothing.
    let presented = token.as_deref().map(|t| node.access.verify(t));
    let client = Client::verified(presented.as_ref(), address.ip());
    node.limits
        .check(&client)
        .map_err(|limited| ApiError::limited(limited).closing())?;
    let body = super::read_body(body, node.config.http.max_publish_body).await?;
    let payload = std::str::from_utf8(&body)
        .map_err(|_| ApiError::bad_request("invalid_json", "message is not UTF-8 text"))?;
    let meta = params.meta.or_else(|| header(&headers, "x-edgefn-meta"));
    let publisher = params
        .publisher
        .or(params.uuid)
        .or_else(|| header(&headers, "x-edgefn-publisher"));
    publisher.as_deref().map(check_client_id).transpose()?;
    let verified = node.access.authorize_verified(
        presented,
        publisher.as_deref(),
        Permissions::WRITE,
        [channel.as_str()],
    )?;
    let publisher = publisher.or_else(|| verified.and_then(|v| v.token.authorized_uuid.clone()));
    let mut message = Message::new(channel, kind, payload, meta.as_deref(), publisher)?;
    if kind == MessageKind::Publish {
        message.store = !matches!(params.store.as_deref(), Some("0" | "false"));
        if let Some(hours) = params.ttl {
            message.expire_after(hours, node.config.pubnub.ttl_hour_secs);
        }
    }
    let published = node.publish(message).await?;
    Ok(Json(json!({ "timetoken": published.timetoken })))
}
