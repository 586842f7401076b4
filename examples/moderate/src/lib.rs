//! A before-publish function that moderates chat messages shaped like
//! `{"text": "..."}`:
//! - it tidies the text (trims it and collapses runs of whitespace);
//! - it rejects a message that contains a banned word (config key
//!   `banned_words`: comma-separated, case-insensitive, whole words);
//! - it marks the messages it let through with `"moderated": true`.
//!
//! Any other payload passes unchanged.

use edgefn_sdk::serde_json::Value;
use edgefn_sdk::{Decision, Message, before_publish};

#[before_publish]
fn moderate(mut msg: Message) -> Decision {
    let Some(Value::String(text)) = msg.payload.get("text") else {
        return Decision::Pass;
    };
    let text = normalize(text);
    let banned = edgefn_sdk::config("banned_words").unwrap_or_default();
    if let Some(word) = find_banned(&text, &banned) {
        return Decision::reject(format!("message contains banned word {word:?}"));
    }
    msg.payload["text"] = text.into();
    msg.payload["moderated"] = true.into();
    Decision::Modify(msg)
}

/// `text` trimmed, with every run of whitespace replaced by one space.
fn normalize(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The first entry of the comma-separated `banned` list that occurs in
/// `text` as whole words (an entry may be several words: `free money`).
fn find_banned<'a>(text: &str, banned: &'a str) -> Option<&'a str> {
    let text_words = words(text);
    banned.split(',').map(str::trim).find(|entry| {
        let entry_words = words(entry);
        !entry_words.is_empty()
            && text_words
                .windows(entry_words.len())
                .any(|w| w == entry_words)
    })
}

/// The lower-cased words of `text` (runs of letters, digits and `'`).
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_whitespace() {
        assert_eq!(normalize("  hello \n\t  world  "), "hello world");
        assert_eq!(normalize("   "), "");
    }

    #[test]
    fn finds_whole_banned_words_case_insensitively() {
        let banned = "spam, scam ,,free money";
        assert_eq!(find_banned("Buy SPAM now!", banned), Some("spam"));
        assert_eq!(find_banned("no spammers here", banned), None);
        assert_eq!(find_banned("a scam.", banned), Some("scam"));
        assert_eq!(find_banned("get FREE   money", banned), Some("free money"));
        assert_eq!(find_banned("free as in money", banned), None);
        assert_eq!(find_banned("anything", ""), None);
    }
}
