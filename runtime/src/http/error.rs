//! API errors: an HTTP status and a JSON body that says what was wrong.
//!
//! ```json
//! {"error": {"code": "rejected", "message": "function `moderate` rejected the message: ...",
//!            "retryable": false, "function": "moderate", "reason": "..."}}
//! ```
//!
//! `code` is stable and meant for programs; `message` is for people;
//! `retryable` says whether the same request may succeed later.

use axum::Json;
use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::limits::Limited;
use crate::bus::{HistoryError, MessageError, NameError, ReservedId, SequencerError};
use crate::functions::DeployError;
use crate::functions::records::StorageError;
use crate::node::PublishError;
use crate::store::StoreError;
use crate::wasm::InvokeError;

/// An error answer (boxed, as it travels in the `Err` of every handler's
/// results).
#[derive(Debug)]
pub struct ApiError(Box<Answer>);

#[derive(Debug)]
struct Answer {
    status: StatusCode,
    code: &'static str,
    message: String,
    retryable: bool,
    details: Map<String, Value>,
    /// Whether to close the connection after answering (the request body
    /// was not read to its end).
    closing: bool,
    /// Sent as `Retry-After`.
    retry_after: Option<Duration>,
}

impl ApiError {
    /// An error with `status`, stable `code` and a human `message`.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self(Box::new(Answer {
            status,
            code,
            message: message.into(),
            retryable: status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS,
            details: Map::new(),
            closing: false,
            retry_after: None,
        }))
    }

    /// 429: a rate limit was hit; the answer says when to retry.
    pub fn limited(limited: Limited) -> Self {
        let seconds = limited.retry_after.as_secs_f64().ceil().max(1.0) as u64;
        let message = format!(
            "too many publishes from this {}; retry in {seconds} s",
            limited.by
        );
        Self::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", message)
            .retry_after(Duration::from_secs(seconds))
    }

    /// Sends `Retry-After` (whole seconds) with the answer.
    pub fn retry_after(mut self, after: Duration) -> Self {
        self.0.retry_after = Some(after);
        self
    }

    /// Marks the answer as the connection's last (sent with
    /// `Connection: close`), for errors raised before the request body was
    /// read to its end.
    pub fn closing(mut self) -> Self {
        self.0.closing = true;
        self
    }

    /// 400 with `code`.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 404.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 413.
    pub fn too_large(message: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", message)
    }

    /// Adds a field next to `code` and `message`.
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.0.details.insert(key.to_owned(), value.into());
        self
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.0.status
    }

    /// The JSON body.
    pub fn body(&self) -> Value {
        let mut error = Map::new();
        error.insert("code".into(), self.0.code.into());
        error.insert("message".into(), self.0.message.clone().into());
        error.insert("retryable".into(), self.0.retryable.into());
        error.extend(self.0.details.clone());
        json!({ "error": error })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.0.status, Json(self.body())).into_response();
        if self.0.closing {
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        if let Some(after) = self.0.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(after.as_secs()));
        }
        response
    }
}

impl From<NameError> for ApiError {
    fn from(e: NameError) -> Self {
        Self::bad_request("invalid_channel", e.to_string())
    }
}

impl From<ReservedId> for ApiError {
    fn from(e: ReservedId) -> Self {
        Self::bad_request("reserved_id", e.to_string())
    }
}

impl From<MessageError> for ApiError {
    fn from(e: MessageError) -> Self {
        match e {
            MessageError::PayloadNotJson(_) => Self::bad_request("invalid_json", e.to_string()),
            MessageError::MetaNotObject => Self::bad_request("invalid_meta", e.to_string()),
            MessageError::TooLarge { size, limit, .. } => Self::too_large(e.to_string())
                .with("size", size)
                .with("limit", limit),
        }
    }
}

impl From<InvokeError> for ApiError {
    fn from(e: InvokeError) -> Self {
        let (status, code) = match &e {
            InvokeError::Deadline { .. } => (StatusCode::GATEWAY_TIMEOUT, "function_timeout"),
            InvokeError::Busy { .. } => (StatusCode::SERVICE_UNAVAILABLE, "function_busy"),
            _ => (StatusCode::BAD_GATEWAY, "function_error"),
        };
        let function = match &e {
            InvokeError::Deadline { function, .. }
            | InvokeError::Busy { function, .. }
            | InvokeError::Memory { function, .. }
            | InvokeError::Trap { function, .. }
            | InvokeError::Failed { function, .. } => function.to_string(),
        };
        Self::new(status, code, e.to_string()).with("function", function)
    }
}

/// The HTTP status a failed publish answers with, whichever API it came in.
pub fn publish_status(e: &PublishError) -> StatusCode {
    match e {
        PublishError::Rejected { .. } => StatusCode::FORBIDDEN,
        PublishError::Hook(InvokeError::Deadline { .. }) => StatusCode::GATEWAY_TIMEOUT,
        PublishError::Hook(InvokeError::Busy { .. }) => StatusCode::SERVICE_UNAVAILABLE,
        PublishError::Hook(_) | PublishError::HookOutput { .. } => StatusCode::BAD_GATEWAY,
        PublishError::Bus(SequencerError::Limit(_)) => StatusCode::BAD_REQUEST,
        PublishError::Bus(_) => StatusCode::SERVICE_UNAVAILABLE,
    }
}

impl From<PublishError> for ApiError {
    fn from(e: PublishError) -> Self {
        let (status, message) = (publish_status(&e), e.to_string());
        match e {
            PublishError::Rejected { function, reason } => Self::new(status, "rejected", message)
                .with("function", function)
                .with("reason", reason),
            PublishError::Hook(e) => e.into(),
            PublishError::HookOutput { function, .. } => {
                Self::new(status, "function_error", message).with("function", function)
            }
            PublishError::Bus(e) => e.into(),
        }
    }
}

impl From<SequencerError> for ApiError {
    fn from(e: SequencerError) -> Self {
        match e {
            SequencerError::Limit(limit) => Self::bad_request("limit_reached", limit.to_string())
                .with("limit", limit.limit.name())
                .with("max", limit.max),
            e => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                e.to_string(),
            ),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "storage_error",
            e.to_string(),
        )
    }
}

impl From<HistoryError> for ApiError {
    fn from(e: HistoryError) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "storage_error",
            e.to_string(),
        )
    }
}

impl From<DeployError> for ApiError {
    fn from(e: DeployError) -> Self {
        match e {
            DeployError::Spec(e) => Self::bad_request("invalid_spec", e.to_string()),
            DeployError::Component(e) => Self::bad_request("invalid_component", e.to_string()),
            DeployError::JavaScript(e) => Self::bad_request("invalid_javascript", e.to_string()),
            DeployError::Storage(StorageError::Store(e)) => {
                Self::new(StatusCode::SERVICE_UNAVAILABLE, "storage_error", e)
            }
            DeployError::Storage(StorageError::Unavailable(e)) => {
                Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", e)
            }
            DeployError::Secrets(e) => Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "secrets_unreadable",
                e.to_string(),
            ),
        }
    }
}
