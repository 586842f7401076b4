//! `GET /v1/history/{channel}?limit=N&start=TT&end=TT`: the newest `limit`
//! messages (default 100, at most the configured history size) with
//! `end <= timetoken < start`, oldest first.
//!
//! Answer: `{"channel": "...", "messages": [{channel, timetoken, message, meta, publisher, kind}, ...]}`.
//! With access control on, the token must grant `read` on the channel.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::presented_token;
use super::error::ApiError;
use super::extract::{Path, Query};
use super::timetoken;
use crate::access::Permissions;
use crate::bus::Channel;
use crate::bus::HistoryQuery;
use crate::node::Node;

const DEFAULT_LIMIT: usize = 100;

/// Query parameters of the history endpoint.
#[derive(Debug, Deserialize)]
pub struct HistoryParams {
    limit: Option<usize>,
    start: Option<String>,
    end: Option<String>,
    auth: Option<String>,
    uuid: Option<String>,
}

/// `GET /v1/history/{channel}`.
pub async fn history(
    State(node): State<Arc<Node>>,
    Path(channel): Path<String>,
    Query(params): Query<HistoryParams>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let channel = Channel::parse(&channel)?;
    let token = presented_token(&headers, params.auth);
    node.access.authorize(
        token.as_deref(),
        params.uuid.as_deref(),
        Permissions::READ,
        [channel.as_str()],
    )?;
    let query = HistoryQuery {
        limit: params.limit.unwrap_or(DEFAULT_LIMIT),
        start: timetoken(params.start)?,
        end: timetoken(params.end)?,
    };
    let messages = node.bus.history(channel.clone(), query).await?;
    let views: Vec<_> = messages.iter().map(|m| m.view(None)).collect();
    Ok(Json(
        json!({ "channel": channel.as_str(), "messages": views }),
    ))
}
