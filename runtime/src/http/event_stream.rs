//! Connections that open an event stream (`GET /v1/subscribe/...`, SSE),
//! served without hyper's HTTP/1 connection.
//!
//! An SSE subscriber holds its connection open for hours, mostly idle, so
//! what the connection keeps between events is what thousands of them
//! cost. Hyper keeps a read buffer and a write buffer of 8 KiB each for as
//! long as a connection lives (its floor); a WebSocket sheds them when it
//! upgrades, but an SSE response has no upgrade. So a connection whose
//! first bytes are an SSE subscribe is served here instead: its one request
//! head is parsed with `httparse` into a small buffer that is dropped once
//! read, the request goes through the same router (every layer, auth and
//! metric applies), and the response is written as it comes, one chunk at
//! a time, with nothing buffered in between. The connection then closes
//! (`Connection: close`): an event stream is its connection's last request.
//!
//! Held to the same limits as the other connections: the head within
//! `header_timeout_secs` and `max_header_bytes` (431 beyond it), writes
//! bounded by `write_timeout_secs` (the stream's `TimeoutStream`). A
//! request with a body, a malformed head or an HTTP version other than 1.x
//! gets a 400. A client that closes its end is noticed at once, not at the
//! next keep-alive.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, HttpBody};
use axum::extract::ConnectInfo;
use axum::http::{HeaderName, HeaderValue, Request, Response, StatusCode, Version, header};
use axum::response::IntoResponse;
use bytes::{BufMut, BytesMut};
use http_body_util::BodyExt;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tower::ServiceExt;

use super::error::ApiError;

/// How an event-stream request starts.
const PREFIX: &[u8] = b"GET /v1/subscribe/";
/// Most headers an event-stream request may have.
const MAX_HEADERS: usize = 64;
/// What the request head is first read into (it grows up to the limit).
const HEAD_CHUNK: usize = 1024;

/// Whether the bytes waiting on `stream` start an event-stream request.
/// Waits for the first bytes (at most `limit`); a first packet too short to
/// tell counts as no (hyper serves it, as any other request).
pub async fn starts_event_stream(stream: &TcpStream, limit: Duration) -> bool {
    let mut first = [0u8; PREFIX.len()];
    match tokio::time::timeout(limit, stream.peek(&mut first)).await {
        Ok(Ok(n)) => n == PREFIX.len() && first == *PREFIX,
        _ => false,
    }
}

/// Limits of an event-stream connection's request head.
#[derive(Debug, Clone, Copy)]
pub struct HeadLimits {
    /// Most bytes in the head.
    pub max_bytes: usize,
    /// Longest the client may take to send it.
    pub timeout: Duration,
}

/// Serves the one request on `stream` (from `address`) with `app`, then
/// closes it.
pub async fn serve<S>(mut stream: S, address: SocketAddr, app: Router, limits: HeadLimits)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let request =
        match tokio::time::timeout(limits.timeout, read_request(&mut stream, limits)).await {
            Ok(Ok(request)) => request,
            Ok(Err(refusal)) => {
                let _ = respond(&mut stream, Version::HTTP_11, refusal.into_response()).await;
                let _ = stream.shutdown().await;
                return;
            }
            Err(_) => return,
        };
    let (version, mut request) = request;
    request.extensions_mut().insert(ConnectInfo(address));
    let response = app
        .oneshot(request)
        .await
        .unwrap_or_else(|infallible| match infallible {});
    if let Err(e) = respond(&mut stream, version, response).await {
        tracing::debug!(%address, error = %e, "event stream ended");
    }
    let _ = stream.shutdown().await;
}

/// Why a request head was refused.
type Refusal = ApiError;

fn malformed() -> Refusal {
    ApiError::bad_request("malformed_request", "malformed HTTP/1.1 request head")
}

/// Reads and parses the request head; the buffer is gone once it returns.
async fn read_request<S>(
    stream: &mut S,
    limits: HeadLimits,
) -> Result<(Version, Request<Body>), Refusal>
where
    S: AsyncRead + Unpin,
{
    let too_large = || {
        ApiError::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "header_too_large",
            format!(
                "the request head is larger than {} bytes ([http] max_header_bytes)",
                limits.max_bytes
            ),
        )
    };
    let mut head = Vec::with_capacity(HEAD_CHUNK);
    loop {
        if head.len() >= limits.max_bytes {
            return Err(too_large());
        }
        let room = (limits.max_bytes - head.len()).min(HEAD_CHUNK);
        let start = head.len();
        head.resize(start + room, 0);
        let read = stream
            .read(&mut head[start..])
            .await
            .map_err(|_| malformed())?;
        head.truncate(start + read);
        if read == 0 {
            return Err(malformed());
        }
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut parsed = httparse::Request::new(&mut headers);
        match parsed.parse(&head) {
            Ok(httparse::Status::Complete(_)) => return to_request(&parsed),
            Ok(httparse::Status::Partial) => {}
            Err(httparse::Error::TooManyHeaders) => return Err(too_large()),
            Err(_) => return Err(malformed()),
        }
    }
}

