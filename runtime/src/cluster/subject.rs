//! Channel names as NATS subject tokens. A channel's dots stay token
//! separators (so `chat.*` could map to `chat.>`); every other byte outside
//! `[A-Za-z0-9_-]` is percent-encoded, and an empty segment becomes `%`,
//! so any valid channel name gives a valid subject. A binding pattern maps
//! to the subject filters that cover its channels ([`filters`]).

use std::fmt::Write;

use crate::bus::{Channel, Pattern};

/// `prefix.` followed by `channel` encoded as subject tokens.
pub fn for_channel(prefix: &str, channel: &Channel) -> String {
    encode(prefix, channel.as_str())
}

/// The fewest subject filters under `prefix` that cover every channel the
/// `patterns` match (NATS refuses overlapping filters on one consumer): an
/// exact channel is its subject, `chat.*` (and `chat.*-pnpres`) is
/// `prefix.chat.>`; a filter inside another one is left out. The filters
/// may cover more than the patterns match (presence channels under a
/// prefix), so whoever reads what they select still checks each channel.
pub fn filters(prefix: &str, patterns: &[Pattern]) -> Vec<String> {
    let mut subjects: Vec<String> = patterns
        .iter()
        .map(|pattern| match pattern {
            Pattern::Exact(channel) => for_channel(prefix, channel),
            Pattern::Prefix(stem) | Pattern::PresencePrefix(stem) => {
                format!("{}.>", encode(prefix, stem.trim_end_matches('.')))
            }
        })
        .collect();
    subjects.sort();
    subjects.dedup();
    // `m.chat.` for `m.chat.>`: what the subjects under it start with.
    let wide: Vec<String> = subjects
        .iter()
        .filter_map(|s| s.strip_suffix('>').map(str::to_owned))
        .collect();
    subjects.retain(|s| {
        !wide
            .iter()
            .any(|under| s.starts_with(under.as_str()) && s[under.len()..] != *">")
    });
    subjects
}

/// Whether `subject` is selected by one of `filters` (made by [`filters`]).
pub fn covered(filters: &[String], subject: &str) -> bool {
    filters.iter().any(|filter| match filter.strip_suffix('>') {
        Some(under) => subject.starts_with(under),
        None => filter == subject,
    })
}

/// `prefix.` followed by the channel name (or its prefix) `text` as tokens.
fn encode(prefix: &str, text: &str) -> String {
    let mut subject = String::with_capacity(prefix.len() + text.len() + 8);
    subject.push_str(prefix);
    for segment in text.split('.') {
        subject.push('.');
        if segment.is_empty() {
            subject.push('%');
        }
        for byte in segment.bytes() {
            if byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-' {
                subject.push(byte as char);
            } else {
                let _ = write!(subject, "%{byte:02X}");
            }
        }
    }
    subject
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject(name: &str) -> String {
        for_channel("m", &Channel::parse(name).unwrap())
    }

    #[test]
    fn encodes_what_subjects_cannot_hold() {
        assert_eq!(subject("chat.lobby"), "m.chat.lobby");
        assert_eq!(subject("a>b.x"), "m.a%3Eb.x");
        assert_eq!(subject("a..b"), "m.a.%.b");
        assert_eq!(subject("ü"), "m.%C3%BC");
        assert_eq!(subject("100%"), "m.100%25");
        assert_ne!(subject("a%3E"), subject("a>"));
    }

    fn filters_of(patterns: &[&str]) -> Vec<String> {
        let patterns: Vec<Pattern> = patterns
            .iter()
            .map(|p| Pattern::parse(p).unwrap())
            .collect();
        filters("m", &patterns)
    }

    #[test]
    fn patterns_become_the_fewest_filters_that_cover_them() {
        assert_eq!(filters_of(&["chat.lobby"]), ["m.chat.lobby"]);
        assert_eq!(
            filters_of(&["chat.*", "chat.lobby", "chat.a.*", "news", "chat.*-pnpres"]),
            ["m.chat.>", "m.news"]
        );
        assert_eq!(filters_of(&["a.b.*", "a.bc.*"]), ["m.a.b.>", "m.a.bc.>"]);
        assert_eq!(filters_of(&["ü.*"]), ["m.%C3%BC.>"]);
        assert!(filters_of(&[]).is_empty());
    }

    #[test]
    fn the_filters_cover_the_channels_their_patterns_match() {
        let patterns = [
            Pattern::parse("a.b.*").unwrap(),
            Pattern::parse("c").unwrap(),
        ];
        let filters = filters("m", &patterns);
        for name in ["a.b.c", "a.b.c.d", "a.b.", "c", "a.b.x-pnpres"] {
            assert!(
                covered(&filters, &subject(name)),
                "{name} not under {filters:?}"
            );
        }
        for name in ["a.bc", "a.c", "cc", "c.d"] {
            assert!(
                !covered(&filters, &subject(name)),
                "{name} under {filters:?}"
            );
        }
    }
}
