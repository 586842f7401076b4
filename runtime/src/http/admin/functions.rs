//! Deployed functions: `GET /v1/admin/functions`, `GET|PUT|DELETE
//! /v1/admin/functions/{name}` (deploy is `multipart/form-data` with a
//! `spec` part, the deployment as JSON, and a `component` part, the `.wasm`
//! file, or a JavaScript module: a part whose file name ends in `.js` or
//! `.mjs`, or whose type is `text/javascript`), and `GET /v1/admin/functions/{name}/logs?limit=N[&follow=true]`
//! (with `follow`, a Server-Sent Events stream of the recent lines, then new
//! ones as they come).

use std::sync::Arc;

use std::convert::Infallible;
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::stream::{self, StreamExt};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::broadcast;

use crate::functions::spec::validate_name;
use crate::functions::{Code, Function, FunctionSpec};
use crate::http::error::ApiError;
use crate::http::extract::{Path, Query};
use crate::node::Node;
use crate::wasm::caps::log::LogLine;
use crate::wasm::javascript::is_javascript;

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
    let form = form.map_err(|e| ApiError::new(e.status(), "invalid_upload", e.body_text()))?;
    // Read the whole upload before judging it: answering early, with part of
    // the body unread, would cut the connection under the client.
    let Upload {
        spec,
        component,
        unexpected,
    } = read_upload(form).await?;
    validate_name(&name).map_err(|e| ApiError::bad_request("invalid_spec", e.to_string()))?;
    if let Some(part) = unexpected {
        return Err(ApiError::bad_request(
            "invalid_upload",
            format!("unexpected part `{part}`: send `spec` and `component`"),
        ));
    }
    let code = component.ok_or_else(|| {
        ApiError::bad_request(
            "invalid_upload",
            "the `component` part (the .wasm or .js file) is missing",
        )
    })?;
    let mut spec: Value = match spec {
        Some(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
            ApiError::bad_request("invalid_spec", format!("`spec` is not valid JSON: {e}"))
        })?,
        None => json!({}),
    };
    let Some(fields) = spec.as_object_mut() else {
        return Err(ApiError::bad_request(
            "invalid_spec",
            format!("`spec` must be a JSON object, not {spec}"),
        ));
    };
    match fields.get("name") {
        Some(given) if given != name.as_str() => {
            return Err(ApiError::bad_request(
                "invalid_spec",
                format!("`spec.name` ({given}) differs from the URL's name `{name}`"),
            ));
        }
        _ => fields.insert("name".to_owned(), name.clone().into()),
    };
    let spec: FunctionSpec = serde_json::from_value(spec)
        .map_err(|e| ApiError::bad_request("invalid_spec", e.to_string()))?;
    let deployment = node.functions.deploy(spec, code).await?;
    tracing::info!(
        function = name,
        version = deployment.version,
        component = deployment.component,
        "function deployed"
    );
    Ok(Json(json!({ "deployed": deployment })))
}

/// The parts of a deploy upload.
struct Upload {
    spec: Option<Bytes>,
    component: Option<Code>,
    /// The name of the first part that is neither.
    unexpected: Option<String>,
}

async fn read_upload(mut form: Multipart) -> Result<Upload, ApiError> {
    let form_error = |e: axum::extract::multipart::MultipartError| {
        let message = format!("the upload could not be read: {}", e.body_text());
        ApiError::new(e.status(), "invalid_upload", message).closing()
    };
    let mut upload = Upload {
        spec: None,
        component: None,
        unexpected: None,
    };
    while let Some(field) = form.next_field().await.map_err(form_error)? {
        let name = field.name().map(str::to_owned);
        let javascript = field.file_name().is_some_and(is_javascript)
            || field.content_type().is_some_and(|t| {
                t.starts_with("text/javascript") || t.starts_with("application/javascript")
            });
        let bytes = field.bytes().await.map_err(form_error)?;
        match name.as_deref() {
            Some("spec") => upload.spec = Some(bytes),
            Some("component") if javascript => {
                upload.component = Some(Code::JavaScript(bytes.into()))
            }
            Some("component") => upload.component = Some(Code::Component(bytes.into())),
            other => {
                upload
                    .unexpected
                    .get_or_insert_with(|| other.unwrap_or("(unnamed)").to_owned());
            }
        }
    }
    Ok(upload)
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
    #[serde(default)]
    follow: bool,
}

/// `GET /v1/admin/functions/{name}/logs`.
pub async fn logs(
    State(node): State<Arc<Node>>,
    Path(name): Path<String>,
    Query(params): Query<LogParams>,
) -> Result<Response, ApiError> {
    let logs = node
        .functions
        .logs(&name)
        .ok_or_else(|| no_function(&name))?;
    let limit = params.limit.unwrap_or(100);
    if !params.follow {
        return Ok(Json(json!({ "function": name, "lines": logs.tail(limit) })).into_response());
    }
    let (tail, feed) = logs.follow(limit);
    let line_event =
        |line: &LogLine| Ok::<_, Infallible>(Event::default().data(json!(line).to_string()));
    let tail: Vec<_> = tail.iter().map(line_event).collect();
    let live = stream::unfold(feed, move |mut feed| async move {
        match feed.recv().await {
            Ok(line) => Some((line_event(&line), feed)),
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                let text = format!("{missed} log lines skipped: this reader fell behind");
                let note = json!({ "source": "host", "level": "warn", "text": text });
                Some((Ok(Event::default().data(note.to_string())), feed))
            }
            Err(broadcast::error::RecvError::Closed) => None,
        }
    });
    let keepalive = Duration::from_secs(node.config.http.sse_keepalive_secs.max(1));
    Ok(Sse::new(stream::iter(tail).chain(live))
        .keep_alive(KeepAlive::new().interval(keepalive))
        .into_response())
}

fn describe(function: &Function) -> Value {
    let component = &function.prepared.component;
    let exports: Vec<&str> = [
        (component.before_publish.is_some(), "before-publish"),
        (component.after_publish.is_some(), "after-publish"),
        (component.after_presence.is_some(), "after-presence"),
        (component.interval.is_some(), "interval"),
        (component.http.is_some(), "http"),
    ]
    .into_iter()
    .filter_map(|(present, name)| present.then_some(name))
    .collect();
    let deployment = &function.deployment;
    let mut value = serde_json::to_value(deployment).expect("a deployment always serializes");
    value["exports"] = json!(exports);
    // Secrets show as set, never with their values (sealed or not).
    let secrets: serde_json::Map<String, Value> = deployment
        .sealed_secrets
        .keys()
        .map(|name| (name.clone(), "set".into()))
        .collect();
    value
        .as_object_mut()
        .expect("a deployment is an object")
        .remove("sealed_secrets");
    value["secrets"] = secrets.into();
    value
}

fn no_function(name: &str) -> ApiError {
    ApiError::not_found(format!("no function named `{name}` is deployed"))
}
