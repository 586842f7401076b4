//! Access control on the bus: tokens in PubNub's v3 format, granted,
//! verified, checked against the channel and permission a request needs,
//! and revoked durably.
//!
//! Off unless the node has a secret key (`--secret-key`). When on, publish,
//! fire and signal need `write` on the channel; subscribe, history and
//! presence need `read`. Channel patterns in tokens are regular expressions
//! matched against the whole channel name (for a wildcard subscription, the
//! pattern text such as `chat.*`); they are compiled with size limits and
//! match in linear time. A token's categories (`get` on every channel or
//! every uuid) count as a grant on each resource of the kind.
//!
//! # Layout
//! - [`token`]: the token format and its signature;
//! - [`permissions`]: permission bits;
//! - [`grant`]: what may be granted, and its validation;
//! - [`revocations`]: where revocations are kept (the contract the store
//!   and the cluster implement).

pub mod grant;
pub mod permissions;
pub mod revocations;
pub mod token;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use regex::Regex;
use tokio::sync::broadcast;

pub use self::grant::GrantRequest;
pub use self::permissions::Permissions;
use self::revocations::RevocationLog;
pub use self::token::{Malformed, Token};
use crate::clock::unix_secs;

/// Verified tokens kept in memory (their compiled patterns are the costly part).
const CACHE_SIZE: usize = 10_000;

/// Why a request was refused.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AccessError {
    /// No token was presented.
    #[error(
        "a token is required: send it as the `auth` query parameter or an `Authorization: Bearer` header"
    )]
    Missing,
    /// The token does not decode.
    #[error(transparent)]
    Malformed(#[from] Malformed),
    /// The token was not signed by this node's key (forged or altered).
    #[error("the token's signature is invalid: it was not issued by this node, or it was altered")]
    BadSignature,
    /// The token's lifetime is over.
    #[error("the token expired at {at} (Unix seconds)")]
    Expired {
        /// When it expired.
        at: u64,
    },
    /// The token was revoked.
    #[error("the token was revoked")]
    Revoked,
    /// The token does not grant what the request needs.
    #[error("the token does not grant `{permission}` on channel `{channel}`")]
    Forbidden {
        /// The permission that is missing.
        permission: String,
        /// The channel (or subscription pattern) it is missing on.
        channel: String,
    },
    /// The token is bound to another client id.
    #[error("the token is bound to client id `{bound}`, but the request says `{used}`")]
    WrongUser {
        /// The id in the token.
        bound: String,
        /// The id the request used.
        used: String,
    },
    /// Tokens cannot be issued or checked without a secret key.
    #[error(
        "the node has no secret key: start it with --secret-key (or EDGEFN_SECRET_KEY) to use tokens"
    )]
    NoKey,
    /// The grant request is invalid.
    #[error("invalid grant: {0}")]
    BadGrant(String),
    /// The store failed.
    #[error("{0}")]
    Store(String),
    /// The cluster could not take the revocation.
    #[error("{0}")]
    Cluster(String),
}

impl AccessError {
    /// A stable code for API errors.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Missing => "token_missing",
            Self::Malformed(_) => "token_malformed",
            Self::BadSignature => "token_invalid_signature",
            Self::Expired { .. } => "token_expired",
            Self::Revoked => "token_revoked",
            Self::Forbidden { .. } => "forbidden",
            Self::WrongUser { .. } => "token_wrong_user",
            Self::NoKey => "no_secret_key",
            Self::BadGrant(_) => "invalid_grant",
            Self::Store(_) => "storage_error",
            Self::Cluster(_) => "unavailable",
        }
    }
}

/// A token whose signature checked out, with its patterns compiled.
pub struct Verified {
    /// What it says.
    pub token: Token,
    /// Its signature: identifies it for revocation.
    pub id: Arc<[u8]>,
    patterns: Vec<(Regex, Permissions)>,
    group_patterns: Vec<(Regex, Permissions)>,
    uuid_patterns: Vec<(Regex, Permissions)>,
}

/// Whether `wanted` is granted on `name`: by the grant on the whole
/// `category`, by name in `named`, or by one of `patterns`.
fn allows(
    category: Permissions,
    named: &BTreeMap<String, Permissions>,
    patterns: &[(Regex, Permissions)],
    wanted: Permissions,
    name: &str,
) -> bool {
    (category != Permissions::default() && category.contains(wanted))
        || named.get(name).is_some_and(|p| p.contains(wanted))
        || patterns
            .iter()
            .any(|(re, p)| p.contains(wanted) && re.is_match(name))
}

