//! Message actions, PubNub style (the rules are in [`crate::actions`]):
//! - add: `POST /v1/message-actions/{sub}/channel/{ch}/message/{mtt}` with
//!   `{"type": "...", "value": "..."}` → `{"status": 200, "data": {"type",
//!   "value", "uuid", "actionTimetoken", "messageTimetoken"}}`; needs
//!   `write` on the channel;
//! - get: `GET /v1/message-actions/{sub}/channel/{ch}?start=&end=&limit=`
//!   → `{"status": 200, "data": [...]}`, the newest `limit` (at most 100)
//!   actions with `end <= actionTimetoken < start`, oldest first, and
//!   `"more": {"url", "start", "end"?, "limit"}` when older ones in the
//!   range were left out; needs `read`;
//! - remove: `DELETE .../message/{mtt}/action/{att}` → `{"status": 200,
//!   "data": {}}` (also when there was no such action); needs `delete`.
//!
//! Each addition and removal is published on the channel as a
//! message-action event (`e: 3`, see [`crate::actions::event`]); when that
//! publish fails the change stands and the answer is 207, as PubNub's.
//! Errors are `{"status", "error": {"message", "source": "actions"}}`: 400
//! for bad input, 409 for an action the author already added, 503 when
//! the store cannot answer; refusals are Access Manager's 403.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Deserialize;
use serde_json::{Value, json};

use super::reply::{self, PnError, Shape};
use super::request::{PnRequest, check_subscribe_key};
use crate::access::Permissions;
use crate::actions::{self, Action, ActionError, MAX_PAGE, PageQuery};
use crate::bus::{Channel, MessageKind, Timetoken};
use crate::http::extract::Path;
use crate::node::Node;

/// Why an actions request failed: a refusal shaped as the other PubNub
/// endpoints answer it, or the actions service's own error.
enum Failure {
    Request(PnError),
    Action(ActionError),
}

impl From<PnError> for Failure {
    fn from(e: PnError) -> Self {
        Self::Request(e)
    }
}

impl From<ActionError> for Failure {
    fn from(e: ActionError) -> Self {
        Self::Action(e)
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let e = match self {
            Self::Request(e) => return e.into_response(),
            Self::Action(e) => e,
        };
        let status = match e {
            ActionError::Invalid(_) => StatusCode::BAD_REQUEST,
            ActionError::Duplicate => StatusCode::CONFLICT,
            ActionError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        };
        answer(
            status,
            json!({ "error": { "message": e.to_string(), "source": "actions" } }),
        )
    }
}

fn invalid(message: String) -> Failure {
    Failure::Action(ActionError::Invalid(message))
}

/// `body` with `"status"` added, answered with `status` and PubNub's headers.
fn answer(status: StatusCode, mut body: Value) -> Response {
    body["status"] = status.as_u16().into();
    (status, reply::ok(body)).into_response()
}

/// A timetoken in the path.
fn path_timetoken(text: &str, what: &str) -> Result<Timetoken, Failure> {
    text.parse()
        .map_err(|e| invalid(format!("Invalid {what} timetoken: {e}")))
}

/// The add body.
#[derive(Deserialize)]
struct NewAction {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    value: String,
}

/// Checks the key, the channel and the permission of an actions request.
fn authorize(
    node: &Node,
    request: &PnRequest,
    (sub_key, channel): (&str, &str),
    body: &[u8],
    wanted: Permissions,
) -> Result<(Channel, Option<String>), Failure> {
    check_subscribe_key(node, sub_key)?;
    let channel = Channel::parse(channel).map_err(PnError::from)?;
    let verified =
        request.authorize(node, body, wanted, &[channel.as_str()], &[], Shape::Object)?;
    let uuid = request
        .uuid()
        .map(str::to_owned)
        .or_else(|| verified.and_then(|v| v.token.authorized_uuid.clone()));
    Ok((channel, uuid))
}

