//! `GET /v3/history/sub-key/{sub}/channel/{channels}` (and
//! `/v3/history-with-actions/...`, which adds each message's `actions`,
//! `{type: {value: [{uuid, actionTimetoken}]}}`): the newest `max` stored
//! messages per channel with `end <= timetoken < start`, oldest first. `max` is at most 100 for one channel and 25 for several (or with
//! actions), as PubNub's. `include_meta`, `include_uuid`,
//! `include_message_type`, `include_custom_message_type` add those fields.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Map, Value, json};

use super::reply::{self, PnError, Shape};
use super::request::{PnRequest, check_subscribe_key, split_list};
use crate::access::Permissions;
use crate::actions::ChannelActions;
use crate::bus::HistoryQuery;
use crate::bus::{Channel, MessageKind, Published, Timetoken};
use crate::http::extract::Path;
use crate::node::Node;

/// Most messages for one channel.
pub const MAX_SINGLE: usize = 100;
/// Most messages per channel for several channels, or with actions.
pub const MAX_MULTIPLE: usize = 25;

/// The channels (comma-separated `list`) a history read asks for, parsed,
/// once the request's subscribe key and its token's `read` on each are
/// checked.
///
/// # Errors
/// [`PnError`] for a foreign key, a bad channel name or a refused token.
pub(super) fn readable_channels(
    node: &Node,
    sub_key: &str,
    list: &str,
    request: &PnRequest,
) -> Result<Vec<Channel>, PnError> {
    check_subscribe_key(node, sub_key)?;
    let names = split_list(list);
    let channels = names
        .iter()
        .map(|c| Channel::parse(c))
        .collect::<Result<Vec<_>, _>>()?;
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    request.authorize(node, &[], Permissions::READ, &refs, &[], Shape::Object)?;
    Ok(channels)
}

/// `GET /v3/history/...` and `/v3/history-with-actions/...`.
pub async fn fetch(
    State(node): State<Arc<Node>>,
    Path((sub_key, channels)): Path<(String, String)>,
    request: PnRequest,
) -> Result<Response, PnError> {
    let channels = readable_channels(&node, &sub_key, &channels, &request)?;
    let with_actions = request.path_starts_with("/v3/history-with-actions/");
    let ceiling = if channels.len() > 1 || with_actions {
        MAX_MULTIPLE
    } else {
        MAX_SINGLE
    };
    let timetoken = |name: &str| -> Result<Option<Timetoken>, PnError> {
        request
            .param(name)
            .filter(|t| !t.is_empty())
            .map(|t| t.parse::<Timetoken>())
            .transpose()
            .map_err(|e| PnError::new(StatusCode::BAD_REQUEST, e.to_string(), Shape::Object))
    };
    let query = HistoryQuery {
        limit: request
            .param("max")
            .and_then(|m| m.parse().ok())
            .unwrap_or(ceiling)
            .clamp(1, ceiling),
        start: timetoken("start")?,
        end: timetoken("end")?,
    };
    let fields = Fields {
        meta: request.flag("include_meta"),
        uuid: request.flag("include_uuid"),
        message_type: request.flag("include_message_type"),
        custom_type: request.flag("include_custom_message_type"),
    };
    let mut answer = Map::new();
    for channel in channels {
        let messages = node
            .bus
            .history(channel.clone(), query)
            .await
            .map_err(|e| {
                PnError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    e.to_string(),
                    Shape::Object,
                )
            })?;
        let actions = if with_actions {
            let read = node.actions.of_channel(channel.clone()).await;
            Some(read.map_err(|e| {
                PnError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    e.to_string(),
                    Shape::Object,
                )
            })?)
        } else {
            None
        };
        let items = messages
            .iter()
            .map(|m| fields.item(m, actions.as_ref()))
            .collect();
        answer.insert(channel.to_string(), Value::Array(items));
    }
    Ok(reply::ok(
        json!({ "status": 200, "error": false, "error_message": "", "channels": answer }),
    ))
}

/// Which optional fields the client asked for.
struct Fields {
    meta: bool,
    uuid: bool,
    message_type: bool,
    custom_type: bool,
}

impl Fields {
    /// `published` as history answers it, with its `actions` when they
    /// are asked for.
    fn item(&self, published: &Published, actions: Option<&ChannelActions>) -> Value {
        let message = &published.message;
        let mut item = Map::new();
        let payload = serde_json::from_str(message.payload.get()).unwrap_or(Value::Null);
        item.insert("message".into(), payload);
        item.insert("timetoken".into(), published.timetoken.to_string().into());
        if self.uuid {
            item.insert("uuid".into(), message.publisher.clone().into());
        }
        if self.meta {
            let meta = message
                .meta
                .as_ref()
                .and_then(|m| serde_json::from_str(m.get()).ok());
            item.insert("meta".into(), meta.unwrap_or_else(|| json!("")));
        }
        if self.message_type {
            // null: an ordinary message (the SDKs read it so); 4: a file's.
            let kind = (message.kind == MessageKind::File).then_some(4);
            item.insert("message_type".into(), kind.into());
        }
        if self.custom_type {
            item.insert(
                "custom_message_type".into(),
                message.custom_type.clone().into(),
            );
        }
        if let Some(actions) = actions {
            item.insert("actions".into(), actions.grouped(published.timetoken));
        }
        Value::Object(item)
    }
}
