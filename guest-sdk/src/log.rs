//! Structured logging: a message and named fields, at a level.
//!
//! Each line goes to the node's log and to the function's log stream
//! (`edgefn functions logs NAME --follow`), tagged with the invocation it
//! came from. (`println!` and `eprintln!` still work, as plain lines.)
//! Fields are any [`Display`] values; the host keeps at most 32 fields per
//! line and cuts messages and values at 4 KiB.
//!
//! ```no_run
//! use edgefn_sdk::log;
//!
//! let user = "alice";
//! let attempts = 3;
//! log::info("login refused", &[("user", &user), ("attempts", &attempts)]);
//! log::debug("no fields", &[]);
//! ```

use std::fmt::Display;

use crate::__private::bindings::edgefn::functions::log as wit;

/// Levels compare in order of importance: `Level::Trace < Level::Error`.
pub use wit::Level;

/// Writes one line at `level` with `fields` (name, value pairs).
pub fn log(level: Level, message: &str, fields: &[(&str, &dyn Display)]) {
    wit::log(level, message, &to_pairs(fields));
}

/// Writes one line at [`Level::Trace`].
pub fn trace(message: &str, fields: &[(&str, &dyn Display)]) {
    log(Level::Trace, message, fields);
}

/// Writes one line at [`Level::Debug`].
pub fn debug(message: &str, fields: &[(&str, &dyn Display)]) {
    log(Level::Debug, message, fields);
}

/// Writes one line at [`Level::Info`].
pub fn info(message: &str, fields: &[(&str, &dyn Display)]) {
    log(Level::Info, message, fields);
}

/// Writes one line at [`Level::Warn`].
pub fn warn(message: &str, fields: &[(&str, &dyn Display)]) {
    log(Level::Warn, message, fields);
}

/// Writes one line at [`Level::Error`].
pub fn error(message: &str, fields: &[(&str, &dyn Display)]) {
    log(Level::Error, message, fields);
}

/// The fields as the host wants them: names and values as text.
fn to_pairs(fields: &[(&str, &dyn Display)]) -> Vec<(String, String)> {
    fields
        .iter()
        .map(|(name, value)| ((*name).to_owned(), value.to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_become_text() {
        let user = String::from("alice");
        let pairs = to_pairs(&[("user", &user), ("n", &3), ("ok", &true), ("ch", &"chat.a")]);
        let expected = [
            ("user", "alice"),
            ("n", "3"),
            ("ok", "true"),
            ("ch", "chat.a"),
        ];
        assert_eq!(pairs, expected.map(|(k, v)| (k.to_string(), v.to_string())));
        assert!(to_pairs(&[]).is_empty());
    }
}
