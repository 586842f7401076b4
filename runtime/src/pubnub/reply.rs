//! PubNub's answer shapes: `text/javascript` bodies with CORS open, arrays
//! for the publish family (`[1,"Sent","<tt>"]`, errors `[0,"<reason>"]`)
//! and objects for the rest (errors
//! `{"status":403,"error":true,"message":"Forbidden","service":"Access Manager","payload":{...}}`).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{Value, json};

use crate::access::AccessError;
use crate::bounds::{Limit, LimitReached};
use crate::bus::{MessageError, NameError, ReservedId};
use crate::http::error::publish_status;
use crate::http::limits::Limited;
use crate::node::PublishError;

/// A JSON answer with PubNub's headers.
pub fn ok(body: Value) -> Response {
    with_headers(StatusCode::OK, body.to_string())
}

/// JSON text made elsewhere, answered with PubNub's headers.
pub fn ok_text(body: Bytes) -> Response {
    with_headers(StatusCode::OK, body)
}

fn with_headers(status: StatusCode, body: impl IntoResponse) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/javascript; charset=UTF-8"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    response
}

/// An error, in the shape of the endpoint family it comes from (boxed, as
/// it travels in the `Err` of every handler's results).
#[derive(Debug)]
pub struct PnError(Box<PnAnswer>);

#[derive(Debug)]
struct PnAnswer {
    status: StatusCode,
    message: String,
    shape: Shape,
    payload: Option<Value>,
    service: &'static str,
    retry_after: Option<u64>,
}

/// Publish-family errors are arrays; everything else objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// `[0, "<reason>"]`.
    Array,
    /// `{"status", "error": true, "message", "service", "payload"?}`.
    Object,
}

impl PnError {
    /// An error answered with `status` and `message`.
    pub fn new(status: StatusCode, message: impl Into<String>, shape: Shape) -> Self {
        Self(Box::new(PnAnswer {
            status,
            message: message.into(),
            shape,
            payload: None,
            service: "Balancer",
            retry_after: None,
        }))
    }

    /// Sets the `service` field of object errors.
    pub fn service(mut self, service: &'static str) -> Self {
        self.0.service = service;
        self
    }

    /// Sets the `payload` field of object errors.
    pub fn payload(mut self, payload: Value) -> Self {
        self.0.payload = Some(payload);
        self
    }

    /// The same error in another shape.
    pub fn shaped(mut self, shape: Shape) -> Self {
        self.0.shape = shape;
        self
    }

    /// 429: too many publishes; `Retry-After` says when to try again.
    pub fn limited(limited: Limited) -> Self {
        let seconds = limited.retry_after.as_secs_f64().ceil().max(1.0) as u64;
        let mut error = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "Too Many Requests",
            Shape::Array,
        );
        error.0.retry_after = Some(seconds);
        error
    }

    /// 400: the node keeps as much as a limit allows; the payload names it
    /// (`{"limit": "presence_members", "max": N}`).
    pub fn limit(e: LimitReached, shape: Shape) -> Self {
        let service = match e.limit {
            Limit::PresenceMembers => "Presence",
            Limit::ChannelGroups => "channel-registry",
            Limit::HistoryChannels => "Balancer",
        };
        Self::new(StatusCode::BAD_REQUEST, e.to_string(), shape)
            .service(service)
            .payload(json!({ "limit": e.limit.name(), "max": e.max }))
    }

    /// A refused access check, for resource `channel` when one is named.
    pub fn access(e: AccessError, shape: Shape) -> Self {
        let status = match &e {
            AccessError::Store(_) | AccessError::Cluster(_) => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::FORBIDDEN,
        };
        let (message, payload) = match &e {
            AccessError::Forbidden { channel, .. } => {
                ("Forbidden".to_owned(), json!({ "channels": [channel] }))
            }
            _ => (e.to_string(), json!({ "code": e.code() })),
        };
        Self::new(status, message, shape)
            .service("Access Manager")
            .payload(payload)
    }
}

impl IntoResponse for PnError {
    fn into_response(self) -> Response {
        let body = match self.0.shape {
            Shape::Array => json!([0, self.0.message]),
            Shape::Object => {
                let mut body = json!({
                    "status": self.0.status.as_u16(),
                    "error": true,
                    "message": self.0.message,
                    "service": self.0.service,
                });
                if let Some(payload) = self.0.payload {
                    body["payload"] = payload;
                }
                body
            }
        };
        let mut response = with_headers(self.0.status, body.to_string());
        if let Some(seconds) = self.0.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

impl From<NameError> for PnError {
    fn from(e: NameError) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            format!("Invalid Channel: {e}"),
            Shape::Object,
        )
    }
}

impl From<ReservedId> for PnError {
    fn from(e: ReservedId) -> Self {
        Self::new(StatusCode::BAD_REQUEST, e.to_string(), Shape::Object)
    }
}

impl From<MessageError> for PnError {
    fn from(e: MessageError) -> Self {
        let message = match e {
            MessageError::PayloadNotJson(_) => "Invalid JSON".to_owned(),
            MessageError::MetaNotObject => "Invalid meta: it must be a JSON object".to_owned(),
            MessageError::TooLarge { .. } => format!("Message Too Large: {e}"),
        };
        Self::new(StatusCode::BAD_REQUEST, message, Shape::Array)
    }
}

impl From<PublishError> for PnError {
    fn from(e: PublishError) -> Self {
        // The native API's status for the same failure (403 rejected, 502/504
        // hook failures, 503 storage), in PubNub's array shape.
        Self::new(publish_status(&e), e.to_string(), Shape::Array)
    }
}
