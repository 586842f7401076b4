//! App Context memberships, PubNub style (the rules are in
//! [`crate::objects::memberships`]):
//! - a uuid's memberships: `GET /v2/objects/{sub}/uuids/{uuid}/channels
//!   ?include=&limit=&count=&sort=&filter=&start=&end=` → `{"status": 200,
//!   "data": [{"channel": {"id", ...}, "custom"?, "status"?, "type"?,
//!   "updated", "eTag"}], "totalCount"?, "next"?, "prev"?}`;
//! - changing them (PubNub's set, remove and manage): `PATCH` the same path
//!   with `{"set": [{"channel": {"id"}, "custom"?, "status"?, "type"?}],
//!   "delete": [{"channel": {"id"}}]}` → the listing after the change, as
//!   the same query reads it; `If-Match: <eTag>` makes it conditional on
//!   every membership it names (412 otherwise);
//! - a channel's members: the same under `/v2/objects/{sub}/channels/
//!   {channel}/uuids`, with `uuid` where memberships have `channel`.
//!
//! `include` takes `custom`, `status`, `type`, `totalCount` and the other
//! end (`channel`, `channel.custom`, `channel.status`, `channel.type`;
//! `uuid...` for members); `filter` and `sort` may name the other end's
//! fields (`channel.name`, `uuid.custom.rank`). Each set and removal is
//! published as a membership event (`e: 2`) on the channel and on the
//! uuid's channel.
//!
//! Access Manager, as PubNub maps it: reading memberships needs `get` on
//! the uuid, changing them `update` on the uuid and `join` on every channel
//! named; reading members needs `get` on the channel, changing them
//! `manage` on it. Errors are those of [`super::objects`].

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};

use super::objects::{Failure, authorize, if_match, list_query, listing, publish};
use super::reply::{PnError, Shape};
use super::request::PnRequest;
use crate::access::{AccessError, Permissions};
use crate::clock::unix_ms;
use crate::http::extract::Path;
use crate::node::Node;
use crate::objects::Kind;
use crate::objects::memberships::{self, Changed, MembershipInclude, filter_fields, sort_fields};

/// Answers the memberships of `id` (from `from`) as the request's query
/// asks, after applying the change (its headers and body) when there is
/// one.
async fn memberships(
    node: &Node,
    from: Kind,
    (sub_key, id): (String, String),
    request: &PnRequest,
    change: Option<(&HeaderMap, &[u8])>,
) -> Response {
    let answered = async {
        let wanted = match (from, change) {
            (Kind::Uuid, Some(_)) => Permissions::UPDATE,
            (Kind::Channel, Some(_)) => Permissions::MANAGE,
            (_, None) => Permissions::GET,
        };
        let signed_body = change.map(|(_, body)| body).unwrap_or_default();
        let token = authorize(
            node,
            request,
            (&sub_key, from, Some(&id)),
            signed_body,
            wanted,
        )?;
        let include = MembershipInclude::parse(request.param("include").unwrap_or_default(), from)?;
        let (query, count) = list_query(request, filter_fields(from), sort_fields(from))?;
        if let Some((headers, body)) = change {
            let changes = node.objects.parse_changes(from, body)?;
            if let (Kind::Uuid, Some(token)) = (from, &token)
                && let Some(channel) = changes
                    .named()
                    .find(|channel| !token.allows(Permissions::JOIN, channel))
            {
                let refusal = AccessError::Forbidden {
                    permission: Permissions::JOIN.to_string(),
                    channel: channel.to_owned(),
                };
                return Err(PnError::access(refusal, Shape::Object).into());
            }
            let changed = node
                .objects
                .manage(from, &id, changes, if_match(headers)?, unix_ms())
                .await?;
            announce(node, &changed, &id, request.uuid()).await;
        }
        let page = node.objects.memberships(from, &id, &query).await?;
        Ok::<_, Failure>(listing(
            page,
            count || include.total_count,
            |(membership, other)| membership.view(from, other.as_ref(), &include),
        ))
    };
    answered.await.unwrap_or_else(IntoResponse::into_response)
}

/// Publishes the events of the `changed` memberships of `id`, by `by`.
/// (Also what a function's change publishes, see [`crate::node`].)
pub(crate) async fn announce(node: &Node, changed: &[Changed], id: &str, by: Option<&str>) {
    for change in changed {
        for event in memberships::events(change, by) {
            publish(node, event, id).await;
        }
    }
}

/// `GET /v2/objects/{sub}/uuids/{uuid}/channels`.
pub async fn get_memberships(
    State(node): State<Arc<Node>>,
    Path(path): Path<(String, String)>,
    request: PnRequest,
) -> Response {
    memberships(&node, Kind::Uuid, path, &request, None).await
}

/// `PATCH /v2/objects/{sub}/uuids/{uuid}/channels`.
pub async fn set_memberships(
    State(node): State<Arc<Node>>,
    Path(path): Path<(String, String)>,
    request: PnRequest,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    memberships(&node, Kind::Uuid, path, &request, Some((&headers, &body))).await
}

/// `GET /v2/objects/{sub}/channels/{channel}/uuids`.
pub async fn get_members(
    State(node): State<Arc<Node>>,
    Path(path): Path<(String, String)>,
    request: PnRequest,
) -> Response {
    memberships(&node, Kind::Channel, path, &request, None).await
}

/// `PATCH /v2/objects/{sub}/channels/{channel}/uuids`.
pub async fn set_members(
    State(node): State<Arc<Node>>,
    Path(path): Path<(String, String)>,
    request: PnRequest,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    memberships(
        &node,
        Kind::Channel,
        path,
        &request,
        Some((&headers, &body)),
    )
    .await
}
