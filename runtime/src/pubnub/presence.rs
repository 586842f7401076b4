//! Presence endpoints, PubNub style (all need `read` on the channels and
//! the channel groups when access control is on; each takes channel groups
//! in `channel-group=g1,g2` beside the channels of its path, `,` when there
//! are none, and acts on the groups' channels):
//! - here now: `GET /v2/presence/sub-key/{sub}/channel/{chs}` (`disable_uuids`, `state`),
//!   and for every channel `GET /v2/presence/sub-key/{sub}` (global here
//!   now): PubNub's permission table asks `read` on a channel for its here
//!   now, so with access control on a token is answered only the channels
//!   it may read, and their counts; the others are left out as if empty
//!   (a valid token is still needed; a secret-key signature sees all);
//! - `GET .../channel/{chs}/heartbeat?heartbeat=SECONDS&state=JSON`;
//! - `GET .../channel/{chs}/leave`;
//! - where now: `GET /v2/presence/sub-key/{sub}/uuid/{uuid}`;
//! - state: `GET .../channel/{chs}/uuid/{uuid}/data?state=JSON` sets it,
//!   `GET .../channel/{chs}/uuid/{uuid}` reads it.
//!
//! Client ids (`uuid`) starting with `fn:` belong to functions: 400.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Map, Value, json};

use super::reply::{self, PnError, Shape};
use super::request::{PnRequest, check_subscribe_key, split_list};
use crate::access::Permissions;
use crate::bus::{Channel, Pattern, check_client_id};
use crate::http::extract::Path;
use crate::node::Node;
use crate::presence::{Members, TIMEOUT_RANGE};

fn bad(message: String) -> PnError {
    PnError::new(StatusCode::BAD_REQUEST, message, Shape::Object).service("Presence")
}

/// The channels a presence request names.
struct Named {
    /// Those of the path and those of the groups, each once.
    channels: Vec<Channel>,
    /// Whether it named channel groups.
    grouped: bool,
}

/// Parses and authorizes the channels and channel groups of a presence
/// request; the groups stand for their channels.
fn channels(node: &Node, request: &PnRequest, sub_key: &str, list: &str) -> Result<Named, PnError> {
    check_subscribe_key(node, sub_key)?;
    let names = split_list(list);
    let groups = request.list("channel-group");
    let patterns = names
        .iter()
        .map(|n| Pattern::parse(n))
        .collect::<Result<Vec<_>, _>>()?;
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let group_refs: Vec<&str> = groups.iter().map(String::as_str).collect();
    request.authorize(
        node,
        &[],
        Permissions::READ,
        &refs,
        &group_refs,
        Shape::Object,
    )?;
    // The SDKs send wildcard subscriptions here too; presence is tracked
    // per channel, so those are left out.
    let mut channels: Vec<Channel> = patterns
        .into_iter()
        .filter_map(|p| match p {
            Pattern::Exact(channel) => Some(channel),
            Pattern::Prefix(_) | Pattern::PresencePrefix(_) => None,
        })
        .collect();
    for group in &groups {
        for channel in node.groups.channels(group) {
            if !channels.contains(&channel) {
                channels.push(channel);
            }
        }
    }
    Ok(Named {
        channels,
        grouped: !groups.is_empty(),
    })
}

impl Named {
    /// Whether PubNub answers about one channel alone (one named, no group).
    fn single(&self) -> bool {
        self.channels.len() == 1 && !self.grouped
    }
}

/// The presence timeout a request asks for (`heartbeat`), within bounds.
pub fn timeout(node: &Node, request: &PnRequest) -> Duration {
    let asked = request.param("heartbeat").and_then(|h| h.parse().ok());
    let secs = asked.unwrap_or(node.config.pubnub.presence_timeout_secs);
    Duration::from_secs(secs.clamp(TIMEOUT_RANGE.0, TIMEOUT_RANGE.1))
}

/// The `state` parameter, if any, as a JSON object.
///
/// # Errors
/// 400 when it is not a JSON object.
pub fn state(request: &PnRequest) -> Result<Option<Map<String, Value>>, PnError> {
    match request.param("state").filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(text) => serde_json::from_str(text)
            .map(Some)
            .map_err(|_| bad("`state` must be a JSON object".into())),
    }
}

fn uuid(request: &PnRequest) -> Result<&str, PnError> {
    request
        .uuid()
        .ok_or_else(|| bad("`uuid` is required".into()))
}

fn ok(extra: Value) -> Response {
    let mut body = json!({ "status": 200, "message": "OK", "service": "Presence" });
    if let (Value::Object(body), Value::Object(extra)) = (&mut body, extra) {
        body.extend(extra);
    }
    reply::ok(body)
}

/// `GET /v2/presence/sub-key/{sub}/channel/{chs}`.
pub async fn here_now(
    State(node): State<Arc<Node>>,
    Path((sub_key, list)): Path<(String, String)>,
    request: PnRequest,
) -> Result<Response, PnError> {
    let named = channels(&node, &request, &sub_key, &list)?;
    let occupants = node.presence.here_now(Some(&named.channels));
    Ok(here_now_answer(&request, occupants, named.single()))
}

