//! Why an outbound HTTP request failed, in words.
//!
//! The host reports failures as a wasi:http `error-code`; [`describe`] turns
//! each case into a sentence fragment that reads well in a function's log.

use std::fmt;

use crate::__private::bindings::wasi::http::types::{ErrorCode, FieldSizePayload};

/// Why [`send`](super::send) did not return a response.
///
/// An HTTP error status (404, 500, ...) is not an `HttpError`: it is a
/// [`Response`](super::Response) whose [`is_success`](super::Response::is_success)
/// is false.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HttpError {
    /// The URL could not be used (the text says why).
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The request could not be built: a bad method or header, or a body that
    /// could not be serialized.
    InvalidRequest(String),
    /// The host refused to send the request: its destination is not on this
    /// function's allow-list.
    Denied,
    /// The request was sent (or tried) and failed: DNS, connection, TLS,
    /// timeout, protocol... The text is the host's error code in words.
    Transport(String),
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HttpError::InvalidUrl { url, reason } => write!(f, "invalid URL {url:?}: {reason}"),
            HttpError::InvalidRequest(why) => write!(f, "invalid HTTP request: {why}"),
            HttpError::Denied => {
                f.write_str("HTTP request denied by the host (not on this function's allow-list)")
            }
            HttpError::Transport(why) => write!(f, "HTTP request failed: {why}"),
        }
    }
}

impl std::error::Error for HttpError {}

impl From<ErrorCode> for HttpError {
    fn from(code: ErrorCode) -> Self {
        match code {
            ErrorCode::HttpRequestDenied => HttpError::Denied,
            code => HttpError::Transport(describe(&code)),
        }
    }
}

/// A wasi:http error code in words.
pub(crate) fn describe(code: &ErrorCode) -> String {
    use ErrorCode as E;
    let limit = |what: &str, size: Option<String>| match size {
        Some(size) => format!("{what} too large ({size})"),
        None => format!("{what} too large"),
    };
    match code {
        E::DnsTimeout => "DNS lookup timed out".into(),
        E::DnsError(p) => {
            let mut s = String::from("DNS lookup failed");
            if let Some(rcode) = &p.rcode {
                s += &format!(" ({rcode})");
            }
            if let Some(info) = p.info_code {
                s += &format!(" (info code {info})");
            }
            s
        }
        E::DestinationNotFound => "destination not found".into(),
        E::DestinationUnavailable => "destination unavailable".into(),
        E::DestinationIpProhibited => "destination IP address prohibited".into(),
        E::DestinationIpUnroutable => "destination IP address unroutable".into(),
        E::ConnectionRefused => "connection refused".into(),
        E::ConnectionTerminated => "connection closed unexpectedly".into(),
        E::ConnectionTimeout => "timed out connecting".into(),
        E::ConnectionReadTimeout => "timed out reading from the connection".into(),
        E::ConnectionWriteTimeout => "timed out writing to the connection".into(),
        E::ConnectionLimitReached => "connection limit reached".into(),
        E::TlsProtocolError => "TLS protocol error".into(),
        E::TlsCertificateError => "TLS certificate error".into(),
        E::TlsAlertReceived(p) => match (&p.alert_id, &p.alert_message) {
            (_, Some(msg)) => format!("TLS alert received: {msg}"),
            (Some(id), None) => format!("TLS alert {id} received"),
            (None, None) => "TLS alert received".into(),
        },
        E::HttpRequestDenied => HttpError::Denied.to_string(),
        E::HttpRequestLengthRequired => "the server requires a content-length".into(),
        E::HttpRequestBodySize(n) => limit("request body", n.map(|n| format!("{n} bytes"))),
        E::HttpRequestMethodInvalid => "invalid request method".into(),
        E::HttpRequestUriInvalid => "invalid request URI".into(),
        E::HttpRequestUriTooLong => "request URI too long".into(),
        E::HttpRequestHeaderSectionSize(n) => {
            limit("request headers", n.map(|n| format!("{n} bytes")))
        }
        E::HttpRequestHeaderSize(p) => limit("request header", p.as_ref().map(field)),
        E::HttpRequestTrailerSectionSize(n) => {
            limit("request trailers", n.map(|n| format!("{n} bytes")))
        }
        E::HttpRequestTrailerSize(p) => limit("request trailer", Some(field(p))),
        E::HttpResponseIncomplete => "incomplete response".into(),
        E::HttpResponseHeaderSectionSize(n) => {
            limit("response headers", n.map(|n| format!("{n} bytes")))
        }
        E::HttpResponseHeaderSize(p) => limit("response header", Some(field(p))),
        E::HttpResponseBodySize(n) => limit("response body", n.map(|n| format!("{n} bytes"))),
        E::HttpResponseTrailerSectionSize(n) => {
            limit("response trailers", n.map(|n| format!("{n} bytes")))
        }
        E::HttpResponseTrailerSize(p) => limit("response trailer", Some(field(p))),
        E::HttpResponseTransferCoding(c) => with_detail("unsupported response transfer-coding", c),
        E::HttpResponseContentCoding(c) => with_detail("unsupported response content-coding", c),
        E::HttpResponseTimeout => "timed out waiting for the response".into(),
        E::HttpUpgradeFailed => "HTTP upgrade failed".into(),
        E::HttpProtocolError => "HTTP protocol error".into(),
        E::LoopDetected => "request loop detected".into(),
        E::ConfigurationError => "the host's HTTP client is misconfigured".into(),
        E::InternalError(detail) => with_detail("internal error", detail),
    }
}

fn field(p: &FieldSizePayload) -> String {
    match (&p.field_name, p.field_size) {
        (Some(name), Some(size)) => format!("{name}: {size} bytes"),
        (Some(name), None) => name.clone(),
        (None, Some(size)) => format!("{size} bytes"),
        (None, None) => "size unknown".into(),
    }
}

fn with_detail(what: &str, detail: &Option<String>) -> String {
    match detail {
        Some(detail) => format!("{what}: {detail}"),
        None => what.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words() {
        assert_eq!(
            HttpError::from(ErrorCode::HttpRequestDenied).to_string(),
            "HTTP request denied by the host (not on this function's allow-list)"
        );
        assert_eq!(
            HttpError::from(ErrorCode::ConnectionRefused).to_string(),
            "HTTP request failed: connection refused"
        );
        assert_eq!(
            describe(&ErrorCode::InternalError(Some("boom".into()))),
            "internal error: boom"
        );
        assert_eq!(
            describe(&ErrorCode::HttpResponseBodySize(Some(10))),
            "response body too large (10 bytes)"
        );
    }
}
