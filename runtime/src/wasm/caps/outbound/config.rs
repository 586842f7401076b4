//! The outbound allow-list: which URLs a function may call.
//!
//! A rule is `scheme://host[:port][/path]`:
//! - scheme: `http`, `https` or `*`;
//! - host: a name (`api.example.com`), a subdomain wildcard
//!   (`*.example.com`, which does not match `example.com` itself), `*`, or an
//!   IP literal (`127.0.0.1`, `[::1]`);
//! - port: a number or `*`; when omitted, the scheme's default (80 or 443);
//! - path: an optional prefix the request path must start with.
//!
//! Nothing is allowed unless a rule says so. Addresses that are loopback,
//! private, link-local or otherwise not public are refused even when a host
//! rule matches, unless the matching rule names that exact IP address.

use std::fmt;
use std::net::IpAddr;

/// One allow-list entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundRule {
    text: String,
    scheme: Option<String>,
    host: HostRule,
    port: PortRule,
    path_prefix: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostRule {
    Any,
    Name(String),
    /// `*.example.com`, stored as `.example.com`.
    Subdomains(String),
    Ip(IpAddr),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PortRule {
    Any,
    Default,
    Exact(u16),
}

/// An allow-list entry that does not parse.
#[derive(Debug, thiserror::Error)]
#[error(
    "outbound rule `{rule}` is invalid: {reason} (expected scheme://host[:port][/path], e.g. https://api.example.com or http://127.0.0.1:9000)"
)]
pub struct BadRule {
    rule: String,
    reason: &'static str,
}

impl OutboundRule {
    /// Parses a rule.
    ///
    /// # Errors
    /// [`BadRule`] says what is wrong.
    pub fn parse(text: &str) -> Result<Self, BadRule> {
        let bad = |reason| BadRule {
            rule: text.to_owned(),
            reason,
        };
        let (scheme, rest) = text.split_once("://").ok_or_else(|| bad("missing `://`"))?;
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "*" => None,
            s @ ("http" | "https") => Some(s.to_owned()),
            _ => return Err(bad("the scheme must be http, https or *")),
        };
        let (authority, path_prefix) = match rest.find('/') {
            Some(i) => (&rest[..i], rest[i..].to_owned()),
            None => (rest, String::new()),
        };
        let (host, port) =
            split_port(authority).ok_or_else(|| bad("the port is not a number or *"))?;
        let host = host.to_ascii_lowercase();
        let host = if host == "*" {
            HostRule::Any
        } else if let Some(domain) = host.strip_prefix("*.") {
            if domain.is_empty() || domain.contains('*') {
                return Err(bad("a host wildcard must look like *.example.com"));
            }
            HostRule::Subdomains(format!(".{domain}"))
        } else if let Ok(ip) = host.trim_start_matches('[').trim_end_matches(']').parse() {
            HostRule::Ip(ip)
        } else if host.is_empty() || host.contains(['*', '@', ' ']) {
            return Err(bad("the host is missing or malformed"));
        } else {
            HostRule::Name(host)
        };
        Ok(Self {
            text: text.to_owned(),
            scheme,
            host,
            port,
            path_prefix,
        })
    }

    /// Whether a request to `scheme://host:port/path` falls under this rule.
    pub fn matches(&self, scheme: &str, host: &str, port: u16, path: &str) -> bool {
        let scheme_ok = self
            .scheme
            .as_deref()
            .is_none_or(|s| s.eq_ignore_ascii_case(scheme));
        let default_port = if scheme.eq_ignore_ascii_case("https") {
            443
        } else {
            80
        };
        let port_ok = match self.port {
            PortRule::Any => true,
            PortRule::Default => port == default_port,
            PortRule::Exact(p) => port == p,
        };
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        let host_ok = match &self.host {
            HostRule::Any => true,
            HostRule::Name(name) => *name == host,
            HostRule::Subdomains(suffix) => host.ends_with(suffix.as_str()),
            HostRule::Ip(ip) => host.parse::<IpAddr>().is_ok_and(|h| h == *ip),
        };
        scheme_ok && port_ok && host_ok && path.starts_with(self.path_prefix.as_str())
    }

    /// Whether this rule names `ip` literally, which allows it even when it is
    /// not a public address.
    pub fn names_ip(&self, ip: IpAddr) -> bool {
        self.host == HostRule::Ip(ip)
    }
}

fn split_port(authority: &str) -> Option<(&str, PortRule)> {
    let port_at = match authority.rfind(':') {
        // A colon inside [...] belongs to an IPv6 address.
        Some(i) if !authority[i..].contains(']') => i,
        _ => return Some((authority, PortRule::Default)),
    };
    let port = match &authority[port_at + 1..] {
        "*" => PortRule::Any,
        digits => PortRule::Exact(digits.parse().ok()?),
    };
    Some((&authority[..port_at], port))
}

impl fmt::Display for OutboundRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl serde::Serialize for OutboundRule {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> serde::Deserialize<'de> for OutboundRule {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// Whether `ip` is an ordinary public address (not loopback, private,
/// link-local, shared, unspecified, multicast or reserved for documentation).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b)) // shared (CGNAT)
                || (a == 198 && (b == 18 || b == 19)) // benchmarking
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00 // unique local
                || (first & 0xffc0) == 0xfe80 // link-local
                || first == 0x2001 && v6.segments()[1] == 0x0db8) // documentation
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(text: &str) -> OutboundRule {
        OutboundRule::parse(text).unwrap()
    }

    #[test]
    fn matching() {
        let r = rule("https://api.example.com");
        assert!(r.matches("https", "api.example.com", 443, "/x"));
        assert!(r.matches("https", "API.example.com", 443, "/"));
        assert!(!r.matches("http", "api.example.com", 80, "/"));
        assert!(!r.matches("https", "api.example.com", 8443, "/"));
        assert!(!r.matches("https", "evil.com", 443, "/"));

        let r = rule("http://127.0.0.1:9000");
        assert!(r.matches("http", "127.0.0.1", 9000, "/hook"));
        assert!(!r.matches("http", "127.0.0.1", 9001, "/hook"));
        assert!(r.names_ip("127.0.0.1".parse().unwrap()));

        let r = rule("*://*.example.com:*/v1");
        assert!(r.matches("http", "a.example.com", 1234, "/v1/x"));
        assert!(!r.matches("http", "example.com", 80, "/v1"));
        assert!(!r.matches("http", "a.example.com", 80, "/v2"));

        let r = rule("http://[::1]:8080");
        assert!(r.matches("http", "[::1]", 8080, "/"));
        assert!(r.names_ip("::1".parse().unwrap()));
    }

    #[test]
    fn refuses_bad_rules() {
        for bad in [
            "example.com",
            "ftp://x",
            "http://",
            "http://a:b",
            "http://*x.com",
            "http://*.",
        ] {
            assert!(OutboundRule::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn public_addresses() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in ["1.1.1.1", "93.184.216.34", "2606:4700::1111"] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }
}
