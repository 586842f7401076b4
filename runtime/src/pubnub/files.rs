//! PubNub's Files API (the rules are in [`crate::files`]):
//! - `POST /v1/files/{sub}/channels/{ch}/generate-upload-url` with
//!   `{"name": "..."}` → `{"status": 200, "data": {"id", "name"},
//!   "file_upload_request": {"url", "method": "POST", "expiration_date",
//!   "form_fields": [{"key", "value"}...]}}`; needs `write`. The URL is this
//!   node's (`[http] public_url`, or the request's `Host`) and the fields
//!   carry a signed policy that only this upload, and only for
//!   `[files] upload_url_ttl_secs`, satisfies, and the file's media type
//!   guessed from its name (the JS SDK sends every file part as
//!   `application/octet-stream`);
//! - `POST /v1/files/upload`: the form, as S3's POST upload takes it (the
//!   fields, then the `file` part) → 204, as S3 answers (the SDKs check it);
//!   403 for a forged or expired policy, 413 past `[files] max_file_bytes`
//!   or when the files kept would pass `[files] max_total_bytes` (counted
//!   in `edgefn_files_quota_refusals_total`);
//! - `GET /v1/files/publish-file/{pub}/{sub}/0/{ch}/0/{message}` publishes
//!   the file message `{message, file: {id, name}}`, as a publish answers
//!   it; subscribers get it as a file event (`e: 4`), history keeps it with
//!   `message_type` 4; needs `write`;
//! - `GET /v1/files/{sub}/channels/{ch}/files?limit=&next=` → `{"status":
//!   200, "data": [{"name", "id", "size", "created"}...], "next", "count"}`,
//!   oldest first; needs `read`;
//! - `GET /v1/files/{sub}/channels/{ch}/files/{id}/{name}` → 307 to a signed
//!   download link on this node (`/v1/files/download/...`, valid for
//!   `[files] download_url_ttl_secs`) that answers the bytes; needs `read`;
//! - `DELETE /v1/files/{sub}/channels/{ch}/files/{id}/{name}` →
//!   `{"status": 200}`; needs `delete`.
//!
//! Errors are PubNub's object errors (`{"status", "error": true, "message",
//! "service"}`): 400 for bad input, 404 for no such file (or one kept past
//! `[files] retention_days`), 503 when the store
//! cannot answer; refusals are Access Manager's 403.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::Stream;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Deserialize;
use serde_json::json;

use super::publish::{GetPath, handle_get};
use super::reply::{self, PnError, Shape};
use super::request::PnRequest;
use crate::access::Permissions;
use crate::bus::{Channel, MessageKind};
use crate::clock::{unix_ms, unix_secs};
use crate::files::{DownloadLink, FileError, MAX_PAGE};
use crate::http::extract::Path;
use crate::node::Node;
use crate::objects::iso_time;

/// Where uploads are posted (the policy in the form says the rest).
const UPLOAD_PATH: &str = "/v1/files/upload";
/// The media type of a file whose uploader named none.
const DEFAULT_CONTENT_TYPE: &str = "application/octet-stream";
/// What a path segment of a link escapes: all but RFC 3986's unreserved.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');
/// Room in an upload form for everything but the file, in bytes.
const FORM_OVERHEAD: usize = 64 * 1024;

impl From<FileError> for PnError {
    fn from(e: FileError) -> Self {
        let status = match &e {
            FileError::Invalid(_) => StatusCode::BAD_REQUEST,
            FileError::Forbidden(_) => StatusCode::FORBIDDEN,
            FileError::NotFound => StatusCode::NOT_FOUND,
            FileError::TooLarge { .. } | FileError::QuotaExceeded { .. } => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            FileError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        };
        PnError::new(status, e.to_string(), Shape::Object).service("Files")
    }
}

/// The node's address as the client reached it: `[http] public_url`, or
/// the request's `Host` (none: the node's listen address) over plain HTTP.
fn base_url(node: &Node, headers: Option<&HeaderMap>) -> String {
    if let Some(url) = &node.config.http.public_url {
        return url.trim_end_matches('/').to_owned();
    }
    let host = headers
        .and_then(|h| h.get(header::HOST))
        .and_then(|h| h.to_str().ok())
        .map_or_else(|| node.config.listen.to_string(), str::to_owned);
    format!("http://{host}")
}

