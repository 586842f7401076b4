//! Access tokens for clients of the bus (PubNub Access Manager v3 format).
//!
//! A node started with a secret key refuses publishes and subscriptions
//! that do not present a token covering the channel. A function can issue
//! such tokens with [`Grant`], end them with [`revoke`], and read one with
//! [`parse`]. Granting and revoking need a deployment that allows it
//! (`--allow-token-grant`); others get [`Error::Denied`]. Any function may
//! parse.
//!
//! ```no_run
//! use edgefn_sdk::tokens::{Grant, Permissions};
//!
//! let token = Grant::new(60)
//!     .user("alice")
//!     .channel("chat.alice", Permissions::READ | Permissions::WRITE)
//!     .pattern("^chat\\.public\\..*$", Permissions::READ)
//!     .issue()?;
//! # Ok::<(), edgefn_sdk::Error>(())
//! ```

use serde::Serialize;
use serde_json::Value;

use crate::__private::bindings::edgefn::functions::tokens as wit;
use crate::Error;
use crate::error::to_json;

/// What a token allows on a channel: combine with `|`, e.g.
/// `Permissions::READ | Permissions::WRITE`.
///
/// `READ` covers subscribe, history and presence; `WRITE` covers publish,
/// fire and signal. `MANAGE`, `DELETE`, `GET`, `UPDATE` and `JOIN` are
/// carried in the token for PubNub compatibility.
pub use wit::Permissions;

/// The longest lifetime of a token, in minutes (30 days).
pub const MAX_TTL_MINUTES: u32 = 43_200;

/// Permissions on one channel, or on the channels matching one pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelGrant {
    /// The channel's name, or the pattern (a regular expression that must
    /// match the whole channel name).
    pub name: String,
    /// What is allowed there.
    pub permissions: Permissions,
}

/// Grants on one kind of resource other than channels (channel groups,
/// client ids), by name and by pattern.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResourceGrants {
    /// By exact name.
    pub names: Vec<ChannelGrant>,
    /// By pattern (a regular expression that must match the whole name).
    pub patterns: Vec<ChannelGrant>,
}

impl ResourceGrants {
    fn to_wit(&self) -> wit::ResourceGrants {
        wit::ResourceGrants {
            names: grants_to_wit(&self.names),
            patterns: grants_to_wit(&self.patterns),
        }
    }

    fn from_wit(grants: wit::ResourceGrants) -> Self {
        Self {
            names: grants_from_wit(grants.names),
            patterns: grants_from_wit(grants.patterns),
        }
    }
}

fn grants_to_wit(grants: &[ChannelGrant]) -> Vec<wit::ChannelGrant> {
    grants
        .iter()
        .map(|g| wit::ChannelGrant {
            name: g.name.clone(),
            permissions: g.permissions,
        })
        .collect()
}

fn grants_from_wit(grants: Vec<wit::ChannelGrant>) -> Vec<ChannelGrant> {
    grants
        .into_iter()
        .map(|g| ChannelGrant {
            name: g.name,
            permissions: g.permissions,
        })
        .collect()
}

/// A token to issue: a builder, finished by [`Grant::issue`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use = "a grant does nothing until it is issued"]
pub struct Grant {
    ttl_minutes: u32,
    user: Option<String>,
    channels: Vec<ChannelGrant>,
    patterns: Vec<ChannelGrant>,
    groups: ResourceGrants,
    uuids: ResourceGrants,
    meta: Result<Option<String>, Error>,
}

impl Grant {
    /// A token valid for `ttl_minutes` (1 to [`MAX_TTL_MINUTES`]; the host
    /// refuses anything else with [`Error::Invalid`]) that grants nothing yet.
    pub fn new(ttl_minutes: u32) -> Self {
        Grant {
            ttl_minutes,
            user: None,
            channels: Vec::new(),
            patterns: Vec::new(),
            groups: ResourceGrants::default(),
            uuids: ResourceGrants::default(),
            meta: Ok(None),
        }
    }

    /// Binds the token to one client id (uuid): only a client presenting
    /// that id may use it.
    pub fn user(mut self, id: impl Into<String>) -> Self {
        self.user = Some(id.into());
        self
    }

