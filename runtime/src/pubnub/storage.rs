//! The rest of PubNub's Message Persistence:
//! - `GET /v3/history/sub-key/{sub}/message-counts/{channels}` with
//!   `timetoken=` (one for all) or `channelsTimetoken=` (one per channel):
//!   how many stored messages each channel has newer than its timetoken,
//!   `{"status":200,"error":false,"error_message":"","channels":{ch: n}}`
//!   (`read` on each channel);
//! - `DELETE /v3/history/sub-key/{sub}/channel/{ch}` with `start`
//!   (exclusive) and `end` (inclusive), in either order, or neither (the
//!   whole channel): the range leaves history on every node (`delete` on
//!   the channel, or a secret-key signature);
//! - `GET /v2/history/sub-key/{sub}/channel/{ch}`: `count` (1..=100, 100
//!   by default) messages with `end <= timetoken < start`, the newest, or
//!   with `reverse=true` the oldest; `include_token` / `include_meta` turn
//!   each into `{message, timetoken, meta}`; answer
//!   `[[messages], first timetoken, last timetoken]` (`read`).

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Map, Value, json};

use super::history::readable_channels;
use super::reply::{self, PnError, Shape};
use super::request::PnRequest;
use crate::access::Permissions;
use crate::bus::{Deletion, HistoryQuery, Published, Timetoken};
use crate::http::extract::Path;
use crate::node::Node;

/// Most messages one v2 history call returns, as PubNub's.
const MAX_COUNT: usize = 100;

/// `GET /v3/history/sub-key/{sub}/message-counts/{channels}`.
pub async fn message_counts(
    State(node): State<Arc<Node>>,
    Path((sub_key, channels)): Path<(String, String)>,
    request: PnRequest,
) -> Result<Response, PnError> {
    let channels = readable_channels(&node, &sub_key, &channels, &request)?;
    let per_channel = request.list("channelsTimetoken");
    let timetokens: Vec<Timetoken> = match (request.param("timetoken"), per_channel.len()) {
        (Some(one), 0) => vec![timetoken(one)?; channels.len()],
        (None, n) if n == channels.len() => per_channel
            .iter()
            .map(|t| timetoken(t))
            .collect::<Result<_, _>>()?,
        (None, 1) => vec![timetoken(&per_channel[0])?; channels.len()],
        _ => {
            return Err(bad_request(format!(
                "give one `timetoken`, or one `channelsTimetoken` per channel ({} channels)",
                channels.len()
            )));
        }
    };
    let mut counts = Map::new();
    for (channel, after) in channels.into_iter().zip(timetokens) {
        let count = node
            .bus
            .count_after(channel.clone(), after)
            .await
            .map_err(unavailable)?;
        counts.insert(channel.to_string(), count.into());
    }
    Ok(reply::ok(json!({
        "status": 200,
        "error": false,
        "error_message": "",
        "channels": counts,
    })))
}

/// `DELETE /v3/history/sub-key/{sub}/channel/{ch}`.
pub async fn delete_messages(
    State(node): State<Arc<Node>>,
    Path((sub_key, channel)): Path<(String, String)>,
    request: PnRequest,
) -> Result<Response, PnError> {
    let channel =
        request.authorize_channel(&node, (&sub_key, &channel), &[], Permissions::DELETE)?;
    let range = Deletion::between(optional(&request, "start")?, optional(&request, "end")?);
    if let Some(range) = range {
        node.bus.delete(channel, range).await.map_err(unavailable)?;
    }
    Ok(reply::ok(
        json!({ "status": 200, "error": false, "error_message": "" }),
    ))
}

/// `GET /v2/history/sub-key/{sub}/channel/{ch}`.
pub async fn history_v2(
    State(node): State<Arc<Node>>,
    Path((sub_key, channel)): Path<(String, String)>,
    request: PnRequest,
) -> Result<Response, PnError> {
    let channel = request.authorize_channel(&node, (&sub_key, &channel), &[], Permissions::READ)?;
    let count = match request.param("count").filter(|c| !c.is_empty()) {
        None => MAX_COUNT,
        Some(text) => match text.parse::<usize>() {
            Ok(n) if (1..=MAX_COUNT).contains(&n) => n,
            _ => {
                return Err(bad_request(format!(
                    "count `{text}` is not a number from 1 to {MAX_COUNT}"
                )));
            }
        },
    };
    let reverse = request.flag("reverse");
    let query = HistoryQuery {
        // Oldest first: read the whole range and keep its beginning.
        limit: if reverse { usize::MAX } else { count },
        start: optional(&request, "start")?,
        end: optional(&request, "end")?,
    };
    let mut messages = node
        .bus
        .history(channel, query)
        .await
        .map_err(unavailable)?;
    messages.truncate(count);
    let strings = request.flag("stringtoken") || request.flag("string_message_token");
    let token = |t: Timetoken| -> Value {
        if strings {
            t.to_string().into()
        } else {
            t.0.into()
        }
    };
    let with_token = request.flag("include_token");
    let with_meta = request.flag("include_meta");
    let items: Vec<Value> = messages
        .iter()
        .map(|published| {
            let message = json_of(published.message.payload.get());
            if !with_token && !with_meta {
                return message;
            }
            let mut item = Map::new();
            item.insert("message".into(), message);
            if with_token {
                item.insert("timetoken".into(), token(published.timetoken));
            }
            if with_meta {
                let meta = published.message.meta.as_ref().map(|m| json_of(m.get()));
                item.insert("meta".into(), meta.unwrap_or_else(|| json!("")));
            }
            Value::Object(item)
        })
        .collect();
    let bound = |p: Option<&Published>| p.map_or(json!(0), |p| token(p.timetoken));
    Ok(reply::ok(json!([
        items,
        bound(messages.first()),
        bound(messages.last())
    ])))
}

fn json_of(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}

/// A timetoken parameter, when given.
fn optional(request: &PnRequest, name: &str) -> Result<Option<Timetoken>, PnError> {
    request
        .param(name)
        .filter(|t| !t.is_empty())
        .map(timetoken)
        .transpose()
}

fn timetoken(text: &str) -> Result<Timetoken, PnError> {
    text.parse()
        .map_err(|e: crate::bus::timetoken::BadTimetoken| bad_request(e.to_string()))
}

fn bad_request(message: String) -> PnError {
    PnError::new(StatusCode::BAD_REQUEST, message, Shape::Object)
}

fn unavailable(e: impl std::fmt::Display) -> PnError {
    PnError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        e.to_string(),
        Shape::Object,
    )
}
