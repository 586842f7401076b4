//! Channel names and subscription patterns.
//!
//! A channel name is 1 to 92 bytes of printable, non-whitespace characters
//! other than `,` (list separator), `:` (reserved), `*` (wildcard), `/` and
//! `\` (path separators). A pattern is either a channel name or a prefix
//! wildcard `prefix.*`, which matches every channel that starts with
//! `prefix.` (at any depth: `chat.*` matches `chat.a` and `chat.a.b`).

use std::fmt;
use std::sync::Arc;

/// Suffix of presence channels: presence events for channel `c` are
/// published on `c-pnpres`.
pub const PRESENCE_SUFFIX: &str = "-pnpres";

/// Longest channel name accepted, in bytes (PubNub's limit).
pub const MAX_CHANNEL_LEN: usize = 92;

/// Why a channel name or a pattern was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// The name was empty.
    #[error("channel name is empty")]
    Empty,
    /// The name was longer than [`MAX_CHANNEL_LEN`].
    #[error("channel name `{0}` is longer than {MAX_CHANNEL_LEN} bytes")]
    TooLong(String),
    /// The name held a character that channel names may not contain.
    #[error(
        "channel name `{name}` contains {ch:?}; names may not contain whitespace, control characters, `,` `:` `*` `/` or `\\`"
    )]
    BadChar {
        /// The offending name.
        name: String,
        /// The first character that is not allowed.
        ch: char,
    },
    /// A wildcard appeared anywhere but as a final `.*`.
    #[error(
        "pattern `{0}` is malformed: a wildcard must be a final `.*` after a channel prefix, as in `chat.*`"
    )]
    BadWildcard(String),
}

/// A validated channel name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Channel(String);

impl Channel {
    /// Validates `name` as a channel name.
    ///
    /// # Errors
    /// [`NameError`] says what is wrong with the name.
    pub fn parse(name: &str) -> Result<Self, NameError> {
        validate_name(name)?;
        Ok(Self(name.to_owned()))
    }

    /// The channel name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is a presence channel (`...-pnpres`), where presence
    /// events for the channel without the suffix are published.
    pub fn is_presence(&self) -> bool {
        self.0.ends_with(PRESENCE_SUFFIX)
    }

    /// The channel where this one's presence events are published
    /// (`c-pnpres`); `None` for a presence channel, or when the name would
    /// be too long.
    pub fn presence(&self) -> Option<Channel> {
        if self.is_presence() {
            return None;
        }
        Channel::parse(&format!("{}{PRESENCE_SUFFIX}", self.0)).ok()
    }

