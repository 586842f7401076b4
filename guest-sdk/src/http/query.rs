//! Query strings: splitting `a=1&b=2` into pairs and percent-decoding them.

/// Splits `query` (without the `?`) into decoded `(key, value)` pairs.
pub(crate) fn parse(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let (key, value) = part.split_once('=').unwrap_or((part, ""));
            (decode(key), decode(value))
        })
        .collect()
}

/// Percent-decodes `s` (`+` is a space, a malformed `%` escape is kept as
/// is, invalid UTF-8 becomes `�`).
pub(crate) fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match (bytes[i], escaped_byte(&bytes[i + 1..])) {
            (b'+', _) => out.push(b' '),
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 2;
            }
            (b, _) => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The byte that the two hex digits at the start of `rest` stand for.
fn escaped_byte(rest: &[u8]) -> Option<u8> {
    let hex = |b: u8| (b as char).to_digit(16);
    match rest {
        [hi, lo, ..] => Some((hex(*hi)? * 16 + hex(*lo)?) as u8),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes() {
        assert_eq!(decode("a%20b+c"), "a b c");
        assert_eq!(decode("%e2%82%AC"), "€");
        assert_eq!(decode("100%"), "100%");
        assert_eq!(decode("%zz%4"), "%zz%4");
        assert_eq!(decode("%41"), "A");
    }

    #[test]
    fn splits_pairs() {
        assert_eq!(
            parse("a=1&&b=&c&d=x=y"),
            [("a", "1"), ("b", ""), ("c", ""), ("d", "x=y")]
                .map(|(k, v)| (k.to_string(), v.to_string()))
        );
        assert!(parse("").is_empty());
    }
}
