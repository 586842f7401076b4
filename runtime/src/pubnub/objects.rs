//! App Context (Objects v2), PubNub style (the rules are in
//! [`crate::objects`]), for uuid (user) and channel metadata:
//! - get: `GET /v2/objects/{sub}/{uuids|channels}/{id}?include=` →
//!   `{"status": 200, "data": {...}}`, 404 when there is none;
//! - set: `PATCH` the same path with the fields to set (null clears one)
//!   → the object as it is now; `If-Match: <eTag>` makes it conditional
//!   (412 when the object's eTag differs);
//! - remove: `DELETE` the same path (also conditional) →
//!   `{"status": 200, "data": null}`;
//! - get all: `GET /v2/objects/{sub}/{uuids|channels}?include=&limit=
//!   &count=&sort=&filter=&start=&end=` → `{"status": 200, "data": [...],
//!   "totalCount"?, "next"?, "prev"?}`.
//!
//! `include` takes `custom`, `status`, `type`. Each set and removal is
//! published as an object event (`e: 2`) on the channel named by the id.
//!
//! Access Manager: uuid metadata needs `get` / `update` / `delete` on the
//! token's `uuids` resource, channel metadata the same on the channel; a
//! listing shows only the objects the token may `get` (all of them with the
//! `get` category on their kind). Errors are
//! `{"status", "error": {"message", "source": "objects", "details"?}}`:
//! 400 for bad input (with the parameter it is about), 404, 412, 503;
//! refusals are Access Manager's 403.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::reply::{self, PnError, Shape};
use super::request::{PnRequest, check_subscribe_key};
use crate::access::{Permissions, Verified};
use crate::bus::{Message, MessageKind};
use crate::clock::unix_ms;
use crate::http::extract::Path;
use crate::node::Node;
use crate::objects::{
    self, Include, Kind, ListPage, ListQuery, MAX_PAGE, OBJECT_SORT, Object, ObjectError,
    parse_cursor, parse_sort_by,
};

/// Why an objects request failed.
pub(super) enum Failure {
    Request(PnError),
    Object(ObjectError),
}

impl From<PnError> for Failure {
    fn from(e: PnError) -> Self {
        Self::Request(e)
    }
}

impl From<ObjectError> for Failure {
    fn from(e: ObjectError) -> Self {
        Self::Object(e)
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let e = match self {
            Self::Request(e) => return e.into_response(),
            Self::Object(e) => e,
        };
        let (status, details) = match &e {
            ObjectError::Invalid { message, location } => (
                StatusCode::BAD_REQUEST,
                Some(json!([{
                    "message": message,
                    "location": location,
                    "locationType": if *location == "body" || *location == "path" { *location } else { "query" },
                }])),
            ),
            ObjectError::NotFound => (StatusCode::NOT_FOUND, None),
            ObjectError::Modified(_) => (StatusCode::PRECONDITION_FAILED, None),
            ObjectError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, None),
        };
        let mut error = json!({ "message": e.to_string(), "source": "objects" });
        if let Some(details) = details {
            error["details"] = details;
        }
        answer(status, json!({ "error": error }))
    }
}

/// `body` with `"status"` added, answered with `status` and PubNub's headers.
pub(super) fn answer(status: StatusCode, mut body: Value) -> Response {
    body["status"] = status.as_u16().into();
    (status, reply::ok(body)).into_response()
}

/// Checks the key and that the request may do `wanted` on object `id`
/// (every object of the kind when none); the token used, if any.
pub(super) fn authorize(
    node: &Node,
    request: &PnRequest,
    (sub_key, kind, id): (&str, Kind, Option<&str>),
    body: &[u8],
    wanted: Permissions,
) -> Result<Option<Arc<Verified>>, Failure> {
    check_subscribe_key(node, sub_key)?;
    let channels: Vec<&str> = match kind {
        Kind::Channel => id.into_iter().collect(),
        Kind::Uuid => Vec::new(),
    };
    let verified = request.authorize(node, body, wanted, &channels, &[], Shape::Object)?;
    if let (Kind::Uuid, Some(id), Some(token)) = (kind, id, &verified)
        && !token.allows_uuid(wanted, id)
    {
        let refusal = PnError::new(StatusCode::FORBIDDEN, "Forbidden", Shape::Object)
            .service("Access Manager")
            .payload(json!({ "uuids": [id] }));
        return Err(refusal.into());
    }
    Ok(verified)
}

fn include(request: &PnRequest) -> Result<Include, ObjectError> {
    Include::parse(request.param("include").unwrap_or_default())
}

