//! The tokens capability: grant, revoke and parse access tokens. Granting
//! and revoking need `allow_token_grant` in the function's deployment.

mod host;

use std::sync::Arc;

use crate::access::Access;

/// The tokens capability of one invocation.
pub struct TokensCtx {
    pub(crate) access: Arc<Access>,
    /// Whether the deployment allows granting and revoking.
    pub(crate) may_grant: bool,
    pub(crate) function: Arc<str>,
}
