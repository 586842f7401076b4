//! What every PubNub request carries: its query parameters (`uuid`, `auth`,
//! `signature`, `timestamp`, ...), the keys in its path, and the
//! authorization rule: a valid secret-key signature acts with full
//! authority; otherwise the `auth` token must grant what the request needs.
//! A v1 signature is taken only on reads sent as `GET` (see
//! [`super::signature`]); elsewhere it is refused with 403 naming why.

use std::sync::{Arc, OnceLock};

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;

use super::reply::{PnError, Shape};
use super::signature::{self, SignatureError, Signed, Versions};
use crate::access::{Access, AccessError, Permissions, Verified};
use crate::bus::{Channel, check_client_id};
use crate::clock::unix_secs;
use crate::node::Node;

/// A PubNub request's common parts.
pub struct PnRequest {
    params: Vec<(String, String)>,
    method: String,
    path: String,
    query: String,
    /// The `auth` token as verified, once (the rate limit looks at it
    /// before the body is read, the access check after).
    presented: OnceLock<Option<Result<Arc<Verified>, AccessError>>>,
}

impl<S: Send + Sync> FromRequestParts<S> for PnRequest {
    type Rejection = PnError;

    /// # Errors
    /// 400 when the client's `uuid` is in the functions' namespace (`fn:…`),
    /// on every PubNub route: publishers, presence members and subscribers
    /// named `fn:` are functions.
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default().to_owned();
        let request = Self {
            params: signature::decode_query(&query),
            method: parts.method.as_str().to_owned(),
            path: parts.uri.path().to_owned(),
            query,
            presented: OnceLock::new(),
        };
        if let Some(uuid) = request.uuid() {
            check_client_id(uuid).map_err(|e| PnError::from(e).shaped(request.error_shape()))?;
        }
        Ok(request)
    }
}