/// Publishes the event of `action` on `channel`; whether it was. (Also
/// what a function's change publishes, see [`crate::node`].)
pub(crate) async fn announce(node: &Node, channel: Channel, added: bool, action: &Action) -> bool {
    let published = match actions::event(channel, added, action) {
        Ok(event) => node.bus.commit(event).await.map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    match published {
        Ok(_) => {
            let kind = MessageKind::Action.into();
            node.metrics.published.get_or_create(&kind).inc();
            true
        }
        Err(e) => {
            tracing::warn!(error = %e, "message action stored, its event not published");
            false
        }
    }
}

/// 200 with `data`, or 207 when the event was not published.
fn changed(data: Value, announced: bool) -> Response {
    if announced {
        return answer(StatusCode::OK, json!({ "data": data }));
    }
    let error = json!({
        "message": "Stored but failed to publish message action.",
        "source": "actions",
    });
    answer(
        StatusCode::MULTI_STATUS,
        json!({ "data": data, "error": error }),
    )
}

/// `POST /v1/message-actions/{sub}/channel/{ch}/message/{mtt}`.
pub async fn add(
    State(node): State<Arc<Node>>,
    Path((sub_key, channel, message)): Path<(String, String, String)>,
    request: PnRequest,
    body: Bytes,
) -> Response {
    let added = async {
        let (channel, uuid) = authorize(
            &node,
            &request,
            (&sub_key, &channel),
            &body,
            Permissions::WRITE,
        )?;
        let message = path_timetoken(&message, "message")?;
        let new: NewAction = serde_json::from_slice(&body).map_err(|e| {
            invalid(format!(
                "Invalid action: expected {{\"type\": string, \"value\": string}}: {e}"
            ))
        })?;
        let uuid = uuid.unwrap_or_default();
        let action = node
            .actions
            .add(channel.clone(), message, &new.kind, &new.value, &uuid)
            .await?;
        let announced = announce(&node, channel, true, &action).await;
        Ok::<_, Failure>(changed(json!(action), announced))
    };
    added.await.unwrap_or_else(IntoResponse::into_response)
}

/// `GET /v1/message-actions/{sub}/channel/{ch}`.
pub async fn get(
    State(node): State<Arc<Node>>,
    Path((sub_key, channel)): Path<(String, String)>,
    request: PnRequest,
) -> Response {
    let read = async {
        let (channel, _) = authorize(
            &node,
            &request,
            (&sub_key, &channel),
            &[],
            Permissions::READ,
        )?;
        let timetoken = |name: &str| {
            request
                .param(name)
                .filter(|t| !t.is_empty())
                .map(|t| path_timetoken(t, name))
                .transpose()
        };
        let limit = match request.param("limit").filter(|l| !l.is_empty()) {
            Some(text) => text
                .parse::<usize>()
                .map_err(|_| invalid(format!("Invalid limit: `{text}` is not a number")))?
                .clamp(1, MAX_PAGE),
            None => MAX_PAGE,
        };
        let query = PageQuery {
            start: timetoken("start")?,
            end: timetoken("end")?,
            limit,
        };
        let page = node.actions.of_channel(channel.clone()).await?.page(query);
        let mut body = json!({ "data": page.actions });
        if let (true, Some(oldest)) = (page.more, page.actions.first()) {
            body["more"] = more(&node, &channel, oldest.action_timetoken, query);
        }
        Ok::<_, Failure>(answer(StatusCode::OK, body))
    };
    read.await.unwrap_or_else(IntoResponse::into_response)
}

/// The `more` of a truncated page: the same range, before `oldest`.
fn more(node: &Node, channel: &Channel, oldest: Timetoken, query: PageQuery) -> Value {
    let mut url = format!(
        "/v1/message-actions/{}/channel/{}?start={oldest}",
        node.config.pubnub.subscribe_key,
        utf8_percent_encode(channel.as_str(), NON_ALPHANUMERIC),
    );
    let mut more = json!({ "start": oldest, "limit": query.limit });
    if let Some(end) = query.end {
        url.push_str(&format!("&end={end}"));
        more["end"] = json!(end);
    }
    url.push_str(&format!("&limit={}", query.limit));
    more["url"] = url.into();
    more
}

/// `DELETE /v1/message-actions/{sub}/channel/{ch}/message/{mtt}/action/{att}`.
pub async fn remove(
    State(node): State<Arc<Node>>,
    Path((sub_key, channel, message, action)): Path<(String, String, String, String)>,
    request: PnRequest,
) -> Response {
    let removed = async {
        let (channel, _) = authorize(
            &node,
            &request,
            (&sub_key, &channel),
            &[],
            Permissions::DELETE,
        )?;
        let message = path_timetoken(&message, "message")?;
        let action = path_timetoken(&action, "action")?;
        let announced = match node
            .actions
            .remove(channel.clone(), message, action)
            .await?
        {
            Some(removed) => announce(&node, channel, false, &removed).await,
            None => true,
        };
        Ok::<_, Failure>(changed(json!({}), announced))
    };
    removed.await.unwrap_or_else(IntoResponse::into_response)
}
