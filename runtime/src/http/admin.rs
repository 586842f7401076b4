//! The admin API under `/v1/admin/`, behind the admin key (sent as
//! `Authorization: Bearer KEY` or `X-Edgefn-Admin-Key: KEY`; missing or
//! wrong: 401). Keys are compared in constant time and never echoed.
//!
//! - `GET /v1/admin/functions`: every deployment;
//! - `GET /v1/admin/functions/{name}`: one deployment;
//! - `PUT /v1/admin/functions/{name}`: deploy, as `multipart/form-data` with a
//!   `spec` part (the deployment as JSON, see `FunctionSpec`) and a
//!   `component` part (the `.wasm` file); answers the new deployment once it
//!   is durable and live;
//! - `DELETE /v1/admin/functions/{name}`: remove;
//! - `GET /v1/admin/functions/{name}/logs?limit=N`: the function's recent log lines.

use std::sync::Arc;

use axum::Json;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};
use subtle::ConstantTimeEq;

use super::error::ApiError;
use super::extract::{Path, Query};
use crate::functions::spec::validate_name;
use crate::functions::{Function, FunctionSpec};
use crate::node::Node;

/// Refuses requests without the admin key.
pub async fn require_key(
    State(node): State<Arc<Node>>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let presented = presented_key(request.headers());
    let expected = node.admin_key.as_bytes();
    match presented {
        Some(key) if bool::from(key.as_bytes().ct_eq(expected)) => Ok(next.run(request).await),
        Some(_) => Err(unauthorized("the admin key is wrong")),
        None => Err(unauthorized(
            "the admin key is missing: send `Authorization: Bearer KEY`",
        )),
    }
}

fn presented_key(headers: &HeaderMap) -> Option<String> {
    let bearer = super::publish::header(headers, "authorization")
        .and_then(|v| v.strip_prefix("Bearer ").map(|k| k.trim().to_owned()));
    bearer.or_else(|| super::publish::header(headers, "x-edgefn-admin-key"))
}

fn unauthorized(message: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
}

/// `GET /v1/admin/functions`.
pub async fn list(State(node): State<Arc<Node>>) -> Json<Value> {
    let registry = node.functions.snapshot();
    let functions: Vec<Value> = registry.iter().map(|f| describe(f)).collect();
    Json(json!({ "functions": functions }))
}

/// `GET /v1/admin/functions/{name}`.
pub async fn show(
    State(node): State<Arc<Node>>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let registry = node.functions.snapshot();
    let function = registry.get(&name).ok_or_else(|| no_function(&name))?;
    Ok(Json(describe(function)))
}

/// `PUT /v1/admin/functions/{name}`.
pub async fn deploy(
    State(node): State<Arc<Node>>,
    Path(name): Path<String>,
    form: Result<Multipart, MultipartRejection>,
) -> Result<Json<Value>, ApiError> {
    let mut form = form.map_err(|e| ApiError::new(e.status(), "invalid_upload", e.body_text()))?;
    validate_name(&name).map_err(|e| ApiError::bad_request("invalid_spec", e.to_string()))?;
    let mut spec = None;
    let mut component = None;
    let form_error = |e: axum::extract::multipart::MultipartError| {
        ApiError::new(
            e.status(),
            "invalid_upload",
            format!("the upload could not be read: {}", e.body_text()),
        )
    };
    while let Some(field) = form.next_field().await.map_err(form_error)? {
        match field.name() {
            Some("spec") => spec = Some(field.bytes().await.map_err(form_error)?),
            Some("component") => component = Some(field.bytes().await.map_err(form_error)?),
            other => {
                let part = other.unwrap_or("(unnamed)");
                return Err(ApiError::bad_request(
                    "invalid_upload",
                    format!("unexpected part `{part}`: send `spec` and `component`"),
                ));
            }
        }
    }
    let component = component.ok_or_else(|| {
        ApiError::bad_request(
            "invalid_upload",
            "the `component` part (the .wasm file) is missing",
        )
    })?;
    let mut spec: Value = match spec {
        Some(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
            ApiError::bad_request("invalid_spec", format!("`spec` is not valid JSON: {e}"))
        })?,
        None => json!({}),
    };
    match spec.get("name") {
        Some(given) if given != name.as_str() => {
            return Err(ApiError::bad_request(
                "invalid_spec",
                format!("`spec.name` ({given}) differs from the URL's name `{name}`"),
            ));
        }
        _ => spec["name"] = name.clone().into(),
    }
    let spec: FunctionSpec = serde_json::from_value(spec)
        .map_err(|e| ApiError::bad_request("invalid_spec", e.to_string()))?;
    let deployment = node.functions.deploy(spec, component.to_vec()).await?;
    tracing::info!(
        function = name,
        version = deployment.version,
        component = deployment.component,
        "function deployed"
    );
    Ok(Json(json!({ "deployed": deployment })))
}

/// `DELETE /v1/admin/functions/{name}`.
pub async fn remove(
    State(node): State<Arc<Node>>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    if !node.functions.remove(&name).await? {
        return Err(no_function(&name));
    }
    tracing::info!(function = name, "function removed");
    Ok(Json(json!({ "removed": name })))
}

/// Query parameters of the logs endpoint.
#[derive(Debug, Deserialize)]
pub struct LogParams {
    limit: Option<usize>,
}

/// `GET /v1/admin/functions/{name}/logs`.
pub async fn logs(
    State(node): State<Arc<Node>>,
    Path(name): Path<String>,
    Query(params): Query<LogParams>,
) -> Result<Json<Value>, ApiError> {
    let logs = node
        .functions
        .logs(&name)
        .ok_or_else(|| no_function(&name))?;
    Ok(Json(
        json!({ "function": name, "lines": logs.tail(params.limit.unwrap_or(100)) }),
    ))
}

fn describe(function: &Function) -> Value {
    let component = &function.prepared.component;
    let exports: Vec<&str> = [
        (component.before_publish.is_some(), "before-publish"),
        (component.after_publish.is_some(), "after-publish"),
        (component.interval.is_some(), "interval"),
        (component.http.is_some(), "http"),
    ]
    .into_iter()
    .filter_map(|(present, name)| present.then_some(name))
    .collect();
    let mut value =
        serde_json::to_value(&function.deployment).expect("a deployment always serializes");
    value["exports"] = json!(exports);
    value
}

fn no_function(name: &str) -> ApiError {
    ApiError::not_found(format!("no function named `{name}` is deployed"))
}
