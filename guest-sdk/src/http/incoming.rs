//! The glue behind [`endpoint`](crate::endpoint): reads the incoming
//! wasi:http request into a [`Request`], and writes the handler's
//! [`Response`] back through the response-outparam.

use super::outgoing::{entries, header_error};
use super::{IntoResponse, Request, Response, body};
use crate::__private::bindings::wasi::http::types as wit;

/// Serves one request with `handler`.
pub(crate) fn serve<R: IntoResponse>(
    request: wit::IncomingRequest,
    out: wit::ResponseOutparam,
    handler: impl FnOnce(Request) -> R,
) {
    let response = match read(request) {
        Ok(request) => handler(request).into_response(),
        Err(why) => Response::text(400, format!("could not read the request: {why}")),
    };
    write(response, out);
}

/// Reads method, path, query, headers and the whole body.
fn read(request: wit::IncomingRequest) -> Result<Request, String> {
    let method = match request.method() {
        wit::Method::Get => "GET".to_string(),
        wit::Method::Head => "HEAD".to_string(),
        wit::Method::Post => "POST".to_string(),
        wit::Method::Put => "PUT".to_string(),
        wit::Method::Delete => "DELETE".to_string(),
        wit::Method::Connect => "CONNECT".to_string(),
        wit::Method::Options => "OPTIONS".to_string(),
        wit::Method::Trace => "TRACE".to_string(),
        wit::Method::Patch => "PATCH".to_string(),
        wit::Method::Other(name) => name,
    };
    let path_with_query = request.path_with_query().unwrap_or_default();
    let (path, query) = match path_with_query.split_once('?') {
        Some((path, query)) => (path.to_string(), query.to_string()),
        None => (path_with_query, String::new()),
    };
    let path = if path.is_empty() {
        "/".to_string()
    } else {
        path
    };
    let headers = entries(&request.headers());
    let body = match request.consume() {
        Ok(body) => body::read_all(body)?,
        Err(()) => Vec::new(),
    };
    Ok(Request {
        method,
        path,
        query,
        headers,
        body,
    })
}

/// Sends `response`. Headers the host refuses are left out (and logged); an
/// invalid status becomes a 500.
fn write(response: Response, out: wit::ResponseOutparam) {
    let Response {
        status,
        headers,
        body: data,
    } = response;
    let fields = wit::Fields::new();
    for (name, value) in &headers {
        if let Err(e) = fields.append(name, value.as_bytes()) {
            eprintln!(
                "edgefn-sdk: response header {name:?} left out: {}",
                header_error(&e)
            );
        }
    }
    if !headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("content-length"))
    {
        fields
            .append("content-length", data.len().to_string().as_bytes())
            .ok();
    }
    let outgoing = wit::OutgoingResponse::new(fields);
    if outgoing.set_status_code(status).is_err() {
        eprintln!("edgefn-sdk: the handler returned the invalid status {status}");
        return write(Response::text(500, format!("invalid status {status}")), out);
    }
    let out_body = outgoing.body().expect("a new response has a body");
    wit::ResponseOutparam::set(out, Ok(outgoing));
    if let Err(why) = body::write_all(out_body, &data) {
        eprintln!("edgefn-sdk: could not write the response body: {why}");
    }
}
