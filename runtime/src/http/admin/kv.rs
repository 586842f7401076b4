//! The functions' key-value store, for operators:
//! `GET /v1/admin/kv?prefix=&cursor=&limit=` lists keys,
//! `GET /v1/admin/kv/{key}` reads (`{"key", "value"}`, 404 when missing),
//! `PUT /v1/admin/kv/{key}?ttl=SECONDS` writes the request body as the value,
//! `DELETE /v1/admin/kv/{key}` deletes (`{"deleted": bool}`).

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::clock::unix_ms;
use crate::http::error::ApiError;
use crate::http::extract::{Path, Query};
use crate::kv::{KvError, KvFailure, MAX_PAGE, MAX_VALUE_BYTES, check_key};
use crate::node::Node;

/// Query parameters of the list endpoint.
#[derive(Debug, Deserialize)]
pub struct ListParams {
    #[serde(default)]
    prefix: String,
    cursor: Option<String>,
    limit: Option<usize>,
}

/// Query parameters of the write endpoint.
#[derive(Debug, Deserialize)]
pub struct SetParams {
    ttl: Option<u64>,
}

fn failure(e: KvFailure) -> ApiError {
    match e {
        KvFailure::Invalid(e) => invalid(e),
        KvFailure::Unavailable(e) => {
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", e)
        }
    }
}

fn invalid(e: KvError) -> ApiError {
    if e.is_size_limit() {
        ApiError::too_large(e.to_string())
    } else {
        ApiError::bad_request("invalid_key", e.to_string())
    }
}

/// `GET /v1/admin/kv`.
pub async fn list(
    State(node): State<Arc<Node>>,
    Query(params): Query<ListParams>,
) -> Result<Json<Value>, ApiError> {
    let limit = params.limit.unwrap_or(MAX_PAGE);
    let page = node
        .kv
        .clone()
        .list(params.prefix, params.cursor, limit, unix_ms())
        .await
        .map_err(failure)?;
    Ok(Json(json!({ "keys": page.keys, "cursor": page.cursor })))
}

/// `GET /v1/admin/kv/{key}`.
pub async fn get(
    State(node): State<Arc<Node>>,
    Path(key): Path<String>,
) -> Result<Json<Value>, ApiError> {
    check_key(&key).map_err(invalid)?;
    let value = node
        .kv
        .clone()
        .get(key.clone(), unix_ms())
        .await
        .map_err(failure)?;
    let value = value.ok_or_else(|| ApiError::not_found(format!("no value under `{key}`")))?;
    Ok(Json(json!({ "key": key, "value": value })))
}

/// `PUT /v1/admin/kv/{key}`.
pub async fn set(
    State(node): State<Arc<Node>>,
    Path(key): Path<String>,
    Query(params): Query<SetParams>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    check_key(&key).map_err(invalid)?;
    if body.len() > MAX_VALUE_BYTES {
        return Err(invalid(KvError::TooLarge(body.len())));
    }
    let value = String::from_utf8(body.to_vec())
        .map_err(|_| ApiError::bad_request("invalid_value", "the value must be UTF-8 text"))?;
    let expires = params.ttl.map_or(0, |s| unix_ms() + s.max(1) * 1000);
    node.kv
        .clone()
        .set(key.clone(), value, expires)
        .await
        .map_err(failure)?;
    Ok(Json(json!({ "key": key })))
}

/// `DELETE /v1/admin/kv/{key}`.
pub async fn delete(
    State(node): State<Arc<Node>>,
    Path(key): Path<String>,
) -> Result<Json<Value>, ApiError> {
    check_key(&key).map_err(invalid)?;
    let deleted = node
        .kv
        .clone()
        .delete(key, unix_ms())
        .await
        .map_err(failure)?;
    Ok(Json(json!({ "deleted": deleted })))
}