impl PnRequest {
    /// A query parameter, decoded.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a repeated query parameter, decoded.
    pub fn params_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> {
        self.params
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The shape of this request's errors: arrays for the publish family.
    fn error_shape(&self) -> Shape {
        let publishing = ["/publish/", "/signal/", "/v1/files/publish-file/"];
        if publishing.iter().any(|p| self.path.starts_with(p)) {
            Shape::Array
        } else {
            Shape::Object
        }
    }

    /// Whether the request's path starts with `prefix`.
    pub fn path_starts_with(&self, prefix: &str) -> bool {
        self.path.starts_with(prefix)
    }

    /// Whether a query parameter is `true` or `1`.
    pub fn flag(&self, name: &str) -> bool {
        matches!(self.param(name), Some("true" | "1"))
    }

    /// The client's id (`uuid`).
    pub fn uuid(&self) -> Option<&str> {
        self.param("uuid").filter(|u| !u.is_empty())
    }

    /// The `auth` token as [`Access::verify`] found it (`None`: the request
    /// presented none), verified on the first call only.
    pub fn presented_token(&self, access: &Access) -> Option<Result<Arc<Verified>, AccessError>> {
        let token = || self.param("auth").filter(|t| !t.is_empty());
        (self.presented)
            .get_or_init(|| token().map(|t| access.verify(t)))
            .clone()
    }

    /// A comma-separated parameter as a list (empty entries dropped).
    pub fn list(&self, name: &str) -> Vec<String> {
        split_list(self.param(name).unwrap_or_default())
    }

    /// Checks that the request may do `wanted` on `channels` and on the
    /// channel groups `groups`: a valid secret-key signature, or a token.
    /// Returns the token when one was used.
    ///
    /// # Errors
    /// 403 in `shape`, naming what is missing.
    pub fn authorize(
        &self,
        node: &Node,
        body: &[u8],
        wanted: Permissions,
        channels: &[&str],
        groups: &[&str],
        shape: Shape,
    ) -> Result<Option<Arc<Verified>>, PnError> {
        if !node.access.enabled() {
            return Ok(None);
        }
        if self.param("signature").is_some() {
            match self.check_signature(node, body, self.versions(wanted)) {
                Ok(()) => return Ok(None),
                Err(SignatureError::V1Refused) => {
                    return Err(refused(&SignatureError::V1Refused));
                }
                // Not the secret key's: the token decides.
                Err(_) => {}
            }
        }
        let check = || {
            let verified = node.access.authorize_verified(
                self.presented_token(&node.access),
                self.uuid(),
                wanted,
                channels.iter().copied(),
            )?;
            if let Some(verified) = &verified
                && let Some(group) = groups.iter().find(|g| !verified.allows_group(wanted, g))
            {
                return Err(AccessError::Forbidden {
                    permission: wanted.to_string(),
                    channel: (*group).to_owned(),
                });
            }
            Ok(verified)
        };
        check().map_err(|e| PnError::access(e, shape))
    }

    /// The one channel a request names, parsed, once its subscribe key and
    /// its permission `wanted` on the channel are checked.
    ///
    /// # Errors
    /// 400 for a wrong key or channel name, 403 naming what is missing.
    pub fn authorize_channel(
        &self,
        node: &Node,
        (sub_key, channel): (&str, &str),
        body: &[u8],
        wanted: Permissions,
    ) -> Result<Channel, PnError> {
        check_subscribe_key(node, sub_key)?;
        let channel = Channel::parse(channel)?;
        self.authorize(node, body, wanted, &[channel.as_str()], &[], Shape::Object)?;
        Ok(channel)
    }

    /// Checks that the request may manage channel group `group`.
    ///
    /// # Errors
    /// 403 naming what is missing.
    pub fn authorize_group(&self, node: &Node, body: &[u8], group: &str) -> Result<(), PnError> {
        self.authorize(
            node,
            body,
            Permissions::MANAGE,
            &[],
            &[group],
            Shape::Object,
        )
        .map(drop)
    }

    /// Checks that the request is signed with the secret key, with v2 (as
    /// grants and revokes must be).
    ///
    /// # Errors
    /// 403 naming what is wrong with the signature.
    pub fn require_signature(&self, node: &Node, body: &[u8]) -> Result<(), PnError> {
        if node.config.secret_key.is_none() {
            return Err(refused(&AccessError::NoKey));
        }
        if self.param("signature").is_none() {
            return Err(refused(&"this request must be signed with the secret key"));
        }
        self.check_signature(node, body, Versions::V2)
            .map_err(|e| refused(&e))
    }

    /// The signature schemes this request may use when it needs `wanted`:
    /// v1 for a read sent as `GET` (presence's heartbeat, leave and state
    /// set are `GET`s that change state), and for a publish sent as `POST`,
    /// the one write PubNub takes v1 for: its own Python SDK signs
    /// `POST /publish` that way.
    fn versions(&self, wanted: Permissions) -> Versions {
        let reading = Permissions::READ.union(Permissions::GET).contains(wanted);
        let presence_change = self.path.starts_with("/v2/presence/")
            && ["/heartbeat", "/leave", "/data"]
                .iter()
                .any(|end| self.path.ends_with(end));
        let post_publish = self.method == "POST" && self.path.starts_with("/publish/");
        if (self.method == "GET" && reading && !presence_change) || post_publish {
            Versions::V1OrV2
        } else {
            Versions::V2
        }
    }

    fn check_signature(
        &self,
        node: &Node,
        body: &[u8],
        versions: Versions,
    ) -> Result<(), SignatureError> {
        let (Some(secret), Some(signature)) = (&node.config.secret_key, self.param("signature"))
        else {
            return Err(SignatureError::Mismatch);
        };
        let pubnub = &node.config.pubnub;
        let request = Signed {
            method: &self.method,
            path: &self.path,
            query: &self.query,
            body,
        };
        let keys = (pubnub.publish_key.as_str(), pubnub.subscribe_key.as_str());
        signature::verify(&request, signature, secret, (keys, versions), unix_secs())
    }
}

/// A refused signature: 403 naming why, as Access Manager answers.
fn refused(why: &dyn std::fmt::Display) -> PnError {
    PnError::new(StatusCode::FORBIDDEN, why.to_string(), Shape::Object).service("Access Manager")
}

/// Splits `a,b,,c` into `[a, b, c]`.
pub fn split_list(text: &str) -> Vec<String> {
    text.split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Refuses a subscribe key that is not the node's.
///
/// # Errors
/// 400 `Invalid Subscribe Key`.
pub fn check_subscribe_key(node: &Node, key: &str) -> Result<(), PnError> {
    if key == node.config.pubnub.subscribe_key {
        return Ok(());
    }
    Err(PnError::new(
        StatusCode::BAD_REQUEST,
        "Invalid Subscribe Key",
        Shape::Object,
    )
    .service("Access Manager"))
}

/// Refuses a publish or subscribe key that is not the node's.
///
/// # Errors
/// 400 `[0,"Invalid Key"]`.
pub fn check_keys(node: &Node, publish_key: &str, subscribe_key: &str) -> Result<(), PnError> {
    let pubnub = &node.config.pubnub;
    if publish_key == pubnub.publish_key && subscribe_key == pubnub.subscribe_key {
        return Ok(());
    }
    Err(PnError::new(
        StatusCode::BAD_REQUEST,
        "Invalid Key",
        Shape::Array,
    ))
}