    /// The wildcard prefixes under which this channel can be matched: for
    /// `a.b.c` these are `a.` and `a.b.`.
    pub fn wildcard_prefixes(&self) -> impl Iterator<Item = &str> {
        self.0.match_indices('.').map(|(i, _)| &self.0[..=i])
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A subscription or binding pattern: an exact channel or a prefix wildcard.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Pattern {
    /// Matches exactly one channel.
    Exact(Channel),
    /// Matches every channel that starts with this prefix, except presence
    /// channels; the prefix includes the final `.` (`chat.*` is stored as
    /// `chat.`).
    Prefix(String),
    /// `chat.*-pnpres`: the presence channels of the channels under the
    /// prefix.
    PresencePrefix(String),
}

impl Pattern {
    /// Parses `chat.lobby`, `chat.*` or `chat.*-pnpres`.
    ///
    /// # Errors
    /// [`NameError`] says what is wrong with the pattern.
    pub fn parse(text: &str) -> Result<Self, NameError> {
        let (wildcard, presence) = match text.strip_suffix(PRESENCE_SUFFIX) {
            Some(stem) if stem.ends_with(".*") => (stem, true),
            _ => (text, false),
        };
        match wildcard.strip_suffix(".*") {
            Some(stem) => {
                if stem.is_empty() || stem.contains('*') || stem.ends_with('.') {
                    return Err(NameError::BadWildcard(text.to_owned()));
                }
                validate_name(wildcard.trim_end_matches('*'))?;
                let prefix = format!("{stem}.");
                Ok(if presence {
                    Self::PresencePrefix(prefix)
                } else {
                    Self::Prefix(prefix)
                })
            }
            None if text.contains('*') => Err(NameError::BadWildcard(text.to_owned())),
            None => Channel::parse(text).map(Self::Exact),
        }
    }

    /// Whether `channel` falls under this pattern.
    pub fn matches(&self, channel: &Channel) -> bool {
        match self {
            Self::Exact(exact) => exact == channel,
            Self::Prefix(prefix) => {
                channel.as_str().starts_with(prefix.as_str()) && !channel.is_presence()
            }
            Self::PresencePrefix(prefix) => {
                channel.as_str().starts_with(prefix.as_str()) && channel.is_presence()
            }
        }
    }

    /// The prefix of a wildcard pattern.
    pub fn prefix(&self) -> Option<&str> {
        match self {
            Self::Exact(_) => None,
            Self::Prefix(prefix) | Self::PresencePrefix(prefix) => Some(prefix),
        }
    }

    /// Whether this pattern is a wildcard.
    pub fn is_wildcard(&self) -> bool {
        self.prefix().is_some()
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Exact(channel) => channel.fmt(f),
            Self::Prefix(prefix) => write!(f, "{prefix}*"),
            Self::PresencePrefix(prefix) => write!(f, "{prefix}*{PRESENCE_SUFFIX}"),
        }
    }
}

impl serde::Serialize for Pattern {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Pattern {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// How a message on `channel` reaches a subscriber holding `patterns`:
/// `None` when no pattern matches, `Some(None)` when one names it exactly,
/// `Some(Some(wildcard))` when it only matches a wildcard (deliveries report
/// that wildcard).
pub fn subscription_for(channel: &Channel, patterns: &[Pattern]) -> Option<Option<Arc<str>>> {
    let mut wildcard = None;
    for pattern in patterns.iter().filter(|p| p.matches(channel)) {
        if !pattern.is_wildcard() {
            return Some(None);
        }
        wildcard.get_or_insert_with(|| Arc::<str>::from(pattern.to_string()));
    }
    wildcard.map(Some)
}

/// Parses a comma-separated list of patterns, as in `/v1/subscribe/a,b.*`.
///
/// # Errors
/// The first pattern that does not parse.
pub fn parse_pattern_list(list: &str) -> Result<Vec<Pattern>, NameError> {
    let mut patterns: Vec<Pattern> = Vec::new();
    for part in list.split(',') {
        let pattern = Pattern::parse(part)?;
        if !patterns.contains(&pattern) {
            patterns.push(pattern);
        }
    }
    Ok(patterns)
}

fn validate_name(name: &str) -> Result<(), NameError> {
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    if name.len() > MAX_CHANNEL_LEN {
        return Err(NameError::TooLong(name.to_owned()));
    }
    match name.chars().find(|&ch| !is_name_char(ch)) {
        Some(ch) => Err(NameError::BadChar {
            name: name.to_owned(),
            ch,
        }),
        None => Ok(()),
    }
}

fn is_name_char(ch: char) -> bool {
    !(ch.is_whitespace() || ch.is_control() || matches!(ch, ',' | ':' | '*' | '/' | '\\'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ch(name: &str) -> Channel {
        Channel::parse(name).unwrap()
    }

    #[test]
    fn names() {
        assert!(Channel::parse("chat.lobby").is_ok());
        assert!(Channel::parse("user-42_x=@ü").is_ok());
        assert_eq!(Channel::parse(""), Err(NameError::Empty));
        assert!(matches!(
            Channel::parse("a b"),
            Err(NameError::BadChar { ch: ' ', .. })
        ));
        assert!(matches!(
            Channel::parse("a,b"),
            Err(NameError::BadChar { .. })
        ));
        assert!(matches!(
            Channel::parse("a/b"),
            Err(NameError::BadChar { .. })
        ));
        assert!(matches!(
            Channel::parse(&"x".repeat(93)),
            Err(NameError::TooLong(_))
        ));
        assert!(Channel::parse(&"x".repeat(92)).is_ok());
    }

    #[test]
    fn patterns() {
        let p = Pattern::parse("chat.*").unwrap();
        assert!(p.matches(&ch("chat.a")));
        assert!(p.matches(&ch("chat.a.b")));
        assert!(!p.matches(&ch("chat")));
        assert!(!p.matches(&ch("chatter.a")));
        assert_eq!(p.to_string(), "chat.*");
        assert!(Pattern::parse("a.b").unwrap().matches(&ch("a.b")));
        let presence = Pattern::parse("chat.*-pnpres").unwrap();
        assert!(presence.matches(&ch("chat.a-pnpres")));
        assert!(!presence.matches(&ch("chat.a")));
        assert!(
            !p.matches(&ch("chat.a-pnpres")),
            "wildcards leave presence channels out"
        );
        assert_eq!(presence.to_string(), "chat.*-pnpres");
        for bad in [
            "*", ".*", "a*", "a.*.b", "a..*", "a.**", "*.a", "", "*-pnpres",
        ] {
            assert!(Pattern::parse(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn prefixes() {
        let c = ch("a.b.c");
        assert_eq!(c.wildcard_prefixes().collect::<Vec<_>>(), ["a.", "a.b."]);
    }

    #[test]
    fn lists() {
        let list = parse_pattern_list("a,b.*,a").unwrap();
        assert_eq!(list.len(), 2);
        assert!(parse_pattern_list("a,,b").is_err());
    }
}
