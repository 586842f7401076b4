//! Channel names as NATS subject tokens. A channel's dots stay token
//! separators (so `chat.*` could map to `chat.>`); every other byte outside
//! `[A-Za-z0-9_-]` is percent-encoded, and an empty segment becomes `%`,
//! so any valid channel name gives a valid subject.

use std::fmt::Write;

use crate::bus::Channel;

/// `prefix.` followed by `channel` encoded as subject tokens.
pub fn for_channel(prefix: &str, channel: &Channel) -> String {
    let mut subject = String::with_capacity(prefix.len() + channel.as_str().len() + 8);
    subject.push_str(prefix);
    for segment in channel.as_str().split('.') {
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
}