fn compile_all(
    patterns: &BTreeMap<String, Permissions>,
) -> Result<Vec<(Regex, Permissions)>, AccessError> {
    patterns
        .iter()
        .map(|(pattern, p)| grant::compile(pattern).map(|re| (re, *p)))
        .collect()
}

impl Verified {
    /// Whether it grants `wanted` on `channel` (by name, by pattern, or on
    /// every channel).
    pub fn allows(&self, wanted: Permissions, channel: &str) -> bool {
        allows(
            self.token.categories.channels,
            &self.token.resources.channels,
            &self.patterns,
            wanted,
            channel,
        )
    }

    /// Whether it grants `wanted` on the uuid (user) `uuid` (by name, by
    /// pattern, or on every uuid).
    pub fn allows_uuid(&self, wanted: Permissions, uuid: &str) -> bool {
        allows(
            self.token.categories.uuids,
            &self.token.resources.uuids,
            &self.uuid_patterns,
            wanted,
            uuid,
        )
    }

    /// Whether it grants `wanted` on channel group `group`.
    pub fn allows_group(&self, wanted: Permissions, group: &str) -> bool {
        allows(
            Permissions::default(),
            &self.token.resources.groups,
            &self.group_patterns,
            wanted,
            group,
        )
    }
}

/// The node's access control.
pub struct Access {
    key: Option<Vec<u8>>,
    log: Arc<dyn RevocationLog>,
    /// Revoked token ids and when they would have expired anyway.
    revoked: RwLock<HashMap<Arc<[u8]>, u64>>,
    feed: broadcast::Sender<Arc<[u8]>>,
    cache: Mutex<HashMap<String, Arc<Verified>>>,
}

impl Access {
    /// Access control keyed by `secret_key` (off when `None`), with the
    /// revocations recorded in `log`.
    ///
    /// # Errors
    /// When the store cannot be read.
    pub fn open(
        log: Arc<dyn RevocationLog>,
        secret_key: Option<String>,
    ) -> Result<Self, AccessError> {
        let revoked = log
            .initial()?
            .into_iter()
            .map(|(id, exp)| (Arc::from(id), exp))
            .collect();
        Ok(Self {
            key: secret_key.map(String::into_bytes),
            log,
            revoked: RwLock::new(revoked),
            feed: broadcast::channel(1024).0,
            cache: Mutex::default(),
        })
    }

    /// Whether requests need tokens.
    pub fn enabled(&self) -> bool {
        self.key.is_some()
    }

    /// Issues a token for `request`.
    ///
    /// # Errors
    /// [`AccessError::NoKey`] without a secret key, [`AccessError::BadGrant`]
    /// when the request is invalid.
    pub fn grant(&self, request: GrantRequest) -> Result<String, AccessError> {
        let key = self.key.as_deref().ok_or(AccessError::NoKey)?;
        let token = request.into_token(unix_secs())?;
        Ok(token.sign(key))
    }

    /// Revokes `token` durably and ends the subscriptions using it.
    ///
    /// # Errors
    /// When the token is not one of this node's, is already expired, or the
    /// store fails.
    pub async fn revoke(&self, token: &str) -> Result<(), AccessError> {
        let verified = self.verify_signature(token)?;
        let expires = verified.token.expires_at();
        if expires <= unix_secs() {
            return Err(AccessError::Expired { at: expires });
        }
        Arc::clone(&self.log)
            .record(verified.id.to_vec(), expires)
            .await?;
        self.apply_revocation(Arc::clone(&verified.id), expires);
        Ok(())
    }

    /// Marks token `id` revoked until `expires` and ends the subscriptions
    /// using it (for revocations made here, or by another node of the
    /// cluster).
    pub fn apply_revocation(&self, id: Arc<[u8]>, expires: u64) {
        let new = self
            .revoked
            .write()
            .insert(Arc::clone(&id), expires)
            .is_none();
        if new {
            let _ = self.feed.send(id);
        }
    }

    /// Checks whether a verified token has been revoked since.
    ///
    /// # Errors
    /// [`AccessError::Revoked`].
    pub fn verify_id(&self, verified: &Verified) -> Result<(), AccessError> {
        let revoked = self.revoked.read();
        if revoked.contains_key(&verified.id) {
            return Err(AccessError::Revoked);
        }
        Ok(())
    }

    /// Checks a token's signature, expiry and revocation.
    ///
    /// # Errors
    /// [`AccessError`] naming what is wrong.
    pub fn verify(&self, token: &str) -> Result<Arc<Verified>, AccessError> {
        let verified = self.verify_signature(token)?;
        self.still_valid(&verified)?;
        Ok(verified)
    }