    /// Grants `permissions` on the channel called `name`.
    pub fn channel(mut self, name: impl Into<String>, permissions: Permissions) -> Self {
        self.channels.push(ChannelGrant {
            name: name.into(),
            permissions,
        });
        self
    }

    /// Grants `permissions` on every channel whose whole name matches the
    /// regular expression `regex` (e.g. `^chat\..*$`).
    pub fn pattern(mut self, regex: impl Into<String>, permissions: Permissions) -> Self {
        self.patterns.push(ChannelGrant {
            name: regex.into(),
            permissions,
        });
        self
    }

    /// Grants `permissions` on the channel group called `name` (`READ` to
    /// subscribe through it, `MANAGE` to change it).
    pub fn group(mut self, name: impl Into<String>, permissions: Permissions) -> Self {
        self.groups.names.push(ChannelGrant {
            name: name.into(),
            permissions,
        });
        self
    }

    /// Grants `permissions` on every channel group whose whole name matches
    /// `regex`.
    pub fn group_pattern(mut self, regex: impl Into<String>, permissions: Permissions) -> Self {
        self.groups.patterns.push(ChannelGrant {
            name: regex.into(),
            permissions,
        });
        self
    }

    /// Grants `permissions` on the client id `id`: its App Context metadata
    /// and memberships (`GET`, `UPDATE`, `DELETE`).
    pub fn uuid(mut self, id: impl Into<String>, permissions: Permissions) -> Self {
        self.uuids.names.push(ChannelGrant {
            name: id.into(),
            permissions,
        });
        self
    }

    /// Grants `permissions` on every client id that `regex` matches whole.
    pub fn uuid_pattern(mut self, regex: impl Into<String>, permissions: Permissions) -> Self {
        self.uuids.patterns.push(ChannelGrant {
            name: regex.into(),
            permissions,
        });
        self
    }

    /// Carries `meta` (a value that serializes to a JSON object) in the
    /// token; [`parse`] gives it back.
    pub fn meta(mut self, meta: &(impl Serialize + ?Sized)) -> Self {
        self.meta = to_json("the token's meta", meta).map(Some);
        self
    }

    /// Asks the host to sign the token; returns it (URL-safe base64 text,
    /// for clients to present as `auth`).
    pub fn issue(&self) -> Result<String, Error> {
        wit::grant(&self.to_wit()?).map_err(Error::from_wit)
    }

    /// The request as the host wants it.
    fn to_wit(&self) -> Result<wit::TokenGrant, Error> {
        Ok(wit::TokenGrant {
            ttl_minutes: self.ttl_minutes,
            authorized_user: self.user.clone(),
            channels: wit::ResourceGrants {
                names: grants_to_wit(&self.channels),
                patterns: grants_to_wit(&self.patterns),
            },
            groups: self.groups.to_wit(),
            uuids: self.uuids.to_wit(),
            meta: self.meta.clone()?,
        })
    }
}

/// Revokes `token`: from now on it is refused everywhere, and subscriptions
/// that use it are ended.
pub fn revoke(token: &str) -> Result<(), Error> {
    wit::revoke_token(token).map_err(Error::from_wit)
}

/// Decodes `token`, without checking its signature or expiry (a malformed
/// token is an [`Error::Invalid`]).
pub fn parse(token: &str) -> Result<TokenInfo, Error> {
    TokenInfo::from_wit(wit::parse(token).map_err(Error::from_wit)?)
}

/// What a token says (see [`parse`]).
#[derive(Debug, Clone, PartialEq)]
pub struct TokenInfo {
    /// When it was issued, in seconds since the Unix epoch.
    pub issued_at: u64,
    /// Its lifetime in minutes.
    pub ttl_minutes: u32,
    /// The client id it is bound to, if any.
    pub user: Option<String>,
    /// Grants by channel name.
    pub channels: Vec<ChannelGrant>,
    /// Grants by channel pattern.
    pub patterns: Vec<ChannelGrant>,
    /// Grants on channel groups.
    pub groups: ResourceGrants,
    /// Grants on client ids.
    pub uuids: ResourceGrants,
    /// Its meta (a JSON object), if any.
    pub meta: Option<Value>,
}

