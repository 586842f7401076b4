//! Why a call to a host capability ([`kv`](crate::kv), [`bus`](crate::bus),
//! [`tokens`](crate::tokens)) failed.

use std::fmt;

use serde::Serialize;

use crate::__private::bindings::edgefn::functions::types::Error as WitError;

/// Why a call to a host capability failed.
///
/// The first six cases are the host's own (the WIT `error` variant); each
/// carries the host's sentence, which is also what `Display` shows, unchanged
/// (for example `KV budget exhausted: at most 10 calls per invocation`).
/// [`Error::Json`] is the SDK's: a value that could not be converted to or
/// from JSON by the `*_json` helpers.
///
/// A failed call never ends the invocation: the handler decides what to do.
/// Handlers that return `Result<_, String>` can use `?` on it (it converts
/// into its message).
///
/// ```
/// use edgefn_sdk::Error;
///
/// let e = Error::BudgetExhausted("KV budget exhausted: at most 10 calls per invocation".into());
/// assert_eq!(e.to_string(), "KV budget exhausted: at most 10 calls per invocation");
/// assert_eq!(e.kind(), "budget-exhausted");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// An argument was not acceptable: a malformed key, channel, token or
    /// JSON text, or a KV value that is not a counter.
    Invalid(String),
    /// A size limit was exceeded (KV keys 1,000 bytes, values 32 KiB,
    /// messages 32 KiB, signals 64 bytes).
    TooLarge(String),
    /// This invocation used up its budget of calls to this capability (by
    /// default 10 KV calls, 10 bus calls; presence, history, message-action
    /// and App Context calls count as bus calls).
    BudgetExhausted(String),
    /// The function's deployment does not allow this call (for example
    /// granting tokens without `--allow-token-grant`).
    Denied(String),
    /// The bus refused the message: a before-publish hook rejected it, or it
    /// would go past the chain limit of 3 hops. Also an App Context change
    /// made conditional on an eTag that no longer matches.
    Rejected(String),
    /// The host could not do it now (storage trouble); it may work later.
    Unavailable(String),
    /// A value could not be serialized to JSON, or a stored value could not
    /// be deserialized from it (raised by the SDK, not by the host).
    Json(String),
}

impl Error {
    /// The sentence that says what happened (what `Display` shows).
    pub fn message(&self) -> &str {
        match self {
            Error::Invalid(m)
            | Error::TooLarge(m)
            | Error::BudgetExhausted(m)
            | Error::Denied(m)
            | Error::Rejected(m)
            | Error::Unavailable(m)
            | Error::Json(m) => m,
        }
    }

    /// The case's name as in WIT: `invalid`, `too-large`,
    /// `budget-exhausted`, `denied`, `rejected`, `unavailable` (or `json`),
    /// handy as a log field or in an error response.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Invalid(_) => "invalid",
            Error::TooLarge(_) => "too-large",
            Error::BudgetExhausted(_) => "budget-exhausted",
            Error::Denied(_) => "denied",
            Error::Rejected(_) => "rejected",
            Error::Unavailable(_) => "unavailable",
            Error::Json(_) => "json",
        }
    }

    /// The host's error as an SDK error.
    pub(crate) fn from_wit(e: WitError) -> Self {
        match e {
            WitError::Invalid(m) => Error::Invalid(m),
            WitError::TooLarge(m) => Error::TooLarge(m),
            WitError::BudgetExhausted(m) => Error::BudgetExhausted(m),
            WitError::Denied(m) => Error::Denied(m),
            WitError::Rejected(m) => Error::Rejected(m),
            WitError::Unavailable(m) => Error::Unavailable(m),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for Error {}

impl From<Error> for String {
    fn from(e: Error) -> String {
        e.message().to_owned()
    }
}

/// `value` as JSON text; `what` names it in the error ("the message").
pub(crate) fn to_json<T: Serialize + ?Sized>(what: &str, value: &T) -> Result<String, Error> {
    serde_json::to_string(value)
        .map_err(|e| Error::Json(format!("{what} could not be serialized as JSON: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_hosts_sentence() {
        let cases = [
            (WitError::Invalid("a".into()), "invalid"),
            (WitError::TooLarge("b".into()), "too-large"),
            (WitError::BudgetExhausted("c".into()), "budget-exhausted"),
            (WitError::Denied("d".into()), "denied"),
            (WitError::Rejected("e".into()), "rejected"),
            (WitError::Unavailable("f".into()), "unavailable"),
        ];
        for (wit, kind) in cases {
            let e = Error::from_wit(wit);
            assert_eq!(e.kind(), kind);
            assert_eq!(e.to_string(), e.message());
            assert_eq!(e.message().len(), 1);
            assert_eq!(String::from(e.clone()), e.message());
        }
        assert_eq!(
            Error::from_wit(WitError::Denied("function `f` may not grant tokens".into())),
            Error::Denied("function `f` may not grant tokens".into())
        );
    }

    #[test]
    fn question_mark_into_string() {
        fn handler() -> Result<(), String> {
            Err(Error::Rejected("chain limit".into()))?;
            Ok(())
        }
        assert_eq!(handler(), Err("chain limit".to_string()));
    }

    #[test]
    fn json_errors_name_the_value() {
        use std::collections::BTreeMap;
        let mut map = BTreeMap::new();
        map.insert((1, 2), 3); // tuple keys cannot be JSON object keys
        let e = to_json("the message", &map).unwrap_err();
        assert_eq!(e.kind(), "json");
        assert!(
            e.message()
                .starts_with("the message could not be serialized as JSON"),
            "{e}"
        );
        assert_eq!(to_json("x", &[1, 2]).unwrap(), "[1,2]");
    }
}
