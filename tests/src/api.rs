//! The node's HTTP API as tests use it: every call returns an [`Answer`]
//! (status and JSON body) so that a test can check failures as closely as
//! successes; the `*_ok` shorthands assert success.

use std::time::Duration;

use reqwest::Method;
use reqwest::multipart::{Form, Part};
use serde_json::Value;

use crate::auth::Auth;
use crate::check::assert_timetoken;
use crate::node::Node;
use crate::paths::guest_bytes;
use crate::wait::eventually;

/// An HTTP answer: status, body (JSON, or the text as a JSON string) and headers.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// The body as JSON (a string when it was not JSON).
    pub body: Value,
    /// The headers.
    pub headers: reqwest::header::HeaderMap,
}

impl Answer {
    /// Reads a response whole.
    pub async fn read(response: reqwest::Response) -> Answer {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response
            .text()
            .await
            .expect("cannot read the response body");
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Answer {
            status,
            body,
            headers,
        }
    }

    /// The body, after asserting a 2xx status.
    #[track_caller]
    pub fn ok(&self) -> &Value {
        assert!(
            (200..300).contains(&self.status),
            "expected success, got {}: {}",
            self.status,
            self.body
        );
        &self.body
    }

    /// The `error` object of the body, after asserting `status`, the stable
    /// `code` and the documented shape (`code`, `message`, `retryable`).
    #[track_caller]
    pub fn error(&self, status: u16, code: &str) -> &Value {
        assert_eq!(
            self.status, status,
            "unexpected status; body: {}",
            self.body
        );
        let error = &self.body["error"];
        assert_eq!(
            error["code"], code,
            "unexpected error code in {}",
            self.body
        );
        assert!(
            error["message"].as_str().is_some_and(|m| !m.is_empty()),
            "no error message in {}",
            self.body
        );
        assert!(
            error["retryable"].is_boolean(),
            "no `retryable` in {}",
            self.body
        );
        let content_type = self
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        assert!(
            content_type.starts_with("application/json"),
            "error answered as {content_type:?}"
        );
        error
    }

    /// The error's human message (after [`Answer::error`]).
    #[track_caller]
    pub fn message(&self, status: u16, code: &str) -> String {
        self.error(status, code)["message"]
            .as_str()
            .expect("a message")
            .to_owned()
    }
}

/// The three ways into the bus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `POST /v1/publish/{channel}`.
    Publish,
    /// `POST /v1/fire/{channel}`.
    Fire,
    /// `POST /v1/signal/{channel}`.
    Signal,
}

impl Op {
    fn path(self) -> &'static str {
        match self {
            Op::Publish => "publish",
            Op::Fire => "fire",
            Op::Signal => "signal",
        }
    }
}

/// The messages of a history answer, after asserting success and that it
/// names `channel`.
#[track_caller]
pub fn history_messages(answer: &Answer, channel: &str) -> Vec<Value> {
    let body = answer.ok();
    assert_eq!(
        body["channel"], channel,
        "history answer names another channel: {body}"
    );
    body["messages"]
        .as_array()
        .unwrap_or_else(|| panic!("no messages in {body}"))
        .clone()
}