/// `GET /v2/presence/sub-key/{sub}`.
pub async fn global_here_now(
    State(node): State<Arc<Node>>,
    Path(sub_key): Path<String>,
    request: PnRequest,
) -> Result<Response, PnError> {
    check_subscribe_key(&node, &sub_key)?;
    let verified = request.authorize(&node, &[], Permissions::READ, &[], &[], Shape::Object)?;
    let mut occupants = node.presence.here_now(None);
    // As here now for named channels needs `read` on each, a token sees
    // only the channels it may read (the secret key, and no access
    // control, see them all).
    if let Some(verified) = verified {
        occupants.retain(|(channel, _)| verified.allows(Permissions::READ, channel.as_str()));
    }
    Ok(here_now_answer(&request, occupants, false))
}

fn here_now_answer(
    request: &PnRequest,
    occupants: Vec<(Channel, Members)>,
    single: bool,
) -> Response {
    let with_uuids = !request.flag("disable_uuids");
    let with_state = request.flag("state");
    let describe = |members: &[(String, Option<Map<String, Value>>)]| {
        let mut entry = json!({ "occupancy": members.len() });
        if with_uuids {
            let uuids: Vec<Value> = members
                .iter()
                .map(|(uuid, state)| match (with_state, state) {
                    (true, Some(state)) => json!({ "uuid": uuid, "state": state }),
                    (true, None) => json!({ "uuid": uuid }),
                    (false, _) => json!(uuid),
                })
                .collect();
            entry["uuids"] = uuids.into();
        }
        entry
    };
    if single {
        let members = occupants
            .first()
            .map(|(_, m)| m.as_slice())
            .unwrap_or_default();
        return ok(describe(members));
    }
    let total: usize = occupants.iter().map(|(_, m)| m.len()).sum();
    let channels: Map<String, Value> = occupants
        .iter()
        .filter(|(_, members)| !members.is_empty())
        .map(|(c, members)| (c.to_string(), describe(members)))
        .collect();
    ok(
        json!({ "payload": { "total_channels": channels.len(), "total_occupancy": total, "channels": channels } }),
    )
}

/// `GET .../channel/{chs}/heartbeat`.
pub async fn heartbeat(
    State(node): State<Arc<Node>>,
    Path((sub_key, list)): Path<(String, String)>,
    request: PnRequest,
) -> Result<Response, PnError> {
    let named = channels(&node, &request, &sub_key, &list)?;
    let state = state(&request)?;
    node.presence
        .heartbeat(
            uuid(&request)?,
            &named.channels,
            timeout(&node, &request),
            state.as_ref(),
        )
        .map_err(|e| PnError::limit(e, Shape::Object))?;
    Ok(ok(json!({})))
}

/// `GET .../channel/{chs}/leave`.
pub async fn leave(
    State(node): State<Arc<Node>>,
    Path((sub_key, list)): Path<(String, String)>,
    request: PnRequest,
) -> Result<Response, PnError> {
    let named = channels(&node, &request, &sub_key, &list)?;
    node.presence.leave(uuid(&request)?, &named.channels);
    Ok(ok(json!({ "action": "leave" })))
}

/// `GET /v2/presence/sub-key/{sub}/uuid/{uuid}`.
pub async fn where_now(
    State(node): State<Arc<Node>>,
    Path((sub_key, uuid)): Path<(String, String)>,
    request: PnRequest,
) -> Result<Response, PnError> {
    check_subscribe_key(&node, &sub_key)?;
    let channels: Vec<String> = node
        .presence
        .where_now(&uuid)
        .iter()
        .map(Channel::to_string)
        .collect();
    let refs: Vec<&str> = channels.iter().map(String::as_str).collect();
    request.authorize(&node, &[], Permissions::READ, &refs, &[], Shape::Object)?;
    Ok(ok(json!({ "payload": { "channels": channels } })))
}

/// `GET .../channel/{chs}/uuid/{uuid}/data?state=JSON`.
pub async fn set_state(
    State(node): State<Arc<Node>>,
    Path((sub_key, list, uuid)): Path<(String, String, String)>,
    request: PnRequest,
) -> Result<Response, PnError> {
    check_client_id(&uuid)?;
    let named = channels(&node, &request, &sub_key, &list)?;
    let state = state(&request)?.ok_or_else(|| bad("`state` is required".into()))?;
    node.presence
        .set_state(&uuid, &named.channels, timeout(&node, &request), &state)
        .map_err(|e| PnError::limit(e, Shape::Object))?;
    Ok(ok(json!({ "payload": state })))
}

/// `GET .../channel/{chs}/uuid/{uuid}`.
pub async fn get_state(
    State(node): State<Arc<Node>>,
    Path((sub_key, list, uuid)): Path<(String, String, String)>,
    request: PnRequest,
) -> Result<Response, PnError> {
    let named = channels(&node, &request, &sub_key, &list)?;
    let states = node.presence.state(&uuid, &named.channels);
    if let (true, [channel]) = (named.single(), named.channels.as_slice()) {
        let state = states
            .into_iter()
            .next()
            .map(|(_, s)| Value::Object(s))
            .unwrap_or_else(|| json!({}));
        return Ok(ok(
            json!({ "payload": state, "uuid": uuid, "channel": channel.as_str() }),
        ));
    }
    let by_channel: Map<String, Value> = states
        .into_iter()
        .map(|(c, s)| (c.to_string(), Value::Object(s)))
        .collect();
    Ok(ok(
        json!({ "payload": { "channels": by_channel }, "uuid": uuid }),
    ))
}