/// A signed link, valid from now, that downloads `channel`'s file `id`
/// named `name` from this node (reached as `headers` say, if given). (Also
/// what a function's getFileUrl answers, see [`crate::node`].)
///
/// # Errors
/// [`FileError::Invalid`] for an id the node cannot have made or an
/// unusable name.
pub(crate) fn download_url(
    node: &Node,
    headers: Option<&HeaderMap>,
    channel: &Channel,
    (id, name): (&str, &str),
) -> Result<String, FileError> {
    let link = node.files.download_link(channel, (id, name), unix_secs())?;
    Ok(format!(
        "{}/v1/files/download/{}/{}/{}?expires={}&sig={}",
        base_url(node, headers),
        encoded(channel.as_str()),
        id,
        encoded(name),
        link.expires,
        link.signature,
    ))
}

fn encoded(text: &str) -> impl std::fmt::Display + '_ {
    utf8_percent_encode(text, SEGMENT)
}

/// The media type a file named `name` most likely has.
fn media_type(name: &str) -> &'static str {
    mime_guess::from_path(name)
        .first_raw()
        .unwrap_or(DEFAULT_CONTENT_TYPE)
}

#[derive(Deserialize)]
struct UploadRequest {
    name: String,
}

/// `POST /v1/files/{sub}/channels/{ch}/generate-upload-url`.
pub async fn generate_upload_url(
    State(node): State<Arc<Node>>,
    Path((sub_key, channel)): Path<(String, String)>,
    headers: HeaderMap,
    request: PnRequest,
    body: Bytes,
) -> Result<Response, PnError> {
    let channel =
        request.authorize_channel(&node, (&sub_key, &channel), &body, Permissions::WRITE)?;
    let wanted: UploadRequest = serde_json::from_slice(&body).map_err(|e| {
        FileError::Invalid(format!(
            "expected a JSON body {{\"name\": \"<file name>\"}}: {e}"
        ))
    })?;
    let upload = node.files.new_upload(&channel, &wanted.name, unix_secs())?;
    let policy = &upload.policy;
    let field = |key: &str, value: &str| json!({ "key": key, "value": value });
    Ok(reply::ok(json!({
        "status": 200,
        "data": { "id": policy.id, "name": policy.name },
        "file_upload_request": {
            "url": format!("{}{UPLOAD_PATH}", base_url(&node, Some(&headers))),
            "method": "POST",
            "expiration_date": iso_time(policy.expires * 1000),
            "form_fields": [
                field("policy", &upload.encoded),
                field("signature", &upload.signature),
                field("Content-Type", media_type(&policy.name)),
            ],
        },
    })))
}

/// An upload form, read.
#[derive(Debug, Default)]
struct UploadForm {
    policy: Option<String>,
    signature: Option<String>,
    content_type: Option<String>,
    file: Option<Bytes>,
}

/// Reads an upload form from `body`: the text fields and the `file` part
/// (at most `max_bytes`; other fields at most [`FORM_OVERHEAD`], the form
/// at most both).
async fn read_form<S, E>(
    body: S,
    boundary: String,
    max_bytes: usize,
) -> Result<UploadForm, FileError>
where
    S: Stream<Item = Result<Bytes, E>> + Send + 'static,
    E: Into<Box<dyn std::error::Error + Send + Sync>> + 'static,
{
    let limits = multer::SizeLimit::new()
        .whole_stream((max_bytes + FORM_OVERHEAD) as u64)
        .per_field(FORM_OVERHEAD as u64)
        .for_field("file", max_bytes as u64);
    let constraints = multer::Constraints::new().size_limit(limits);
    let mut multipart = multer::Multipart::with_constraints(body, boundary, constraints);
    let mut form = UploadForm::default();
    let failed = |e: multer::Error| match e {
        multer::Error::FieldSizeExceeded {
            field_name: Some(name),
            limit,
        } if name != "file" => {
            FileError::Invalid(format!("form field `{name}` is longer than {limit} bytes"))
        }
        multer::Error::FieldSizeExceeded { .. } | multer::Error::StreamSizeExceeded { .. } => {
            FileError::TooLarge { limit: max_bytes }
        }
        e => FileError::Invalid(format!("the upload form cannot be read: {e}")),
    };
    while let Some(field) = multipart.next_field().await.map_err(failed)? {
        let name = field.name().unwrap_or_default().to_owned();
        if name == "file" {
            let part_type = field.content_type().map(ToString::to_string);
            form.file = Some(field.bytes().await.map_err(failed)?);
            form.content_type = form.content_type.or(part_type);
            continue;
        }
        let text = field.text().await.map_err(failed)?;
        match name.as_str() {
            "policy" => form.policy = Some(text),
            "signature" => form.signature = Some(text),
            _ if name.eq_ignore_ascii_case("content-type") => form.content_type = Some(text),
            // S3 ignores fields its policy does not name; so does this.
            _ => {}
        }
    }
    Ok(form)
}

