//! The HTTP client the CLI commands use, turning transport failures and API
//! errors into messages that say what to do.

use anyhow::{Context, anyhow, bail};
use futures::StreamExt;
use reqwest::{RequestBuilder, Response, StatusCode};
use serde_json::Value;

use super::{AdminArgs, ClientArgs, ServerArgs};

/// A client of one node.
pub struct Client {
    http: reqwest::Client,
    base: String,
    /// Sent as `Authorization: Bearer`: the admin key, or an access token.
    bearer: Option<String>,
}

impl Client {
    /// A client for the public API, presenting `--token` if given.
    pub fn new(args: &ClientArgs) -> Self {
        Self::with_bearer(&args.server, args.token.clone())
    }

    fn with_bearer(server: &ServerArgs, bearer: Option<String>) -> Self {
        Self {
            http: reqwest::Client::new(),
            base: server.server.trim_end_matches('/').to_owned(),
            bearer,
        }
    }

    /// A client for the admin API.
    ///
    /// # Errors
    /// When no admin key was given.
    pub fn admin(args: &AdminArgs) -> anyhow::Result<Self> {
        let Some(key) = args.admin_key.clone() else {
            bail!(
                "no admin key: pass --admin-key KEY or set EDGEFN_ADMIN_KEY (`edgefn serve` printed it at first start; it is also in DATA_DIR/admin.key)"
            );
        };
        Ok(Self::with_bearer(&args.server, Some(key)))
    }

    /// A request to `path` (which starts with `/`).
    pub fn request(&self, method: reqwest::Method, path: &str) -> RequestBuilder {
        let request = self.http.request(method, format!("{}{path}", self.base));
        match &self.bearer {
            Some(key) => request.bearer_auth(key),
            None => request,
        }
    }

    /// Sends `request` and returns the response when it succeeded.
    ///
    /// # Errors
    /// When the node cannot be reached or answered with an error; the
    /// message includes the API's own explanation.
    pub async fn send(&self, request: RequestBuilder) -> anyhow::Result<Response> {
        let response = request.send().await.map_err(|e| {
            anyhow!(
                "cannot reach the edgefn node at {}: {e}\nIs `edgefn serve` running there? Point to another node with --server or EDGEFN_SERVER.",
                self.base
            )
        })?;
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        let message = body["error"]["message"]
            .as_str()
            .unwrap_or("no explanation given")
            .to_owned();
        if status == StatusCode::UNAUTHORIZED {
            bail!(
                "{message}\nThe admin key was refused: pass the right one with --admin-key or EDGEFN_ADMIN_KEY."
            );
        }
        bail!("the node answered {status}: {message}");
    }

    /// Sends `request` and hands each Server-Sent Event of the answer
    /// (event name, data) to `on_event` until the stream ends.
    ///
    /// # Errors
    /// As [`Client::send`], when the stream breaks, or what `on_event` returns.
    pub async fn events(
        &self,
        request: RequestBuilder,
        mut on_event: impl FnMut(&str, &str) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        let mut body = self.send(request).await?.bytes_stream();
        let mut buffer = String::new();
        let mut event = String::new();
        while let Some(chunk) = body.next().await {
            buffer.push_str(&String::from_utf8_lossy(
                &chunk.context("the stream broke")?,
            ));
            while let Some(end) = buffer.find('\n') {
                let line: String = buffer.drain(..=end).collect();
                let line = line.trim_end();
                if let Some(name) = line.strip_prefix("event:") {
                    event = name.trim().to_owned();
                } else if let Some(data) = line.strip_prefix("data:") {
                    on_event(&event, data.trim())?;
                } else if line.is_empty() {
                    event.clear();
                }
            }
        }
        Ok(())
    }

    /// Sends `request` and parses the JSON answer.
    ///
    /// # Errors
    /// As [`Client::send`], or when the answer is not JSON.
    pub async fn json(&self, request: RequestBuilder) -> anyhow::Result<Value> {
        let response = self.send(request).await?;
        response
            .json()
            .await
            .context("the node's answer is not JSON")
    }
}
