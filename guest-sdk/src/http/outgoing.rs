//! Outbound HTTP requests through wasi:http/outgoing-handler, made
//! synchronous by blocking on wasi:io pollables.
//!
//! The host only lets a function reach the origins on its allow-list
//! (`allow_outbound`); anything else fails with [`HttpError::Denied`].

use std::time::Duration;

use serde::Serialize;

use super::body;
use super::url::{self, Scheme};
use super::{HttpError, Response};
use crate::__private::bindings::wasi::http::outgoing_handler;
use crate::__private::bindings::wasi::http::types as wit;

/// An HTTP request to send with [`send`] (or [`OutgoingRequest::send`]).
///
/// ```no_run
/// use edgefn_sdk::http::OutgoingRequest;
/// use std::time::Duration;
///
/// let response = OutgoingRequest::get("https://api.example.com/status?verbose=1")
///     .header("accept", "application/json")
///     .timeout(Duration::from_secs(2))
///     .send()?;
/// # Ok::<(), edgefn_sdk::http::HttpError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use = "a request does nothing until it is sent"]
pub struct OutgoingRequest {
    method: String,
    url: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    timeout: Option<Duration>,
    /// A problem found while building (reported by `send`).
    error: Option<String>,
}

impl OutgoingRequest {
    /// A request with `method` (e.g. `"PATCH"`) to the absolute `url`
    /// (`http://` or `https://`).
    pub fn new(method: impl Into<String>, url: impl Into<String>) -> Self {
        OutgoingRequest {
            method: method.into(),
            url: url.into(),
            headers: Vec::new(),
            body: Vec::new(),
            timeout: None,
            error: None,
        }
    }

    /// A `GET` request to `url`.
    pub fn get(url: impl Into<String>) -> Self {
        Self::new("GET", url)
    }

    /// A `POST` request to `url`.
    pub fn post(url: impl Into<String>) -> Self {
        Self::new("POST", url)
    }

    /// A `PUT` request to `url`.
    pub fn put(url: impl Into<String>) -> Self {
        Self::new("PUT", url)
    }

    /// A `DELETE` request to `url`.
    pub fn delete(url: impl Into<String>) -> Self {
        Self::new("DELETE", url)
    }

    /// Adds a header (headers may repeat).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// Sets the body to `value` as JSON, and the `content-type` to
    /// `application/json` unless a content-type was already given.
    pub fn json(mut self, value: &impl Serialize) -> Self {
        match serde_json::to_vec(value) {
            Ok(body) => self.body = body,
            Err(e) => self.error = Some(format!("the body could not be serialized as JSON: {e}")),
        }
        if !self.has_header("content-type") {
            self = self.header("content-type", "application/json");
        }
        self
    }

    /// Gives up when connecting, or waiting for the response or for any part
    /// of its body, takes longer than `timeout`. Without it the host's
    /// defaults (and the handler's own deadline) apply.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Sends the request: same as [`send`]`(self)`.
    pub fn send(self) -> Result<Response, HttpError> {
        send(self)
    }

    fn has_header(&self, name: &str) -> bool {
        self.headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case(name))
    }
}

