//! A client that survives the node's death, what became of its requests,
//! and seeded randomness for the kill schedule.

use std::time::{SystemTime, UNIX_EPOCH};

use edgefn_e2e::*;
use reqwest::Method;

/// Talks to one node process without borrowing the [`Node`] (so the test can
/// kill it meanwhile) and without panicking when the node dies under a
/// request: a request that got no answer is `Err`.
#[derive(Clone)]
pub(super) struct Client {
    pub(super) base: String,
    pub(super) admin_key: String,
    pub(super) http: reqwest::Client,
}

impl Client {
    pub(super) fn of(node: &Node) -> Client {
        Client {
            base: node.base().to_owned(),
            admin_key: node.admin_key().to_owned(),
            http: node.http().clone(),
        }
    }

    pub(super) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends `request`: its answer, or why there was none.
    pub(super) async fn send(&self, request: reqwest::RequestBuilder) -> Result<Answer, String> {
        let response = request.send().await.map_err(|e| format!("{e:?}"))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.map_err(|e| format!("{e:?}"))?;
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Ok(Answer {
            status,
            body,
            headers,
        })
    }

    pub(super) fn admin(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, self.url(&format!("/v1/admin{path}")))
            .bearer_auth(&self.admin_key)
    }

    pub(super) fn publish(
        &self,
        channel: &str,
        payload: &Value,
        token: &str,
        store: bool,
    ) -> reqwest::RequestBuilder {
        let mut query = vec![("auth", token)];
        if !store {
            query.push(("store", "0"));
        }
        self.http
            .post(self.url(&format!("/v1/publish/{channel}")))
            .query(&query)
            .header("content-type", "application/json")
            .body(payload.to_string())
    }

    /// `PUT /v1/admin/functions/{name}` (as [`Node::deploy_bytes`] sends it).
    pub(super) fn deploy(
        &self,
        name: &str,
        spec: &Value,
        bytes: Vec<u8>,
    ) -> reqwest::RequestBuilder {
        let form = edgefn_e2e::api::deploy_form(name, spec, bytes);
        self.admin(Method::PUT, &format!("/functions/{name}"))
            .multipart(form)
    }
}

/// What became of a request that changes state.
#[derive(Debug, Clone)]
pub(super) enum Fate {
    /// Answered with success: it must be durable.
    Acked,
    /// Answered with an error: it must have changed nothing.
    Refused(String),
    /// No answer (the node died under it or before it): either way.
    InFlight,
}

pub(super) fn fate(result: &Result<Answer, String>) -> Fate {
    match result {
        Ok(answer) if (200..300).contains(&answer.status) => Fate::Acked,
        Ok(answer) => Fate::Refused(format!("{} {}", answer.status, answer.body)),
        Err(_) => Fate::InFlight,
    }
}

// ---------------------------------------------------------------------------
// Seeded randomness (no dependency): splitmix64
// ---------------------------------------------------------------------------

pub(super) struct Rng(pub(super) u64);

impl Rng {
    pub(super) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `low..=high`.
    pub(super) fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.next() % (high - low + 1)
    }
}

pub(super) fn seed() -> u64 {
    match std::env::var("EDGEFN_CRASH_SEED") {
        Ok(text) => text
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("EDGEFN_CRASH_SEED={text} is not a number")),
        Err(_) => SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64),
    }
}
