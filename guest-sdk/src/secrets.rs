//! Secrets set at deploy time (`edgefn deploy --secret NAME=VALUE`).
//!
//! Unlike [configuration](crate::config), secrets are never shown by the
//! admin API, the CLI or the logs: keep API keys and passwords here, and do
//! not log them.
//!
//! ```no_run
//! let api_key = edgefn_sdk::secrets::get("API_KEY").ok_or("the API_KEY secret is not set")?;
//! # Ok::<(), &str>(())
//! ```

use crate::__private::bindings::edgefn::functions::secrets as wit;

/// The secret called `name` (case-sensitive), or `None` when the function
/// has no such secret.
pub fn get(name: &str) -> Option<String> {
    wit::get(name)
}
