//! HTTP for edgefn functions: the request and response of an
//! [`endpoint`](crate::endpoint), and outbound requests with [`send`].
//!
//! Everything here is synchronous and buffered: bodies are read and written
//! whole, and [`send`] blocks until the response has arrived.
//!
//! ```no_run
//! use edgefn_sdk::http::{self, OutgoingRequest};
//! use edgefn_sdk::serde_json::json;
//!
//! let response = http::send(OutgoingRequest::post("http://127.0.0.1:9000/hook").json(&json!({"a": 1})))?;
//! println!("the hook answered {}", response.status);
//! # Ok::<(), http::HttpError>(())
//! ```

mod body;
mod error;
pub(crate) mod incoming;
mod outgoing;
mod query;
mod url;

use std::str::Utf8Error;

use serde::Serialize;
use serde::de::DeserializeOwned;

pub use error::HttpError;
pub use outgoing::{OutgoingRequest, send};

/// An HTTP request to an [`endpoint`](crate::endpoint).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Request {
    /// The method, e.g. `GET` or `POST`.
    pub method: String,
    /// The path, without the query string, e.g. `/users/42`.
    pub path: String,
    /// The raw query string (without the `?`), e.g. `a=1&b=x%20y`; may be empty.
    pub query: String,
    /// The headers, in the order received. Names are usually lower-case; use
    /// [`Request::header`] to look one up regardless of case.
    pub headers: Vec<(String, String)>,
    /// The whole body (empty when there is none).
    pub body: Vec<u8>,
}

impl Request {
    /// The value of the first header called `name` (compared case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    /// The query string's `key=value` pairs, percent-decoded (`+` is a space),
    /// in order; a key without `=` has an empty value.
    ///
    /// ```
    /// # use edgefn_sdk::http::Request;
    /// let req = Request { query: "a=1&b=x%20y&flag".into(), ..Default::default() };
    /// assert_eq!(req.query_pairs(), [("a".into(), "1".into()), ("b".into(), "x y".into()), ("flag".into(), "".into())]);
    /// ```
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        query::parse(&self.query)
    }

    /// The value of the first query parameter called `name`, percent-decoded.
    pub fn query_param(&self, name: &str) -> Option<String> {
        self.query_pairs()
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }

    /// Deserializes the body as JSON into `T`.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_slice(&self.body)
    }

    /// The body as text, if it is valid UTF-8.
    pub fn text(&self) -> Result<&str, Utf8Error> {
        std::str::from_utf8(&self.body)
    }
}

/// An HTTP response: what an [`endpoint`](crate::endpoint) returns, and what
/// [`send`] gets back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code, e.g. 200.
    pub status: u16,
    /// The headers, in order.
    pub headers: Vec<(String, String)>,
    /// The whole body.
    pub body: Vec<u8>,
}

impl Response {
    /// A response with `status`, no headers and `body`.
    pub fn new(status: u16, body: impl Into<Vec<u8>>) -> Self {
        Response {
            status,
            headers: Vec::new(),
            body: body.into(),
        }
    }

    /// A JSON response (`content-type: application/json`) with `value` as its
    /// body. If `value` cannot be serialized, the response is a 500 that says why.
    ///
    /// ```
    /// # use edgefn_sdk::http::Response;
    /// let resp = Response::json(201, &edgefn_sdk::serde_json::json!({"id": 7}));
    /// assert_eq!(resp.body, br#"{"id":7}"#);
    /// assert_eq!(resp.header("Content-Type"), Some("application/json"));
    /// ```
    pub fn json(status: u16, value: &impl Serialize) -> Self {
        match serde_json::to_vec(value) {
            Ok(body) => Response::new(status, body).with_header("content-type", "application/json"),
            Err(e) => Response::text(
                500,
                format!("could not serialize the response as JSON: {e}"),
            ),
        }
    }

    /// A plain-text response (`content-type: text/plain; charset=utf-8`).
    pub fn text(status: u16, body: impl Into<String>) -> Self {
        Response::new(status, body.into()).with_header("content-type", "text/plain; charset=utf-8")
    }

    /// Adds a header (replacing none: headers may repeat).
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The value of the first header called `name` (compared case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// Deserializes the body as JSON into `T`.
    pub fn body_json<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_slice(&self.body)
    }

    /// The body as text, with invalid UTF-8 replaced by `�`.
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// What an [`endpoint`](crate::endpoint) handler may return: a [`Response`],
/// or `Result<Response, E>` where an error becomes a 500 with its text.
#[diagnostic::on_unimplemented(
    message = "an #[endpoint] handler must return `Response` or `Result<Response, E>` with `E: Display`",
    label = "`{Self}` is not a response"
)]
pub trait IntoResponse {
    /// Converts the handler's return value into the response to send.
    fn into_response(self) -> Response;
}

impl IntoResponse for Response {
    fn into_response(self) -> Response {
        self
    }
}

impl<E: std::fmt::Display> IntoResponse for Result<Response, E> {
    fn into_response(self) -> Response {
        self.unwrap_or_else(|e| Response::text(500, e.to_string()))
    }
}

fn find_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}