impl TokenInfo {
    /// When it expires, in seconds since the Unix epoch.
    pub fn expires_at(&self) -> u64 {
        self.issued_at + u64::from(self.ttl_minutes) * 60
    }

    fn from_wit(info: wit::TokenGrants) -> Result<Self, Error> {
        let meta = match info.meta {
            Some(text) => Some(
                serde_json::from_str(&text)
                    .map_err(|e| Error::Json(format!("the token's meta is not valid JSON: {e}")))?,
            ),
            None => None,
        };
        Ok(TokenInfo {
            issued_at: info.issued_at,
            ttl_minutes: info.ttl_minutes,
            user: info.authorized_user,
            channels: grants_from_wit(info.channels.names),
            patterns: grants_from_wit(info.channels.patterns),
            groups: ResourceGrants::from_wit(info.groups),
            uuids: ResourceGrants::from_wit(info.uuids),
            meta,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn builds_the_request() {
        let grant = Grant::new(60)
            .user("alice")
            .channel("chat.alice", Permissions::READ | Permissions::WRITE)
            .channel("chat.public", Permissions::READ)
            .pattern("^chat\\..*$", Permissions::READ)
            .group("cg.team", Permissions::READ)
            .uuid("alice", Permissions::GET | Permissions::UPDATE)
            .uuid_pattern("^bot-.*$", Permissions::GET)
            .meta(&json!({"role": "member"}));
        let request = grant.to_wit().unwrap();
        assert_eq!(request.groups.names[0].name, "cg.team");
        assert!(request.groups.patterns.is_empty());
        assert_eq!(
            (&request.uuids.names[0].name, request.uuids.names[0].permissions),
            (&"alice".to_owned(), Permissions::GET | Permissions::UPDATE)
        );
        assert_eq!(request.uuids.patterns[0].name, "^bot-.*$");
        assert_eq!(request.ttl_minutes, 60);
        assert_eq!(request.authorized_user.as_deref(), Some("alice"));
        let channels: Vec<_> = request
            .channels
            .names
            .iter()
            .map(|g| (g.name.as_str(), g.permissions))
            .collect();
        assert_eq!(
            channels,
            [
                ("chat.alice", Permissions::READ | Permissions::WRITE),
                ("chat.public", Permissions::READ)
            ]
        );
        assert_eq!(request.channels.patterns.len(), 1);
        assert_eq!(request.channels.patterns[0].name, "^chat\\..*$");
        assert_eq!(request.meta.as_deref(), Some(r#"{"role":"member"}"#));
    }

    #[test]
    fn a_bad_meta_fails_the_issue() {
        use std::collections::BTreeMap;
        let meta = BTreeMap::from([((1, 2), 3)]);
        let err = Grant::new(1).meta(&meta).to_wit().unwrap_err();
        assert_eq!(err.kind(), "json");
        assert!(err.message().starts_with("the token's meta"), "{err}");
    }

    #[test]
    fn reads_token_info() {
        let none = || wit::ResourceGrants {
            names: vec![],
            patterns: vec![],
        };
        let info = TokenInfo::from_wit(wit::TokenGrants {
            issued_at: 1_700_000_000,
            ttl_minutes: 60,
            authorized_user: Some("alice".into()),
            channels: wit::ResourceGrants {
                names: vec![wit::ChannelGrant {
                    name: "chat.alice".into(),
                    permissions: Permissions::READ | Permissions::WRITE,
                }],
                patterns: vec![],
            },
            groups: none(),
            uuids: wit::ResourceGrants {
                names: vec![],
                patterns: vec![wit::ChannelGrant {
                    name: "^user-.*$".into(),
                    permissions: Permissions::GET,
                }],
            },
            meta: Some(r#"{"a":1}"#.into()),
        })
        .unwrap();
        assert_eq!(info.expires_at(), 1_700_003_600);
        assert_eq!(info.user.as_deref(), Some("alice"));
        assert_eq!(
            info.channels,
            [ChannelGrant {
                name: "chat.alice".into(),
                permissions: Permissions::READ | Permissions::WRITE
            }]
        );
        assert_eq!(info.uuids.patterns[0].name, "^user-.*$");
        assert!(info.groups.names.is_empty());
        assert_eq!(info.meta, Some(json!({"a": 1})));
    }
}
