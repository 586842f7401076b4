//! The function's configuration.
//!
//! Each deployed function has a set of string key/value pairs (the
//! `[functions.config]` table of `edgefn.toml`, or `edgefn deploy --config`).
//! The server hands them to the component as its environment variables, so
//! they are read with the standard library; these helpers only give that a
//! name.

/// Returns the value of the configuration key `key`, or `None` when the
/// function has no such key (or its value is not valid UTF-8).
///
/// Keys are case-sensitive. An empty value is `Some("")`.
///
/// ```no_run
/// let url = edgefn_sdk::config("forward_url").ok_or("forward_url is not configured")?;
/// # Ok::<(), &str>(())
/// ```
pub fn config(key: &str) -> Option<String> {
    std::env::var(key).ok()
}

/// Returns the value of the configuration key `key`, or `default` when the
/// function has no such key.
///
/// ```no_run
/// let greeting = edgefn_sdk::config_or("greeting", "hello");
/// ```
pub fn config_or(key: &str, default: impl Into<String>) -> String {
    config(key).unwrap_or_else(|| default.into())
}
