//! Reading and writing whole wasi:http bodies through wasi:io streams,
//! blocking until each step is done.

use crate::__private::bindings::wasi::http::types::{IncomingBody, OutgoingBody, http_error_code};
use crate::__private::bindings::wasi::io::streams::{self, StreamError};

/// How much to ask for per read.
const READ_CHUNK: u64 = 64 * 1024;
/// The most `blocking-write-and-flush` accepts per call.
const WRITE_CHUNK: usize = 4096;

/// Reads `body` to its end and finishes it (trailers are ignored).
pub(crate) fn read_all(body: IncomingBody) -> Result<Vec<u8>, String> {
    let stream = body
        .stream()
        .map_err(|()| "the body was already read".to_string())?;
    let mut data = Vec::new();
    loop {
        match stream.blocking_read(READ_CHUNK) {
            Ok(chunk) => data.extend_from_slice(&chunk),
            Err(StreamError::Closed) => break,
            Err(StreamError::LastOperationFailed(e)) => return Err(stream_error(e)),
        }
    }
    drop(stream);
    drop(IncomingBody::finish(body));
    Ok(data)
}

/// Writes `data` to `body` and finishes it.
pub(crate) fn write_all(body: OutgoingBody, data: &[u8]) -> Result<(), String> {
    let stream = body
        .write()
        .map_err(|()| "the body was already being written".to_string())?;
    for chunk in data.chunks(WRITE_CHUNK) {
        if let Err(e) = stream.blocking_write_and_flush(chunk) {
            return Err(match e {
                StreamError::Closed => "the body was closed before it was fully written".into(),
                StreamError::LastOperationFailed(e) => stream_error(e),
            });
        }
    }
    drop(stream);
    OutgoingBody::finish(body, None).map_err(|code| super::error::describe(&code))
}

/// An I/O error in words, preferring the HTTP error code behind it if any.
fn stream_error(e: streams::Error) -> String {
    match http_error_code(&e) {
        Some(code) => super::error::describe(&code),
        None => e.to_debug_string(),
    }
}
