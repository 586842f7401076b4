//! Access tokens, for operators: `POST /v1/admin/tokens` grants,
//! `GET /v1/admin/tokens/{token}` decodes and checks one, `DELETE
//! /v1/admin/tokens/{token}` revokes one.
//!
//! A grant is JSON: `{"ttl_minutes": 60, "authorized_uuid": "alice",
//! "channels": {"chat.alice": ["read", "write"]}, "channel_patterns":
//! {"^chat\\..*$": ["read"]}, "groups": {...}, "uuids": {...},
//! "categories": {"uuids": ["get"]}, "meta": {...}}`
//! and answers `{"token": "..."}`.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::access::token::Resources;
use crate::access::{GrantRequest, Permissions, Token, grant as grants};
use crate::http::error::ApiError;
use crate::http::extract::Path;
use crate::node::Node;

/// The body of a grant.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrantBody {
    ttl_minutes: u32,
    authorized_uuid: Option<String>,
    #[serde(default)]
    channels: BTreeMap<String, Permissions>,
    #[serde(default)]
    channel_patterns: BTreeMap<String, Permissions>,
    #[serde(default)]
    groups: BTreeMap<String, Permissions>,
    #[serde(default)]
    uuids: BTreeMap<String, Permissions>,
    /// Grants on every channel or uuid (`channels`, `uuids`: `["get"]`).
    #[serde(default)]
    categories: BTreeMap<String, Permissions>,
    meta: Option<serde_json::Map<String, Value>>,
}

/// `POST /v1/admin/tokens`.
pub async fn grant(
    State(node): State<Arc<Node>>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    let body: GrantBody = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(
            "invalid_grant",
            format!("the grant is not valid JSON of the expected shape: {e}"),
        )
    })?;
    let request = GrantRequest {
        ttl_minutes: body.ttl_minutes,
        authorized_uuid: body.authorized_uuid,
        resources: Resources {
            channels: body.channels,
            groups: body.groups,
            uuids: body.uuids,
        },
        patterns: Resources {
            channels: body.channel_patterns,
            ..Resources::default()
        },
        categories: grants::categories(body.categories)?,
        meta: body.meta,
    };
    let token = node.access.grant(request)?;
    Ok(Json(json!({ "token": token })))
}

/// `GET /v1/admin/tokens/{token}`: what the token says, and whether this
/// node would accept it (`status`: `valid`, or the refusal's code).
pub async fn inspect(
    State(node): State<Arc<Node>>,
    Path(token): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let decoded = Token::decode(&token)
        .map_err(|e| ApiError::bad_request("token_malformed", e.to_string()))?;
    let status = match node.access.verify(&token) {
        Ok(_) => "valid",
        Err(e) => e.code(),
    };
    Ok(Json(
        json!({ "token": describe(&decoded.token), "status": status }),
    ))
}

/// `DELETE /v1/admin/tokens/{token}`.
pub async fn revoke(
    State(node): State<Arc<Node>>,
    Path(token): Path<String>,
) -> Result<Json<Value>, ApiError> {
    node.access.revoke(&token).await?;
    Ok(Json(json!({ "revoked": true })))
}

/// A token as JSON (also what `edgefn token parse` prints).
pub fn describe(token: &Token) -> Value {
    let section =
        |r: &Resources| json!({ "channels": r.channels, "groups": r.groups, "uuids": r.uuids });
    json!({
        "issued_at": token.issued_at,
        "ttl_minutes": token.ttl_minutes,
        "expires_at": token.expires_at(),
        "authorized_uuid": token.authorized_uuid,
        "resources": section(&token.resources),
        "patterns": section(&token.patterns),
        "categories": { "channels": token.categories.channels, "uuids": token.categories.uuids },
        "meta": token.meta,
    })
}
