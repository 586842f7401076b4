//! `like` patterns: `*` matches any run of characters (including none), a
//! backslash makes the next character literal, and matching ignores case.
//!
//! A pattern is split at its wildcards into literal parts. The first part must
//! be a prefix of the text, the last a suffix, and the middle parts are found
//! left to right, each at its first occurrence after the previous one. Taking
//! the first occurrence is always right when `*` is the only wildcard, so there
//! is no backtracking: a match costs time linear in the text and the pattern,
//! whatever the pattern (`*a*a*a*a*b` included).

/// A compiled `like` pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Glob {
    /// The case-folded literal parts between wildcards; always at least one
    /// (a pattern without `*` is one part, which must equal the whole text).
    parts: Vec<String>,
}

impl Glob {
    /// Compiles a pattern: `*` is a wildcard, `\*` a literal star, `\\` a
    /// literal backslash, `\` before any other character that character, and
    /// a trailing lone `\` a literal backslash.
    pub(super) fn compile(pattern: &str) -> Glob {
        let mut parts = vec![String::new()];
        let mut chars = pattern.chars();
        while let Some(c) = chars.next() {
            let literal = match c {
                '*' => {
                    parts.push(String::new());
                    continue;
                }
                '\\' => chars.next().unwrap_or('\\'),
                other => other,
            };
            if let Some(part) = parts.last_mut() {
                part.extend(literal.to_lowercase());
            }
        }
        Glob { parts }
    }

    /// Whether `text`, already passed through [`fold`], matches.
    pub(super) fn matches_folded(&self, text: &str) -> bool {
        let Some((first, rest)) = self.parts.split_first() else {
            return false;
        };
        let Some((last, middle)) = rest.split_last() else {
            return text == first;
        };
        let Some(text) = text.strip_prefix(first.as_str()) else {
            return false;
        };
        let Some(mut text) = text.strip_suffix(last.as_str()) else {
            return false;
        };
        for part in middle.iter().filter(|p| !p.is_empty()) {
            match text.find(part.as_str()) {
                Some(at) => text = &text[at + part.len()..],
                None => return false,
            }
        }
        true
    }
}

/// Case-folds text the way patterns are folded: each character lowercased on
/// its own (no context rules), so text and pattern fold alike.
pub(super) fn fold(text: &str) -> String {
    if text.is_ascii() {
        text.to_ascii_lowercase()
    } else {
        text.chars().flat_map(char::to_lowercase).collect()
    }
}
