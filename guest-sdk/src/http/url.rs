//! Splitting an absolute `http://` or `https://` URL into the parts that a
//! wasi:http outgoing request wants: scheme, authority and path-with-query.
//!
//! Deliberately small: it checks the shape of the URL and leaves the rest
//! (such as whether the host name resolves) to the host.

/// The scheme of a URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scheme {
    Http,
    Https,
}

/// A URL split into its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Url {
    pub scheme: Scheme,
    /// `host` or `host:port`, e.g. `example.com:8080` or `[::1]:80`.
    pub authority: String,
    /// The path and query, e.g. `/hook?x=1`; at least `/`. The fragment is dropped.
    pub path_with_query: String,
}

/// Splits `url`; the error says what is wrong with it.
pub(crate) fn parse(url: &str) -> Result<Url, String> {
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("it contains whitespace or control characters".into());
    }
    let (scheme, rest) = url
        .split_once("://")
        .ok_or("it has no scheme (expected http:// or https://)")?;
    let scheme = match scheme.to_ascii_lowercase().as_str() {
        "http" => Scheme::Http,
        "https" => Scheme::Https,
        _ => {
            return Err(format!(
                "the scheme {scheme:?} is not supported (expected http or https)"
            ));
        }
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, rest) = rest.split_at(end);
    check_authority(authority)?;
    let path_with_query = rest.split('#').next().unwrap_or_default();
    let path_with_query = match path_with_query.chars().next() {
        None => "/".to_string(),
        Some('?') => format!("/{path_with_query}"),
        Some(_) => path_with_query.to_string(),
    };
    Ok(Url {
        scheme,
        authority: authority.to_string(),
        path_with_query,
    })
}

fn check_authority(authority: &str) -> Result<(), String> {
    if authority.is_empty() {
        return Err("it has no host".into());
    }
    if authority.contains('@') {
        return Err(
            "user names and passwords in URLs are not supported (send an authorization header)"
                .into(),
        );
    }
    // The port is what follows the last `:`, unless that `:` is inside an IPv6 `[...]`.
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) if !port.contains(']') => (host, Some(port)),
        _ => (authority, None),
    };
    if host.is_empty() {
        return Err("it has no host".into());
    }
    if host.starts_with('[') != host.ends_with(']') {
        return Err("its IPv6 address is missing a bracket".into());
    }
    if let Some(port) = port
        && port.parse::<u16>().is_err()
    {
        return Err(format!("its port {port:?} is not a number from 0 to 65535"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(url: &str) -> (Scheme, String, String) {
        let u = parse(url).unwrap_or_else(|e| panic!("{url}: {e}"));
        (u.scheme, u.authority, u.path_with_query)
    }

    #[test]
    fn splits() {
        assert_eq!(
            ok("http://127.0.0.1:9000/hook"),
            (
                Scheme::Http,
                "127.0.0.1:9000".to_string(),
                "/hook".to_string()
            )
        );
        assert_eq!(ok("HTTPS://example.com").2, "/");
        assert_eq!(ok("https://example.com").0, Scheme::Https);
        assert_eq!(ok("http://h?x=1").2, "/?x=1");
        assert_eq!(ok("http://h/a/b?x=1#frag").2, "/a/b?x=1");
        assert_eq!(ok("http://h#frag").2, "/");
        assert_eq!(ok("http://[::1]:8080/x").1, "[::1]:8080");
        assert_eq!(ok("http://[::1]/x").1, "[::1]");
    }

    #[test]
    fn rejects() {
        for bad in [
            "example.com/x",
            "ftp://example.com/",
            "http:///x",
            "http://:80/",
            "http://user:pw@h/",
            "http://h:port/",
            "http://h:99999/",
            "http://h/a b",
            "http://[::1/",
        ] {
            assert!(parse(bad).is_err(), "{bad} should be rejected");
        }
    }
}