/// `POST /v1/files/upload`: stores the form's file, answering 204.
pub async fn upload(State(node): State<Arc<Node>>, headers: HeaderMap, body: Body) -> Response {
    let stored = async {
        let boundary = headers
            .get(header::CONTENT_TYPE)
            .and_then(|t| t.to_str().ok())
            .and_then(|t| multer::parse_boundary(t).ok())
            .ok_or_else(|| {
                FileError::Invalid("the upload must be a multipart/form-data form".into())
            })?;
        let max_bytes = node.files.limits().max_bytes;
        let form = read_form(body.into_data_stream(), boundary, max_bytes).await?;
        let (Some(policy), Some(signature)) = (&form.policy, &form.signature) else {
            return Err(FileError::Forbidden(
                "the form has no `policy` and `signature` fields: post the fields generate-upload-url answered".into(),
            ));
        };
        let policy = node.files.accept_upload(policy, signature, unix_secs())?;
        let file = form
            .file
            .ok_or_else(|| FileError::Invalid("the form has no `file` part".into()))?;
        let content_type = form
            .content_type
            .filter(|t| !t.is_empty() && HeaderValue::from_str(t).is_ok())
            .unwrap_or_else(|| DEFAULT_CONTENT_TYPE.into());
        node.files.keep(policy, content_type, file, unix_ms()).await
    };
    match stored.await {
        Ok(_) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => {
            if let FileError::QuotaExceeded { .. } = e {
                node.metrics.files_quota_refusals.inc();
            }
            // Perhaps answered before the body was read to its end.
            let mut response = PnError::from(e).into_response();
            (response.headers_mut()).insert(header::CONNECTION, HeaderValue::from_static("close"));
            response
        }
    }
}

/// `GET /v1/files/publish-file/...` (the path of a GET publish): publishes
/// the file message.
pub async fn publish_file(
    State(node): State<Arc<Node>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    Path(path): Path<GetPath>,
    request: PnRequest,
) -> Result<Response, PnError> {
    handle_get(&node, client, path, &request, MessageKind::File).await
}

/// `GET /v1/files/{sub}/channels/{ch}/files`.
pub async fn list(
    State(node): State<Arc<Node>>,
    Path((sub_key, channel)): Path<(String, String)>,
    request: PnRequest,
) -> Result<Response, PnError> {
    let channel = request.authorize_channel(&node, (&sub_key, &channel), &[], Permissions::READ)?;
    let limit = match request.param("limit").filter(|l| !l.is_empty()) {
        None => MAX_PAGE,
        Some(limit) => limit
            .parse()
            .map_err(|_| FileError::Invalid(format!("limit `{limit}` is not a number of files")))?,
    };
    let next = request.param("next").filter(|n| !n.is_empty());
    let page = node.files.list(channel, limit, next).await?;
    let mut body = json!({ "status": 200, "data": page.files, "count": page.files.len() });
    if let Some(next) = page.next {
        body["next"] = next.into();
    }
    Ok(reply::ok(body))
}

/// `GET /v1/files/{sub}/channels/{ch}/files/{id}/{name}`: 307 to the
/// file's download link.
pub async fn file_url(
    State(node): State<Arc<Node>>,
    Path((sub_key, channel, id, name)): Path<(String, String, String, String)>,
    headers: HeaderMap,
    request: PnRequest,
) -> Result<Response, PnError> {
    let channel = request.authorize_channel(&node, (&sub_key, &channel), &[], Permissions::READ)?;
    let location = download_url(&node, Some(&headers), &channel, (&id, &name))?;
    let location = HeaderValue::from_str(&location).expect("an encoded URL is a header value");
    let mut response = reply::ok(json!({ "status": 307 }));
    *response.status_mut() = StatusCode::TEMPORARY_REDIRECT;
    response.headers_mut().insert(header::LOCATION, location);
    Ok(response)
}

