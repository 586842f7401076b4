//! Access checks for the native API: where a request's token comes from
//! (`auth` query parameter or `Authorization: Bearer`), how refusals are
//! answered (403 with a code per reason), and watching a subscription's
//! token so the subscription ends within a second of its expiry or
//! revocation.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::{HeaderMap, StatusCode};
use tokio::sync::broadcast;
use tokio::time::Instant;

use super::error::ApiError;
use crate::access::{Access, AccessError, Verified};

/// The token a request presents: the `auth` query parameter, or an
/// `Authorization: Bearer` header.
pub fn presented_token(headers: &HeaderMap, auth: Option<String>) -> Option<String> {
    auth.filter(|t| !t.is_empty()).or_else(|| {
        super::header(headers, "authorization")
            .and_then(|v| v.strip_prefix("Bearer ").map(|t| t.trim().to_owned()))
    })
}

impl From<AccessError> for ApiError {
    fn from(e: AccessError) -> Self {
        let status = match &e {
            AccessError::Store(_) | AccessError::Cluster(_) => StatusCode::SERVICE_UNAVAILABLE,
            AccessError::BadGrant(_) => StatusCode::BAD_REQUEST,
            AccessError::NoKey => StatusCode::CONFLICT,
            _ => StatusCode::FORBIDDEN,
        };
        let error = Self::new(status, e.code(), e.to_string());
        match e {
            AccessError::Forbidden {
                permission,
                channel,
            } => error
                .with("permission", permission)
                .with("channel", channel),
            _ => error,
        }
    }
}

/// Follows one token: resolves when it expires or is revoked.
pub struct TokenWatch {
    access: Arc<Access>,
    verified: Option<Arc<Verified>>,
    revocations: broadcast::Receiver<Arc<[u8]>>,
}

impl TokenWatch {
    /// Watches `verified` (nothing to watch when access control is off).
    pub fn new(access: &Arc<Access>, verified: Option<Arc<Verified>>) -> Self {
        Self {
            access: Arc::clone(access),
            verified,
            revocations: access.revocations(),
        }
    }

    /// Replaces the watched token.
    pub fn watch(&mut self, verified: Option<Arc<Verified>>) {
        self.verified = verified;
    }

    /// Waits until the token stops being valid, and says why. Never
    /// resolves when there is no token.
    pub async fn ended(&mut self) -> AccessError {
        let Some(verified) = self.verified.clone() else {
            return std::future::pending().await;
        };
        let expires = UNIX_EPOCH + Duration::from_secs(verified.token.expires_at());
        let left = expires
            .duration_since(SystemTime::now())
            .unwrap_or_default();
        let deadline = Instant::now() + left;
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(deadline) => {
                    return AccessError::Expired { at: verified.token.expires_at() };
                }
                revoked = self.revocations.recv() => match revoked {
                    Ok(id) if id == verified.id => return AccessError::Revoked,
                    Ok(_) => {}
                    // Missed some: ask the access list directly.
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        if let Err(AccessError::Revoked) = self.access.verify_id(&verified) {
                            return AccessError::Revoked;
                        }
                    }
                    Err(broadcast::error::RecvError::Closed) => return std::future::pending().await,
                },
            }
        }
    }
}