/// The parsed head as a request without a body (one with a body is
/// refused: an event stream is a GET).
fn to_request(parsed: &httparse::Request<'_, '_>) -> Result<(Version, Request<Body>), Refusal> {
    let version = match parsed.version {
        Some(0) => Version::HTTP_10,
        Some(1) => Version::HTTP_11,
        _ => return Err(malformed()),
    };
    let mut request = Request::builder()
        .method(parsed.method.ok_or_else(malformed)?)
        .uri(parsed.path.ok_or_else(malformed)?)
        .version(version);
    for h in parsed.headers.iter() {
        let name = HeaderName::from_bytes(h.name.as_bytes()).map_err(|_| malformed())?;
        let has_body = name == header::TRANSFER_ENCODING
            || (name == header::CONTENT_LENGTH && h.value != b"0");
        if has_body {
            return Err(ApiError::bad_request(
                "unexpected_body",
                "a subscribe request has no body; send it as a plain GET",
            ));
        }
        let value = HeaderValue::from_bytes(h.value).map_err(|_| malformed())?;
        request = request.header(name, value);
    }
    let request = request.body(Body::empty()).map_err(|_| malformed())?;
    Ok((version, request))
}

/// Writes `response`: its head, then each body chunk as it comes (chunked
/// for HTTP/1.1, or delimited by the close for 1.0), ending when the body
/// ends or the client closes its end.
async fn respond<S>(stream: &mut S, version: Version, response: Response<Body>) -> io::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (parts, mut body) = response.into_parts();
    let length = HttpBody::size_hint(&body).exact();
    let chunked = length.is_none() && version == Version::HTTP_11;
    let mut head = BytesMut::with_capacity(256);
    head.put_slice(format!("{version:?} {}\r\n", parts.status).as_bytes());
    for (name, value) in &parts.headers {
        let hop_by_hop = name == header::CONNECTION
            || name == header::CONTENT_LENGTH
            || name == header::TRANSFER_ENCODING;
        if !hop_by_hop {
            put_header(&mut head, name.as_str(), value.as_bytes());
        }
    }
    match length {
        Some(length) => put_header(&mut head, "content-length", length.to_string().as_bytes()),
        None if chunked => put_header(&mut head, "transfer-encoding", b"chunked"),
        None => {}
    }
    put_header(&mut head, "connection", b"close");
    head.put_slice(b"\r\n");
    stream.write_all(&head).await?;
    stream.flush().await?;
    drop(head);

    let mut probe = [0u8; 64];
    loop {
        let frame = tokio::select! {
            frame = body.frame() => frame,
            // Whatever else the client sends is ignored; its close ends
            // the stream.
            read = stream.read(&mut probe) => match read {
                Ok(0) | Err(_) => return Ok(()),
                Ok(_) => continue,
            },
        };
        let Some(frame) = frame else { break };
        let Ok(data) = frame.map_err(io::Error::other)?.into_data() else {
            continue;
        };
        if data.is_empty() {
            continue;
        }
        if chunked {
            let mut chunk = BytesMut::with_capacity(data.len() + 16);
            chunk.put_slice(format!("{:x}\r\n", data.len()).as_bytes());
            chunk.put_slice(&data);
            chunk.put_slice(b"\r\n");
            stream.write_all(&chunk).await?;
        } else {
            stream.write_all(&data).await?;
        }
        stream.flush().await?;
    }
    if chunked {
        stream.write_all(b"0\r\n\r\n").await?;
    }
    stream.flush().await
}

fn put_header(head: &mut BytesMut, name: &str, value: &[u8]) {
    head.put_slice(name.as_bytes());
    head.put_slice(b": ");
    head.put_slice(value);
    head.put_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(head: &[u8]) -> Result<(Version, Request<Body>), Refusal> {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut parsed = httparse::Request::new(&mut headers);
        assert!(parsed.parse(head).unwrap().is_complete());
        to_request(&parsed)
    }

    #[test]
    fn a_subscribe_head_becomes_a_request_without_a_body() {
        let (version, request) = parse(
            b"GET /v1/subscribe/a,b.*?since=1 HTTP/1.1\r\nHost: x\r\nLast-Event-ID: 5\r\n\r\n",
        )
        .unwrap();
        assert_eq!(version, Version::HTTP_11);
        assert_eq!(request.uri(), "/v1/subscribe/a,b.*?since=1");
        assert_eq!(request.headers()["last-event-id"], "5");
    }

    #[test]
    fn a_head_announcing_a_body_is_refused() {
        for head in [
            &b"GET /v1/subscribe/a HTTP/1.1\r\nContent-Length: 3\r\n\r\n"[..],
            b"GET /v1/subscribe/a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
        ] {
            let refused = parse(head).unwrap_err().into_response();
            assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
        }
        assert!(parse(b"GET /v1/subscribe/a HTTP/1.1\r\nContent-Length: 0\r\n\r\n").is_ok());
    }

    #[tokio::test]
    async fn a_head_past_the_limit_gets_431() {
        let mut head = b"GET /v1/subscribe/a HTTP/1.1\r\n".to_vec();
        head.extend(std::iter::repeat_n(b"X-Pad: 0123456789\r\n", 200).flatten());
        let limits = HeadLimits {
            max_bytes: 1024,
            timeout: Duration::from_secs(1),
        };
        let refused = read_request(&mut &head[..], limits).await.unwrap_err();
        assert_eq!(
            refused.into_response().status(),
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
        );
    }
}