    /// Checks that a verified token has neither expired nor been revoked
    /// since.
    fn still_valid(&self, verified: &Verified) -> Result<(), AccessError> {
        let expires = verified.token.expires_at();
        if expires <= unix_secs() {
            return Err(AccessError::Expired { at: expires });
        }
        self.verify_id(verified)
    }

    /// Checks that `token` grants `wanted` on every one of `channels`, for a
    /// client that says it is `user` (if it says). Returns the verified token,
    /// or `None` when access control is off.
    ///
    /// # Errors
    /// [`AccessError`] naming the first thing missing.
    pub fn authorize<'a>(
        &self,
        token: Option<&str>,
        user: Option<&str>,
        wanted: Permissions,
        channels: impl IntoIterator<Item = &'a str>,
    ) -> Result<Option<Arc<Verified>>, AccessError> {
        if !self.enabled() {
            return Ok(None);
        }
        let presented = token.map(|t| self.verify_signature(t));
        self.authorize_verified(presented, user, wanted, channels)
    }

    /// [`Access::authorize`] for a token verified earlier in the same
    /// request (`presented`: what [`Access::verify`] said then, `None` when
    /// the request presented none), so a request verifies its token once:
    /// only expiry and revocation are checked again.
    ///
    /// # Errors
    /// [`AccessError`] naming the first thing missing.
    pub fn authorize_verified<'a>(
        &self,
        presented: Option<Result<Arc<Verified>, AccessError>>,
        user: Option<&str>,
        wanted: Permissions,
        channels: impl IntoIterator<Item = &'a str>,
    ) -> Result<Option<Arc<Verified>>, AccessError> {
        if !self.enabled() {
            return Ok(None);
        }
        let verified = presented.ok_or(AccessError::Missing)??;
        self.still_valid(&verified)?;
        Self::grants(verified, user, wanted, channels).map(Some)
    }

    /// Checks that `verified` may be used by `user` (if it says who it is)
    /// for `wanted` on every one of `channels`.
    fn grants<'a>(
        verified: Arc<Verified>,
        user: Option<&str>,
        wanted: Permissions,
        channels: impl IntoIterator<Item = &'a str>,
    ) -> Result<Arc<Verified>, AccessError> {
        if let (Some(bound), Some(used)) = (&verified.token.authorized_uuid, user)
            && bound != used
        {
            return Err(AccessError::WrongUser {
                bound: bound.clone(),
                used: used.to_owned(),
            });
        }
        for channel in channels {
            if !verified.allows(wanted, channel) {
                return Err(AccessError::Forbidden {
                    permission: wanted.to_string(),
                    channel: channel.to_owned(),
                });
            }
        }
        Ok(verified)
    }

    /// Ids of tokens as they are revoked.
    pub fn revocations(&self) -> broadcast::Receiver<Arc<[u8]>> {
        self.feed.subscribe()
    }

    /// Forgets revocations of tokens that have expired anyway.
    ///
    /// # Errors
    /// When the store fails.
    pub async fn purge_expired(&self) -> Result<(), AccessError> {
        let now = unix_secs();
        let expired: Vec<Arc<[u8]>> = {
            let revoked = self.revoked.read();
            revoked
                .iter()
                .filter(|(_, exp)| **exp <= now)
                .map(|(id, _)| Arc::clone(id))
                .collect()
        };
        Arc::clone(&self.log).purge(now, expired).await?;
        self.revoked.write().retain(|_, exp| *exp > now);
        Ok(())
    }

    fn verify_signature(&self, text: &str) -> Result<Arc<Verified>, AccessError> {
        let key = self.key.as_deref().ok_or(AccessError::NoKey)?;
        if let Some(hit) = self.cache.lock().get(text) {
            return Ok(Arc::clone(hit));
        }
        let decoded = Token::decode(text)?;
        if !decoded.signed_with(key) {
            return Err(AccessError::BadSignature);
        }
        let patterns = compile_all(&decoded.token.patterns.channels)?;
        let group_patterns = compile_all(&decoded.token.patterns.groups)?;
        let uuid_patterns = compile_all(&decoded.token.patterns.uuids)?;
        let verified = Arc::new(Verified {
            id: decoded.signature.into(),
            token: decoded.token,
            patterns,
            group_patterns,
            uuid_patterns,
        });
        let mut cache = self.cache.lock();
        if cache.len() >= CACHE_SIZE {
            cache.clear();
        }
        cache.insert(text.to_owned(), Arc::clone(&verified));
        Ok(verified)
    }
}