impl Node {
    /// Sends `request` and reads the answer.
    pub async fn send(&self, request: reqwest::RequestBuilder) -> Answer {
        Answer::read(request.send().await.expect("the node did not answer")).await
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> Answer {
        self.send(self.http().get(self.url(path))).await
    }

    /// Publishes (or fires, or signals) the raw `body` on `channel`, which is
    /// put in the URL as given, with extra `query` parameters.
    pub async fn post_message(
        &self,
        op: Op,
        channel: &str,
        body: impl Into<reqwest::Body>,
        query: &[(&str, &str)],
    ) -> Answer {
        self.post_message_as(op, channel, body, query, &Auth::none())
            .await
    }

    /// [`Node::post_message`], presenting `auth`.
    pub async fn post_message_as(
        &self,
        op: Op,
        channel: &str,
        body: impl Into<reqwest::Body>,
        query: &[(&str, &str)],
        auth: &Auth,
    ) -> Answer {
        let url = self.url(&format!("/v1/{}/{channel}", op.path()));
        let request = self
            .http()
            .post(url)
            .query(query)
            .header("content-type", "application/json")
            .body(body);
        self.send(auth.apply(request)).await
    }

    /// Publishes `message` on `channel` and returns its timetoken.
    pub async fn publish(&self, channel: &str, message: &Value) -> String {
        self.op_ok(Op::Publish, channel, message).await
    }

    /// Runs `op` with `message` on `channel`, asserts success and returns the
    /// timetoken.
    pub async fn op_ok(&self, op: Op, channel: &str, message: &Value) -> String {
        let answer = self
            .post_message(op, channel, message.to_string(), &[])
            .await;
        let timetoken = answer.ok()["timetoken"]
            .as_str()
            .unwrap_or_else(|| panic!("no timetoken in {}", answer.body))
            .to_owned();
        assert_timetoken(&timetoken);
        timetoken
    }

    /// `GET /v1/history/{channel}?{query}`: its messages.
    pub async fn history(&self, channel: &str, query: &str) -> Vec<Value> {
        let answer = self.get(&format!("/v1/history/{channel}?{query}")).await;
        history_messages(&answer, channel)
    }

    /// `GET /v1/history/{channel}` presenting `auth`: the whole answer (see
    /// [`history_messages`]).
    pub async fn history_as(&self, channel: &str, auth: &Auth) -> Answer {
        let request = self.http().get(self.url(&format!("/v1/history/{channel}")));
        self.send(auth.apply(request)).await
    }

    /// An admin request with the node's key.
    pub async fn admin(&self, method: Method, path: &str) -> Answer {
        let request = self
            .http()
            .request(method, self.url(&format!("/v1/admin{path}")))
            .bearer_auth(self.admin_key());
        self.send(request).await
    }

    /// Deploys `bytes` as `name` with `spec` (the deployment's JSON, without
    /// the name) through `PUT /v1/admin/functions/{name}`.
    pub async fn deploy_bytes(&self, name: &str, spec: &Value, bytes: Vec<u8>) -> Answer {
        self.upload(name, deploy_form(name, spec, bytes)).await
    }

    /// Sends the deploy `form` for `name`.
    async fn upload(&self, name: &str, form: Form) -> Answer {
        let url = self.url(&format!("/v1/admin/functions/{name}"));
        self.send(
            self.http()
                .put(url)
                .bearer_auth(self.admin_key())
                .multipart(form),
        )
        .await
    }

    /// Deploys JavaScript `source` as `name` (uploaded as `{name}.js`).
    pub async fn deploy_js(&self, name: &str, source: &str, spec: &Value) -> Answer {
        let part = Part::text(source.to_owned())
            .file_name(format!("{name}.js"))
            .mime_str("text/javascript")
            .expect("a mime type");
        self.upload(name, upload_form(spec, part)).await
    }

    /// [`Node::deploy_js`], asserting success; returns the deployment.
    pub async fn deploy_js_ok(&self, name: &str, source: &str, spec: &Value) -> Value {
        let answer = self.deploy_js(name, source, spec).await;
        answer.ok()["deployed"].clone()
    }

    /// Deploys the guest `guest` (target/guests/GUEST.wasm) as `name`.
    pub async fn deploy(&self, name: &str, guest: &str, spec: &Value) -> Answer {
        self.deploy_bytes(name, spec, guest_bytes(guest)).await
    }

    /// [`Node::deploy`], asserting success; returns the deployment.
    pub async fn deploy_ok(&self, name: &str, guest: &str, spec: &Value) -> Value {
        let answer = self.deploy(name, guest, spec).await;
        let deployed = answer.ok()["deployed"].clone();
        assert_eq!(
            deployed["spec"]["name"], name,
            "deploy answer: {}",
            answer.body
        );
        deployed
    }

    /// `GET /v1/admin/functions/{name}`, asserting success.
    pub async fn show(&self, name: &str) -> Value {
        self.admin(Method::GET, &format!("/functions/{name}"))
            .await
            .ok()
            .clone()
    }

    /// The function's recent log lines.
    pub async fn logs(&self, name: &str) -> Vec<Value> {
        let answer = self
            .admin(Method::GET, &format!("/functions/{name}/logs?limit=1000"))
            .await;
        answer.ok()["lines"]
            .as_array()
            .unwrap_or_else(|| panic!("no lines in {}", answer.body))
            .clone()
    }

    /// Waits (up to `limit`) until the function's log has a line whose text
    /// contains every one of `parts`, and returns that line.
    pub async fn wait_for_log(&self, name: &str, parts: &[&str], limit: Duration) -> Value {
        let what = format!("a log line of `{name}` containing {parts:?}");
        eventually(&what, limit, || async {
            let lines = self.logs(name).await;
            lines.into_iter().find(|line| {
                line["text"]
                    .as_str()
                    .is_some_and(|t| parts.iter().all(|p| t.contains(p)))
            })
        })
        .await
    }
}

/// The `multipart/form-data` body of a deploy: `spec` (JSON) and
/// `component` (the `.wasm` bytes, as `{name}.wasm`).
pub fn deploy_form(name: &str, spec: &Value, bytes: Vec<u8>) -> Form {
    let part = Part::bytes(bytes)
        .file_name(format!("{name}.wasm"))
        .mime_str("application/wasm")
        .expect("a mime type");
    upload_form(spec, part)
}

/// A deploy form of `spec` (JSON) and `component`.
fn upload_form(spec: &Value, component: Part) -> Form {
    Form::new()
        .part(
            "spec",
            Part::text(spec.to_string())
                .mime_str("application/json")
                .expect("a mime type"),
        )
        .part("component", component)
}
