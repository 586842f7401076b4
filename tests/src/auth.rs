//! Access control as clients meet it: how a request presents its token and
//! client id ([`Auth`]), granting, inspecting and revoking tokens through the
//! admin API, and altering a real token's bytes to check that the node
//! refuses forgeries.
//!
//! Tokens are PubNub v3 tokens: a CBOR map in URL-safe base64 without
//! padding. [`alter_permissions`] rewrites the permission integer stored
//! right after a channel's name, leaving the signature as it was.

use reqwest::Method;
use serde_json::Value;

use crate::node::Node;

/// How a client presents itself to a node with access control on: a token
/// (as the `auth` query parameter or an `Authorization: Bearer` header) and
/// a client id (`uuid`), each optional.
#[derive(Debug, Clone, Default)]
pub struct Auth {
    token: Option<String>,
    bearer: bool,
    uuid: Option<String>,
}

impl Auth {
    /// No token, no client id.
    pub fn none() -> Auth {
        Auth::default()
    }

    /// `token` as the `auth` query parameter.
    pub fn token(token: &str) -> Auth {
        Auth {
            token: Some(token.to_owned()),
            ..Auth::default()
        }
    }

    /// `token` as an `Authorization: Bearer` header.
    pub fn bearer(token: &str) -> Auth {
        Auth {
            bearer: true,
            ..Auth::token(token)
        }
    }

    /// The same, saying it is client `uuid`.
    pub fn uuid(mut self, uuid: &str) -> Auth {
        self.uuid = Some(uuid.to_owned());
        self
    }

    /// The query parameters it adds (`auth` unless sent as a header, `uuid`).
    pub fn query(&self) -> Vec<(&'static str, String)> {
        let mut query = Vec::new();
        if let (Some(token), false) = (&self.token, self.bearer) {
            query.push(("auth", token.clone()));
        }
        if let Some(uuid) = &self.uuid {
            query.push(("uuid", uuid.clone()));
        }
        query
    }

    /// The `Authorization` header it adds, if any.
    pub fn header(&self) -> Option<String> {
        self.token
            .as_ref()
            .filter(|_| self.bearer)
            .map(|token| format!("Bearer {token}"))
    }

    /// `request` presenting this.
    pub fn apply(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        let request = request.query(&self.query());
        match self.header() {
            Some(header) => request.header("authorization", header),
            None => request,
        }
    }
}

impl Node {
    /// Grants a token through `POST /v1/admin/tokens` (`grant` as that
    /// endpoint takes it), asserting success.
    pub async fn grant(&self, grant: &Value) -> String {
        let request = self
            .http()
            .post(self.url("/v1/admin/tokens"))
            .bearer_auth(self.admin_key())
            .json(grant);
        let answer = self.send(request).await;
        answer.ok()["token"]
            .as_str()
            .unwrap_or_else(|| panic!("no token in {}", answer.body))
            .to_owned()
    }

    /// Revokes `token` through `DELETE /v1/admin/tokens/{token}`, asserting success.
    pub async fn revoke(&self, token: &str) {
        let answer = self
            .admin(Method::DELETE, &format!("/tokens/{token}"))
            .await;
        assert_eq!(answer.ok()["revoked"], true, "{}", answer.body);
    }

    /// `GET /v1/admin/tokens/{token}`: `{"token": {...}, "status": ...}`.
    pub async fn inspect(&self, token: &str) -> Value {
        self.admin(Method::GET, &format!("/tokens/{token}"))
            .await
            .ok()
            .clone()
    }
}

/// `token` with the permission bits stored for `channel` replaced by `bits`
/// (the CBOR integer right after the channel's name; small values only),
/// re-encoded: what a client that edits its own token would present.
#[track_caller]
pub fn alter_permissions(token: &str, channel: &str, bits: u8) -> String {
    assert!(bits < 24, "only one-byte CBOR integers are supported");
    let mut bytes = base64url_decode(token);
    let name = channel.as_bytes();
    let at = bytes
        .windows(name.len())
        .position(|w| w == name)
        .unwrap_or_else(|| panic!("`{channel}` is not in the token"))
        + name.len();
    assert!(
        bytes[at] < 24,
        "the byte after `{channel}` is not a small integer"
    );
    bytes[at] = bits;
    base64url_encode(&bytes)
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// URL-safe base64 without padding.
pub fn base64url_encode(bytes: &[u8]) -> String {
    let mut text = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            text.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    text
}

/// Decodes URL-safe base64 without padding.
#[track_caller]
pub fn base64url_decode(text: &str) -> Vec<u8> {
    let sextets: Vec<u32> = text
        .bytes()
        .map(|c| {
            ALPHABET
                .iter()
                .position(|&a| a == c)
                .unwrap_or_else(|| panic!("`{}` is not URL-safe base64", c as char))
                as u32
        })
        .collect();
    let mut bytes = Vec::new();
    for chunk in sextets.chunks(4) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, s)| n | s << (18 - 6 * i));
        for i in 0..chunk.len().saturating_sub(1) {
            bytes.push((n >> (16 - 8 * i)) as u8);
        }
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64url_round_trips() {
        for len in 0..10 {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 97 + 251) as u8).collect();
            assert_eq!(base64url_decode(&base64url_encode(&bytes)), bytes);
        }
        assert_eq!(base64url_encode(b"\xfb\xff"), "-_8");
        assert_eq!(base64url_encode(b"hello"), "aGVsbG8");
    }
}