/// `GET /v1/files/download/{ch}/{id}/{name}?expires=&sig=`: the bytes.
pub async fn download(
    State(node): State<Arc<Node>>,
    Path((channel, id, name)): Path<(String, String, String)>,
    request: PnRequest,
) -> Result<Response, PnError> {
    let channel = Channel::parse(&channel)?;
    let link = DownloadLink {
        expires: request
            .param("expires")
            .and_then(|e| e.parse().ok())
            .unwrap_or_default(),
        signature: request.param("sig").unwrap_or_default().to_owned(),
    };
    let now = unix_secs();
    node.files
        .check_download(&channel, (&id, &name), &link, now)?;
    let (file, bytes) = node.files.read(channel, (&id, &name)).await?;
    let content_type = HeaderValue::from_str(&file.content_type)
        .unwrap_or(HeaderValue::from_static(DEFAULT_CONTENT_TYPE));
    let disposition = format!("attachment; filename*=UTF-8''{}", encoded(&name));
    let headers = [
        (header::CONTENT_TYPE, content_type),
        (
            header::CONTENT_DISPOSITION,
            HeaderValue::from_str(&disposition).expect("an encoded name is a header value"),
        ),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, no-store"),
        ),
    ];
    Ok((headers, bytes).into_response())
}

/// `DELETE /v1/files/{sub}/channels/{ch}/files/{id}/{name}`.
pub async fn delete(
    State(node): State<Arc<Node>>,
    Path((sub_key, channel, id, name)): Path<(String, String, String, String)>,
    request: PnRequest,
) -> Result<Response, PnError> {
    let channel =
        request.authorize_channel(&node, (&sub_key, &channel), &[], Permissions::DELETE)?;
    node.files.delete(channel, (&id, &name)).await?;
    Ok(reply::ok(json!({ "status": 200 })))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOUNDARY: &str = "XyZ";

    fn form(parts: &[(&str, &[u8])]) -> Vec<u8> {
        let mut body = Vec::new();
        for (name, value) in parts {
            let filename = if *name == "file" {
                "; filename=\"a.bin\"\r\nContent-Type: image/png"
            } else {
                ""
            };
            body.extend_from_slice(
                format!(
                    "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"{filename}\r\n\r\n"
                )
                .as_bytes(),
            );
            body.extend_from_slice(value);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
        body
    }

    async fn read(body: Vec<u8>, max_bytes: usize) -> Result<UploadForm, FileError> {
        let chunks = body
            .chunks(1000)
            .map(|c| Ok::<_, std::io::Error>(Bytes::copy_from_slice(c)))
            .collect::<Vec<_>>();
        read_form(futures::stream::iter(chunks), BOUNDARY.into(), max_bytes).await
    }

    #[tokio::test]
    async fn reads_the_fields_and_the_file() {
        let body = form(&[("policy", b"p"), ("signature", b"s"), ("file", &[7u8; 10])]);
        let form = read(body, 10).await.unwrap();
        assert_eq!(form.policy.as_deref(), Some("p"));
        assert_eq!(form.signature.as_deref(), Some("s"));
        assert_eq!(form.content_type.as_deref(), Some("image/png"));
        assert_eq!(form.file.unwrap().as_ref(), &[7u8; 10]);
    }

    #[tokio::test]
    async fn the_form_field_names_the_type_before_the_part_does() {
        let body = form(&[("Content-Type", b"text/plain"), ("file", b"x")]);
        let form = read(body, 10).await.unwrap();
        assert_eq!(form.content_type.as_deref(), Some("text/plain"));
    }

    #[tokio::test]
    async fn a_file_past_the_limit_is_too_large() {
        let body = form(&[("policy", b"p"), ("file", &[0u8; 11])]);
        match read(body, 10).await {
            Err(FileError::TooLarge { limit: 10 }) => {}
            other => panic!("expected too large, got {other:?}"),
        }
        // Other fields are bounded by themselves, and with the file.
        let junk = vec![b'j'; FORM_OVERHEAD * 2];
        match read(form(&[("junk", &junk)]), FORM_OVERHEAD * 4).await {
            Err(FileError::Invalid(why)) => assert!(why.contains("`junk`"), "{why}"),
            other => panic!("expected a refusal, got {other:?}"),
        }
        match read(form(&[("junk", &junk)]), 10).await {
            Err(FileError::TooLarge { limit: 10 }) => {}
            other => panic!("expected too large, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_broken_form_is_invalid() {
        let body = b"--XyZ\r\nnot a header\r\n\r\n".to_vec();
        assert!(matches!(read(body, 10).await, Err(FileError::Invalid(_))));
    }
}
