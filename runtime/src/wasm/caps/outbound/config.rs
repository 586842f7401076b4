//! The outbound allow-list: which URLs a function may call.
//!
//! A rule is `scheme://host[:port][/path]`:
//! - scheme: `http`, `https` or `*`;
//! - host: a name (`api.example.com`), a subdomain wildcard
//!   (`*.example.com`, which does not match `example.com` itself), `*`, or an
//!   IP literal (`127.0.0.1`, `[::1]`);
//! - port: a number or `*`; when omitted, the scheme's default (80 or 443);
//! - path: an optional prefix of whole path segments: `/v1` matches `/v1`
//!   and `/v1/x` but not `/v1evil`. The request path is compared after
//!   percent-decoding and resolving `.` and `..` segments, so `/v1/../x` and
//!   `/v1/%2e%2e/x` are `/x`; a path with an encoded slash or a backslash
//!   (`%2F`, `%5C`, `\`), which servers read in different ways, matches only a
//!   rule without a path.
//!
//! Nothing is allowed unless a rule says so. Addresses that are loopback,
//! private, link-local or otherwise not public are refused even when a host
//! rule matches, unless the matching rule names that exact IP address.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{Ipv4Net, Ipv6Net};
use percent_encoding::percent_decode_str;

/// One allow-list entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundRule {
    text: String,
    scheme: Option<String>,
    host: HostRule,
    port: PortRule,
    /// Decoded path segments a request path must start with.
    path_prefix: Vec<Vec<u8>>,
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
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        let mut path_prefix = path_segments(path)
            .ok_or_else(|| bad("the path must not hold `%2F`, `%5C` or `\\`"))?;
        // `/v1/` means the same as `/v1`.
        if path_prefix.last().is_some_and(Vec::is_empty) {
            path_prefix.pop();
        }
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
        let path_ok = self.path_prefix.is_empty()
            || path_segments(path).is_some_and(|segments| segments.starts_with(&self.path_prefix));
        scheme_ok && port_ok && host_ok && path_ok
    }

    /// Whether this rule names `ip` literally, which allows it even when it is
    /// not a public address.
    pub fn names_ip(&self, ip: IpAddr) -> bool {
        self.host == HostRule::Ip(ip)
    }
}