/// Sends `request` and waits for the whole response.
///
/// Any response, whatever its status, is `Ok`; `Err` means there was none
/// (see [`HttpError`]). A `content-length` header is added for a non-empty
/// body unless the request has one.
pub fn send(request: OutgoingRequest) -> Result<Response, HttpError> {
    if let Some(why) = request.error {
        return Err(HttpError::InvalidRequest(why));
    }
    let url = url::parse(&request.url).map_err(|reason| HttpError::InvalidUrl {
        url: request.url.clone(),
        reason,
    })?;

    let headers = wit::Fields::new();
    for (name, value) in &request.headers {
        headers.append(name, value.as_bytes()).map_err(|e| {
            HttpError::InvalidRequest(format!("header {name:?}: {}", header_error(&e)))
        })?;
    }
    if !request.body.is_empty() && !request.has_header("content-length") {
        let length = request.body.len().to_string();
        headers.append("content-length", length.as_bytes()).ok();
    }

    let outgoing = wit::OutgoingRequest::new(headers);
    let invalid = |what: &str| HttpError::InvalidRequest(format!("the host refused the {what}"));
    outgoing
        .set_method(&method(&request.method))
        .map_err(|()| invalid("method"))?;
    let scheme = match url.scheme {
        Scheme::Http => wit::Scheme::Http,
        Scheme::Https => wit::Scheme::Https,
    };
    outgoing
        .set_scheme(Some(&scheme))
        .map_err(|()| invalid("scheme"))?;
    outgoing
        .set_authority(Some(&url.authority))
        .map_err(|()| invalid("authority"))?;
    outgoing
        .set_path_with_query(Some(&url.path_with_query))
        .map_err(|()| invalid("path"))?;

    // Take the body before `handle` consumes the request; write it after, so
    // that a body larger than the host's buffer cannot block forever.
    let out_body = outgoing.body().map_err(|()| invalid("body"))?;
    let future = outgoing_handler::handle(outgoing, request.timeout.map(options))?;
    let written = body::write_all(out_body, &request.body);
    // When the host refuses or fails the request, the body stream just
    // closes: the reason is in the response future, so prefer that.
    let incoming = wait_for(&future)?;
    written.map_err(HttpError::Transport)?;
    let status = incoming.status();
    let headers = entries(&incoming.headers());
    let data = match incoming.consume() {
        Ok(body) => body::read_all(body).map_err(HttpError::Transport)?,
        Err(()) => Vec::new(),
    };
    Ok(Response {
        status,
        headers,
        body: data,
    })
}

/// Blocks until the response head has arrived.
fn wait_for(future: &wit::FutureIncomingResponse) -> Result<wit::IncomingResponse, HttpError> {
    loop {
        match future.get() {
            Some(Ok(Ok(response))) => return Ok(response),
            Some(Ok(Err(code))) => return Err(code.into()),
            Some(Err(())) => {
                return Err(HttpError::Transport(
                    "the response was already taken".into(),
                ));
            }
            None => future.subscribe().block(),
        }
    }
}

fn options(timeout: Duration) -> wit::RequestOptions {
    let nanos = u64::try_from(timeout.as_nanos()).unwrap_or(u64::MAX);
    let options = wit::RequestOptions::new();
    // A host that does not support a timeout refuses it; the request still goes.
    options.set_connect_timeout(Some(nanos)).ok();
    options.set_first_byte_timeout(Some(nanos)).ok();
    options.set_between_bytes_timeout(Some(nanos)).ok();
    options
}

/// A method name as a wasi:http method.
fn method(name: &str) -> wit::Method {
    match name {
        "GET" => wit::Method::Get,
        "HEAD" => wit::Method::Head,
        "POST" => wit::Method::Post,
        "PUT" => wit::Method::Put,
        "DELETE" => wit::Method::Delete,
        "CONNECT" => wit::Method::Connect,
        "OPTIONS" => wit::Method::Options,
        "TRACE" => wit::Method::Trace,
        "PATCH" => wit::Method::Patch,
        other => wit::Method::Other(other.to_string()),
    }
}

/// All header entries, with values as (lossy) text.
pub(crate) fn entries(fields: &wit::Fields) -> Vec<(String, String)> {
    fields
        .entries()
        .into_iter()
        .map(|(name, value)| (name, String::from_utf8_lossy(&value).into_owned()))
        .collect()
}

/// Why a header was refused, in words.
pub(crate) fn header_error(e: &wit::HeaderError) -> &'static str {
    match e {
        wit::HeaderError::InvalidSyntax => "invalid name or value",
        wit::HeaderError::Forbidden => "forbidden by the host",
        wit::HeaderError::Immutable => "the headers are immutable",
    }
}
