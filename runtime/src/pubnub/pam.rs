//! Access Manager v3, PubNub style, for servers holding the secret key:
//! - `POST /v3/pam/{sub}/grant` with
//!   `{"ttl": MINUTES, "permissions": {"resources": {"channels": {NAME: BITS}, "groups": {...}, "uuids": {...}},
//!   "patterns": {...}, "categories": {"channels": 32, "uuids": 32}, "meta": {...},
//!   "uuid": "authorized uuid"}}`
//!   → `{"data": {"message": "Success", "token": "..."}, "service": "Access Manager", "status": 200}`;
//! - `DELETE /v3/pam/{sub}/grant/{token}` → `{"data": {"message": "Success"}, ...}`.
//!
//! Both must be signed with the secret key (signature v2, timestamp within
//! ±60 s). The tokens are the node's own (see [`crate::access`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::reply;
use super::request::{PnRequest, check_subscribe_key};
use crate::access::token::Resources;
use crate::access::{AccessError, GrantRequest, Permissions, grant};
use crate::http::extract::Path;
use crate::node::Node;

/// The grant body.
#[derive(Debug, Deserialize)]
struct GrantBody {
    ttl: u32,
    #[serde(default)]
    permissions: PermissionsBody,
}

#[derive(Debug, Default, Deserialize)]
struct PermissionsBody {
    #[serde(default)]
    resources: Sections,
    #[serde(default)]
    patterns: Sections,
    /// Grants on every resource of a kind (`channels`, `uuids`), as bits.
    #[serde(default)]
    categories: BTreeMap<String, u32>,
    meta: Option<serde_json::Map<String, Value>>,
    uuid: Option<String>,
}

/// Grants by resource kind, as permission bits (`users` / `spaces` are
/// PubNub's legacy names and grant nothing here).
#[derive(Debug, Default, Deserialize)]
struct Sections {
    #[serde(default)]
    channels: BTreeMap<String, u32>,
    #[serde(default)]
    groups: BTreeMap<String, u32>,
    #[serde(default)]
    uuids: BTreeMap<String, u32>,
}

impl From<Sections> for Resources {
    fn from(s: Sections) -> Self {
        let bits =
            |m: BTreeMap<String, u32>| m.into_iter().map(|(k, v)| (k, Permissions(v))).collect();
        Self {
            channels: bits(s.channels),
            groups: bits(s.groups),
            uuids: bits(s.uuids),
        }
    }
}

/// An Access Manager error, as PubNub shapes it.
fn error(status: StatusCode, message: &str, source: &str) -> Response {
    let body = json!({
        "status": status.as_u16(),
        "error": { "message": message, "source": source },
        "service": "Access Manager",
    });
    (status, reply::ok(body)).into_response()
}

fn access_error(e: AccessError, source: &str) -> Response {
    let status = match e {
        AccessError::Store(_) | AccessError::Cluster(_) => StatusCode::SERVICE_UNAVAILABLE,
        AccessError::NoKey => StatusCode::FORBIDDEN,
        _ => StatusCode::BAD_REQUEST,
    };
    error(status, &e.to_string(), source)
}

/// `POST /v3/pam/{sub}/grant`.
pub async fn grant(
    State(node): State<Arc<Node>>,
    Path(sub_key): Path<String>,
    request: PnRequest,
    body: Bytes,
) -> Response {
    if let Err(e) =
        check_subscribe_key(&node, &sub_key).and_then(|()| request.require_signature(&node, &body))
    {
        return e.into_response();
    }
    let body: GrantBody = match serde_json::from_slice(&body) {
        Ok(body) => body,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                &format!("Invalid grant body: {e}"),
                "grant",
            );
        }
    };
    let permissions = body.permissions;
    let categories = permissions
        .categories
        .into_iter()
        .map(|(name, bits)| (name, Permissions(bits)));
    let issued = grant::categories(categories).and_then(|categories| {
        node.access.grant(GrantRequest {
            ttl_minutes: body.ttl,
            authorized_uuid: permissions.uuid,
            resources: permissions.resources.into(),
            patterns: permissions.patterns.into(),
            categories,
            meta: permissions.meta,
        })
    });
    match issued {
        Ok(token) => reply::ok(json!({
            "data": { "message": "Success", "token": token },
            "service": "Access Manager",
            "status": 200,
        })),
        Err(e) => access_error(e, "grant"),
    }
}

/// `DELETE /v3/pam/{sub}/grant/{token}`.
pub async fn revoke(
    State(node): State<Arc<Node>>,
    Path((sub_key, token)): Path<(String, String)>,
    request: PnRequest,
) -> Response {
    if let Err(e) =
        check_subscribe_key(&node, &sub_key).and_then(|()| request.require_signature(&node, &[]))
    {
        return e.into_response();
    }
    match node.access.revoke(&token).await {
        Ok(()) => reply::ok(json!({
            "data": { "message": "Success" },
            "service": "Access Manager",
            "status": 200,
        })),
        Err(AccessError::Expired { .. }) => {
            error(StatusCode::BAD_REQUEST, "Invalid token", "revoke")
        }
        Err(e) => access_error(e, "revoke"),
    }
}