/// The segments of an absolute `path`, each percent-decoded, with `.` and
/// `..` resolved as a server resolves them (RFC 3986 section 5.2.4); `None`
/// when a segment holds a backslash or an encoded slash or backslash.
fn path_segments(path: &str) -> Option<Vec<Vec<u8>>> {
    let mut segments: Vec<Vec<u8>> = Vec::new();
    let path = path.strip_prefix('/').unwrap_or(path);
    if path.is_empty() {
        return Some(segments);
    }
    for raw in path.split('/') {
        let segment: Vec<u8> = percent_decode_str(raw).collect();
        if segment.contains(&b'/') || segment.contains(&b'\\') {
            return None;
        }
        match segment.as_slice() {
            b"." => {}
            b".." => {
                segments.pop();
            }
            _ => segments.push(segment),
        }
    }
    Some(segments)
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

/// IPv4 ranges of the IANA IPv4 Special-Purpose Address Registry whose
/// "Globally Reachable" is False or N/A, plus multicast. The registry's
/// globally reachable exceptions inside `192.0.0.0/24` (PCP and TURN anycast)
/// are refused with the rest of the block: no function needs them.
const V4_NOT_GLOBAL: &[Ipv4Net] = &[
    v4(0, 0, 0, 0, 8),          // "this network" (RFC 791)
    v4(10, 0, 0, 0, 8),         // private (RFC 1918)
    v4(100, 64, 0, 0, 10),      // shared address space, CGNAT (RFC 6598)
    v4(127, 0, 0, 0, 8),        // loopback (RFC 1122)
    v4(169, 254, 0, 0, 16),     // link-local (RFC 3927)
    v4(172, 16, 0, 0, 12),      // private (RFC 1918)
    v4(192, 0, 0, 0, 24),       // IETF protocol assignments (RFC 6890)
    v4(192, 0, 2, 0, 24),       // documentation TEST-NET-1 (RFC 5737)
    v4(192, 88, 99, 0, 24),     // deprecated 6to4 relay anycast (RFC 7526)
    v4(192, 168, 0, 0, 16),     // private (RFC 1918)
    v4(198, 18, 0, 0, 15),      // benchmarking (RFC 2544)
    v4(198, 51, 100, 0, 24),    // documentation TEST-NET-2 (RFC 5737)
    v4(203, 0, 113, 0, 24),     // documentation TEST-NET-3 (RFC 5737)
    v4(224, 0, 0, 0, 4),        // multicast (RFC 5771)
    v4(240, 0, 0, 0, 4),        // reserved (RFC 1112)
    v4(255, 255, 255, 255, 32), // limited broadcast (RFC 919)
];

/// IPv6 ranges of the IANA IPv6 Special-Purpose Address Registry whose
/// "Globally Reachable" is False or N/A, plus multicast and the deprecated
/// site-local block. `2001::/23` is refused whole: it holds Teredo
/// (`2001::/32`, which tunnels to an IPv4 address the host cannot check),
/// benchmarking and ORCHID, and its few globally reachable entries are
/// anycast services no function needs. Prefixes that embed an IPv4 address
/// (IPv4-mapped, IPv4-compatible, NAT64 `64:ff9b::/96`, 6to4) are not here:
/// [`is_public`] checks the embedded address instead.
const V6_NOT_GLOBAL: &[Ipv6Net] = &[
    v6([0, 0, 0, 0, 0, 0, 0, 0], 128),         // unspecified (RFC 4291)
    v6([0, 0, 0, 0, 0, 0, 0, 1], 128),         // loopback (RFC 4291)
    v6([0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48),  // local-use IPv4/IPv6 translation (RFC 8215)
    v6([0x100, 0, 0, 0, 0, 0, 0, 0], 64),      // discard-only (RFC 6666)
    v6([0x100, 0, 0, 1, 0, 0, 0, 0], 64),      // dummy prefix (RFC 9780)
    v6([0x2001, 0, 0, 0, 0, 0, 0, 0], 23),     // IETF protocol assignments, Teredo (RFC 2928, 4380)
    v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32), // documentation (RFC 3849)
    v6([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20),     // documentation (RFC 9637)
    v6([0x5f00, 0, 0, 0, 0, 0, 0, 0], 16),     // segment routing SIDs (RFC 9602)
    v6([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7),      // unique local (RFC 4193)
    v6([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10),     // link-local (RFC 4291)
    v6([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10),     // deprecated site-local (RFC 3879)
    v6([0xff00, 0, 0, 0, 0, 0, 0, 0], 8),      // multicast (RFC 4291)
];

/// IPv4-compatible (deprecated), IPv4-mapped and NAT64 well-known prefixes:
/// the address is that of the last 32 bits (RFC 4291, RFC 6052).
const V6_EMBEDS_V4_LOW: &[Ipv6Net] = &[
    v6([0, 0, 0, 0, 0, 0, 0, 0], 96),
    v6([0, 0, 0, 0, 0, 0xffff, 0, 0], 96),
    v6([0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96),
];

/// 6to4: the IPv4 address is bits 16 to 48 (RFC 3056).
const V6_6TO4: Ipv6Net = v6([0x2002, 0, 0, 0, 0, 0, 0, 0], 16);

const fn v4(a: u8, b: u8, c: u8, d: u8, len: u8) -> Ipv4Net {
    Ipv4Net::new_assert(Ipv4Addr::new(a, b, c, d), len)
}

const fn v6(s: [u16; 8], len: u8) -> Ipv6Net {
    Ipv6Net::new_assert(
        Ipv6Addr::new(s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]),
        len,
    )
}

/// Whether `ip` is globally reachable: in none of the IANA special-purpose
/// ranges that are not (loopback, private, link-local, shared, documentation,
/// benchmarking, translation for local use, ...), not multicast, and, for an
/// IPv6 address that embeds an IPv4 one (mapped, compatible, NAT64, 6to4),
/// with a globally reachable embedded address.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => !V4_NOT_GLOBAL.iter().any(|net| net.contains(&v4)),
        IpAddr::V6(v6) => {
            if V6_NOT_GLOBAL.iter().any(|net| net.contains(&v6)) {
                return false;
            }
            let bits = v6.to_bits();
            let embedded = if V6_EMBEDS_V4_LOW.iter().any(|net| net.contains(&v6)) {
                Some(bits as u32)
            } else if V6_6TO4.contains(&v6) {
                Some((bits >> 80) as u32)
            } else {
                None
            };
            embedded.is_none_or(|v4| is_public(IpAddr::V4(Ipv4Addr::from_bits(v4))))
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
    fn path_rules_match_whole_normalised_segments() {
        let r = rule("http://api.example.com/v1");
        let path_ok = |path| r.matches("http", "api.example.com", 80, path);
        for allowed in [
            "/v1",
            "/v1/",
            "/v1/x",
            "/v1/x/../y",
            "/v1/./x",
            "/v1/x/..",
            "/%76%31/x",
            "/v1/%2e/x",
        ] {
            assert!(path_ok(allowed), "{allowed}");
        }
        for refused in [
            "/v1evil",
            "/v1/../x",
            "/v1/%2e%2e/x",
            "/v1/%2E%2E/admin",
            "/v1/x/../../admin",
            "/v1%2Fx",
            "/v1/..%2fadmin",
            "/v1/x%5C..",
            "/v1\\..\\admin",
            "/v",
            "/",
            "",
            "/V1",
            "//v1",
        ] {
            assert!(!path_ok(refused), "{refused}");
        }

        // A rule's trailing slash changes nothing; a rule without a path
        // takes any path, even one with an encoded slash.
        assert_eq!(
            rule("http://h/v1/").path_prefix,
            rule("http://h/v1").path_prefix
        );
        let any = rule("http://h");
        assert!(any.matches("http", "h", 80, "/a%2Fb/../.."));
        assert!(rule("http://h/").matches("http", "h", 80, "/x"));
        assert!(OutboundRule::parse("http://h/a%2Fb").is_err());
    }

    #[test]
    fn iana_special_purpose_addresses_are_not_public() {
        for not_global in [
            // IPv4 special-purpose registry.
            "0.1.2.3",
            "10.1.2.3",
            "100.64.0.1",
            "100.127.255.254",
            "127.0.0.1",
            "127.255.255.254",
            "169.254.169.254",
            "172.16.0.1",
            "172.31.255.255",
            "192.0.0.1",
            "192.0.0.8",
            "192.0.0.170",
            "192.0.2.1",
            "192.88.99.1",
            "192.168.1.1",
            "198.18.0.1",
            "198.19.255.255",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
            // IPv6 special-purpose registry.
            "::",
            "::1",
            "64:ff9b:1::1",
            "100::1",
            "100:0:0:1::1",
            "2001::1",
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
            "2001:2::1",
            "2001:10::1",
            "2001:db8::1",
            "3fff::1",
            "5f00::1",
            "fc00::1",
            "fd00::1",
            "fe80::1",
            "fec0::1",
            "ff02::1",
            "ff0e::1",
            // An embedded IPv4 address that is not public.
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "::10.0.0.1",
            "64:ff9b::7f00:1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b::c0a8:101",
            "2002:7f00:1::1",
            "2002:a00:1::",
            "2002:c0a8:101::1",
        ] {
            assert!(!is_public(not_global.parse().unwrap()), "{not_global}");
        }
        for global in [
            "1.1.1.1",
            "8.8.8.8",
            "93.184.216.34",
            "100.63.255.255",
            "100.128.0.1",
            "172.32.0.1",
            "192.0.3.1",
            "198.20.0.1",
            "223.255.255.255",
            "2606:4700::1111",
            "2a00:1450:4001::200e",
            "2001:200::1",
            "::ffff:1.1.1.1",
            "64:ff9b::101:101",
            "2002:808:808::1",
        ] {
            assert!(is_public(global.parse().unwrap()), "{global}");
        }
    }
}