/// The `If-Match` header, if any.
pub(super) fn if_match(headers: &HeaderMap) -> Result<Option<String>, ObjectError> {
    headers
        .get("if-match")
        .map(|v| {
            v.to_str()
                .map(|s| s.trim().trim_matches('"').to_owned())
                .map_err(|_| ObjectError::invalid("header", "If-Match is not text"))
        })
        .transpose()
}

/// Publishes the event of a set (`object`) or removal of `id`. (Also what
/// a function's change publishes, see [`crate::node`].)
pub(crate) async fn announce(
    node: &Node,
    kind: Kind,
    object: Option<&Object>,
    id: &str,
    by: Option<&str>,
) {
    publish(
        node,
        objects::event(kind, object, id, by.map(str::to_owned)),
        id,
    )
    .await;
}

/// Publishes an App Context event about `id` (a failure is logged: the
/// change is made).
pub(super) async fn publish(node: &Node, event: Result<Message, String>, id: &str) {
    let published = match event {
        Ok(event) => node.bus.commit(event).await.map_err(|e| e.to_string()),
        Err(e) => Err(e),
    };
    match published {
        Ok(_) => {
            let kind = MessageKind::Object.into();
            node.metrics.published.get_or_create(&kind).inc();
        }
        Err(e) => {
            tracing::warn!(id, error = %e, "App Context object changed, its event not published")
        }
    }
}

async fn get_one(
    node: &Node,
    kind: Kind,
    (sub_key, id): (String, String),
    request: &PnRequest,
) -> Response {
    let read = async {
        authorize(
            node,
            request,
            (&sub_key, kind, Some(&id)),
            &[],
            Permissions::GET,
        )?;
        let include = include(request)?;
        let object = node.objects.get(kind, &id).await?;
        Ok::<_, Failure>(answer(
            StatusCode::OK,
            json!({ "data": object.view(kind, include) }),
        ))
    };
    read.await.unwrap_or_else(IntoResponse::into_response)
}

async fn set_one(
    node: &Node,
    kind: Kind,
    (sub_key, id): (String, String),
    (request, headers, body): (&PnRequest, &HeaderMap, &[u8]),
) -> Response {
    let set = async {
        authorize(
            node,
            request,
            (&sub_key, kind, Some(&id)),
            body,
            Permissions::UPDATE,
        )?;
        let include = include(request)?;
        let patch: Map<String, Value> = serde_json::from_slice(body).map_err(|e| {
            ObjectError::invalid(
                "body",
                format!("Invalid JSON body: expected an object: {e}"),
            )
        })?;
        let object = node
            .objects
            .set(kind, &id, patch, if_match(headers)?, unix_ms())
            .await?;
        announce(node, kind, Some(&object), &id, request.uuid()).await;
        Ok::<_, Failure>(answer(
            StatusCode::OK,
            json!({ "data": object.view(kind, include) }),
        ))
    };
    set.await.unwrap_or_else(IntoResponse::into_response)
}

async fn remove_one(
    node: &Node,
    kind: Kind,
    (sub_key, id): (String, String),
    (request, headers): (&PnRequest, &HeaderMap),
) -> Response {
    let removed = async {
        authorize(
            node,
            request,
            (&sub_key, kind, Some(&id)),
            &[],
            Permissions::DELETE,
        )?;
        if node.objects.remove(kind, &id, if_match(headers)?).await? {
            announce(node, kind, None, &id, request.uuid()).await;
        }
        Ok::<_, Failure>(answer(StatusCode::OK, json!({ "data": null })))
    };
    removed.await.unwrap_or_else(IntoResponse::into_response)
}

/// The `filter` parameter. The Python SDK encodes it once more than the
/// query itself; such a filter has no spaces left but `%XX` escapes.
fn filter_text(request: &PnRequest) -> Option<String> {
    let text = request.param("filter").filter(|f| !f.trim().is_empty())?;
    if !text.contains(' ') && text.contains('%') {
        let decoded = percent_encoding::percent_decode_str(text).decode_utf8();
        if let Ok(decoded) = decoded {
            return Some(decoded.into_owned());
        }
    }
    Some(text.to_owned())
}

