//! What may be granted: lifetime 1 to 43,200 minutes, at least one
//! resource (or category), patterns that compile as bounded regular
//! expressions, meta as a JSON object, and categories as PubNub has them:
//! `channels` and `uuids`, each granting exactly `get` (listing and reading
//! every channel's or uuid's metadata).

use regex::{Regex, RegexBuilder};
use serde::Deserialize;

use super::AccessError;
use super::permissions::Permissions;
use super::token::{Categories, Resources, Token};

/// Longest lifetime, in minutes (30 days).
pub const MAX_TTL_MINUTES: u32 = 43_200;
/// Longest pattern accepted, in bytes.
pub const MAX_PATTERN_LEN: usize = 256;
/// Compiled size allowed per pattern, in bytes.
const PATTERN_SIZE_LIMIT: usize = 64 * 1024;

/// A request for a token.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct GrantRequest {
    /// Lifetime in minutes.
    pub ttl_minutes: u32,
    /// The only client id allowed to use it.
    pub authorized_uuid: Option<String>,
    /// Grants on named resources.
    #[serde(skip)]
    pub resources: Resources,
    /// Grants on resources matching regular expressions.
    #[serde(skip)]
    pub patterns: Resources,
    /// Grants on whole categories of resources.
    #[serde(skip)]
    pub categories: Categories,
    /// Data to carry.
    pub meta: Option<serde_json::Map<String, serde_json::Value>>,
}

impl GrantRequest {
    /// Validates the request and builds the token, issued at `now`.
    ///
    /// # Errors
    /// [`AccessError::BadGrant`] saying what is wrong.
    pub fn into_token(self, now: u64) -> Result<Token, AccessError> {
        if !(1..=MAX_TTL_MINUTES).contains(&self.ttl_minutes) {
            return Err(AccessError::BadGrant(format!(
                "ttl must be between 1 and {MAX_TTL_MINUTES} minutes, got {}",
                self.ttl_minutes
            )));
        }
        if self.resources.is_empty() && self.patterns.is_empty() && self.categories.is_empty() {
            return Err(AccessError::BadGrant(
                "grant at least one channel, pattern or category".into(),
            ));
        }
        for (name, granted) in [
            ("channels", self.categories.channels),
            ("uuids", self.categories.uuids),
        ] {
            if granted != Permissions::default() && granted != Permissions::GET {
                return Err(AccessError::BadGrant(format!(
                    "category `{name}` may grant only `get`, not `{granted}`"
                )));
            }
        }
        for pattern in self
            .patterns
            .channels
            .keys()
            .chain(self.patterns.groups.keys())
            .chain(self.patterns.uuids.keys())
        {
            compile(pattern)?;
        }
        Ok(Token {
            issued_at: now,
            ttl_minutes: self.ttl_minutes,
            authorized_uuid: self.authorized_uuid.filter(|u| !u.is_empty()),
            resources: self.resources,
            patterns: self.patterns,
            categories: self.categories,
            meta: self.meta.unwrap_or_default(),
        })
    }
}

/// Categories by their names in a grant (`channels`, `uuids`).
///
/// # Errors
/// [`AccessError::BadGrant`] naming a category PubNub does not have.
pub fn categories(
    named: impl IntoIterator<Item = (String, Permissions)>,
) -> Result<Categories, AccessError> {
    let mut categories = Categories::default();
    for (name, granted) in named {
        let target = match name.as_str() {
            "channels" => &mut categories.channels,
            "uuids" => &mut categories.uuids,
            _ => {
                return Err(AccessError::BadGrant(format!(
                    "unknown category `{name}`: the categories are `channels` and `uuids`"
                )));
            }
        };
        *target = granted;
    }
    Ok(categories)
}

/// Compiles a token pattern to match whole names, within size limits.
///
/// # Errors
/// [`AccessError::BadGrant`] when it is too long or not a valid expression.
pub fn compile(pattern: &str) -> Result<Regex, AccessError> {
    if pattern.len() > MAX_PATTERN_LEN {
        return Err(AccessError::BadGrant(format!(
            "pattern is longer than {MAX_PATTERN_LEN} bytes"
        )));
    }
    RegexBuilder::new(&format!("^(?:{pattern})$"))
        .size_limit(PATTERN_SIZE_LIMIT)
        .dfa_size_limit(PATTERN_SIZE_LIMIT)
        .build()
        .map_err(|e| {
            AccessError::BadGrant(format!(
                "pattern `{pattern}` is not a valid regular expression: {e}"
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> GrantRequest {
        let mut request = GrantRequest {
            ttl_minutes: 60,
            ..Default::default()
        };
        request
            .patterns
            .channels
            .insert("chat\\..*".into(), Permissions::READ);
        request
    }

    #[test]
    fn validates() {
        assert!(request().into_token(0).is_ok());
        assert!(
            GrantRequest {
                ttl_minutes: 0,
                ..request()
            }
            .into_token(0)
            .is_err()
        );
        assert!(
            GrantRequest {
                ttl_minutes: 43_201,
                ..request()
            }
            .into_token(0)
            .is_err()
        );
        assert!(
            GrantRequest {
                ttl_minutes: 5,
                ..Default::default()
            }
            .into_token(0)
            .is_err()
        );
        let mut bad = request();
        bad.patterns.channels.insert("(".into(), Permissions::READ);
        assert!(bad.into_token(0).is_err());
    }

    #[test]
    fn categories_grant_exactly_get_on_channels_and_uuids() {
        let named = |pairs: &[(&str, Permissions)]| {
            categories(pairs.iter().map(|(n, p)| ((*n).to_owned(), *p)))
        };
        let granted = named(&[("uuids", Permissions::GET)]).unwrap();
        assert_eq!(granted.uuids, Permissions::GET);
        assert_eq!(granted.channels, Permissions::default());
        let error = named(&[("groups", Permissions::GET)]).unwrap_err();
        assert!(
            error.to_string().contains("unknown category `groups`"),
            "{error}"
        );

        // A grant of categories alone is a grant.
        let only_categories = GrantRequest {
            ttl_minutes: 5,
            categories: granted,
            ..Default::default()
        };
        assert_eq!(only_categories.into_token(0).unwrap().categories, granted);
        let too_much = GrantRequest {
            ttl_minutes: 5,
            categories: named(&[("channels", Permissions::READ.union(Permissions::GET))]).unwrap(),
            ..Default::default()
        };
        let error = too_much.into_token(0).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("`channels` may grant only `get`, not `read+get`"),
            "{error}"
        );
    }

    #[test]
    fn patterns_match_whole_names() {
        let re = compile("chat\\..*").unwrap();
        assert!(re.is_match("chat.a"));
        assert!(!re.is_match("xchat.a"));
        assert!(compile(&"a".repeat(300)).is_err());
        // Nested repetition that backtracking engines choke on stays linear.
        let re = compile("(a+)+b").unwrap();
        assert!(!re.is_match(&"a".repeat(200)));
        assert!(compile("a{1000}{1000}").is_err());
    }
}
