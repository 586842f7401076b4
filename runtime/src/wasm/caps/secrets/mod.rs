//! The secrets capability: the function's own secrets, set at deploy time,
//! kept encrypted at rest (see [`crate::functions::secrets`]) and only
//! decrypted into memory for the function that owns them.

mod host;

use std::collections::BTreeMap;
use std::sync::Arc;

/// The secrets capability of one invocation.
pub struct SecretsCtx {
    pub(crate) secrets: Arc<BTreeMap<String, String>>,
}