/// A listing's `limit`, `start` / `end`, `filter` (naming `filter_fields`),
/// `sort` (naming `sort_fields`) and whether `count` asks for the total.
pub(super) fn list_query(
    request: &PnRequest,
    filter_fields: &[&str],
    sort_fields: &'static [&'static str],
) -> Result<(ListQuery, bool), ObjectError> {
    let limit = match request.param("limit").filter(|l| !l.is_empty()) {
        Some(text) => match text.parse::<usize>() {
            Ok(limit) if (1..=MAX_PAGE).contains(&limit) => limit,
            _ => {
                return Err(ObjectError::invalid(
                    "limit",
                    format!("Invalid limit `{text}`: expected 1 to {MAX_PAGE}"),
                ));
            }
        },
        None => MAX_PAGE,
    };
    let offset = match (request.param("start"), request.param("end")) {
        (Some(start), _) if !start.is_empty() => parse_cursor("start", start)?,
        (_, Some(end)) if !end.is_empty() => parse_cursor("end", end)?,
        _ => 0,
    };
    let filter = filter_text(request)
        .map(|text| objects::parse_filter_by(&text, filter_fields))
        .transpose()?;
    let count = matches!(request.param("count"), Some("true" | "True" | "1"));
    let query = ListQuery {
        filter,
        sort: parse_sort_by(request.params_named("sort"), sort_fields)?,
        limit,
        offset,
    };
    Ok((query, count))
}

/// A listing's answer: `page` with each item as `view` makes it, and
/// `totalCount` when `count`.
pub(super) fn listing<T>(page: ListPage<T>, count: bool, view: impl Fn(&T) -> Value) -> Response {
    let data: Vec<Value> = page.objects.iter().map(view).collect();
    let mut body = json!({ "data": data });
    if count {
        body["totalCount"] = page.total.into();
    }
    if let Some(next) = page.next {
        body["next"] = next.into();
    }
    if let Some(prev) = page.prev {
        body["prev"] = prev.into();
    }
    answer(StatusCode::OK, body)
}

async fn get_all(node: &Node, kind: Kind, sub_key: String, request: &PnRequest) -> Response {
    let listed = async {
        let verified = authorize(node, request, (&sub_key, kind, None), &[], Permissions::GET)?;
        let (query, count) = list_query(request, kind.filter_fields(), OBJECT_SORT)?;
        let include = include(request)?;
        let visible = |id: &str| match (&verified, kind) {
            (None, _) => true,
            (Some(token), Kind::Uuid) => token.allows_uuid(Permissions::GET, id),
            (Some(token), Kind::Channel) => token.allows(Permissions::GET, id),
        };
        let page = node.objects.list(kind, &query, visible).await?;
        Ok::<_, Failure>(listing(page, count, |o| o.view(kind, include)))
    };
    listed.await.unwrap_or_else(IntoResponse::into_response)
}

/// `GET /v2/objects/{sub}/uuids/{uuid}`.
pub async fn get_uuid(
    State(node): State<Arc<Node>>,
    Path(path): Path<(String, String)>,
    request: PnRequest,
) -> Response {
    get_one(&node, Kind::Uuid, path, &request).await
}

/// `GET /v2/objects/{sub}/channels/{channel}`.
pub async fn get_channel(
    State(node): State<Arc<Node>>,
    Path(path): Path<(String, String)>,
    request: PnRequest,
) -> Response {
    get_one(&node, Kind::Channel, path, &request).await
}

/// `PATCH /v2/objects/{sub}/uuids/{uuid}`.
pub async fn set_uuid(
    State(node): State<Arc<Node>>,
    Path(path): Path<(String, String)>,
    request: PnRequest,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    set_one(&node, Kind::Uuid, path, (&request, &headers, &body)).await
}

/// `PATCH /v2/objects/{sub}/channels/{channel}`.
pub async fn set_channel(
    State(node): State<Arc<Node>>,
    Path(path): Path<(String, String)>,
    request: PnRequest,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    set_one(&node, Kind::Channel, path, (&request, &headers, &body)).await
}

/// `DELETE /v2/objects/{sub}/uuids/{uuid}`.
pub async fn remove_uuid(
    State(node): State<Arc<Node>>,
    Path(path): Path<(String, String)>,
    request: PnRequest,
    headers: HeaderMap,
) -> Response {
    remove_one(&node, Kind::Uuid, path, (&request, &headers)).await
}

/// `DELETE /v2/objects/{sub}/channels/{channel}`.
pub async fn remove_channel(
    State(node): State<Arc<Node>>,
    Path(path): Path<(String, String)>,
    request: PnRequest,
    headers: HeaderMap,
) -> Response {
    remove_one(&node, Kind::Channel, path, (&request, &headers)).await
}

/// `GET /v2/objects/{sub}/uuids`.
pub async fn get_all_uuids(
    State(node): State<Arc<Node>>,
    Path(sub_key): Path<String>,
    request: PnRequest,
) -> Response {
    get_all(&node, Kind::Uuid, sub_key, &request).await
}

/// `GET /v2/objects/{sub}/channels`.
pub async fn get_all_channels(
    State(node): State<Arc<Node>>,
    Path(sub_key): Path<String>,
    request: PnRequest,
) -> Response {
    get_all(&node, Kind::Channel, sub_key, &request).await
}
