//! Request signatures made with the secret key, as PubNub's SDKs make them
//! when configured with `secretKey`: HMAC-SHA256 over the method, publish
//! key, path, sorted and re-encoded query (without `signature`) and body,
//! as URL-safe base64 without padding, prefixed `v2.`.
//!
//! The older v1 scheme (subscribe key, publish key, path, query; padded, no
//! prefix), which PubNub still takes from legacy clients, covers neither the
//! method nor the body: a captured v1 request could be replayed within the
//! ±60 s window as another method on the same path (`GET` history as
//! `DELETE`) or with another body. So the caller says whether v1 may
//! stand ([`Versions`]): for requests that read, sent as `GET` with no
//! body, where v1 covers everything the request carries and its method is
//! fixed; and, as on PubNub, for `POST /publish`, which PubNub's own Python
//! SDK signs with v1 (the body is not covered there, as on PubNub). Grants
//! and everything else that changes state need v2; a v1 signature there is
//! refused naming why ([`SignatureError::V1Refused`]).
//!
//! A request with a valid signature and a `timestamp` within ±60 s acts with
//! the secret key's authority: access tokens are not needed.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE;
use hmac::{Hmac, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// How far a signed request's `timestamp` may be from the node's clock.
pub const MAX_SKEW_SECS: u64 = 60;

/// Characters PubNub leaves unencoded when signing: letters, digits, `-_.`.
const SIGNING_SET: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.');

/// Why a signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// No `timestamp` parameter, or not a number.
    #[error("a signed request needs a `timestamp` query parameter (Unix seconds)")]
    NoTimestamp,
    /// The timestamp is too far from now.
    #[error("the request's timestamp is more than {MAX_SKEW_SECS} s away from the server's clock")]
    Skewed,
    /// The signature does not match.
    #[error("the request signature does not match")]
    Mismatch,
    /// A v1 signature where only v2 is taken.
    #[error(
        "a v1 signature (without the `v2.` prefix) covers neither the method nor the body: \
         grants and requests that change state must be signed with v2"
    )]
    V1Refused,
}

/// Which signature schemes a request may be signed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Versions {
    /// v2 only: grants, and everything that changes state.
    V2,
    /// v1 or v2: a read sent as `GET`, whose path and query are all it
    /// carries.
    V1OrV2,
}

/// What is signed.
pub struct Signed<'a> {
    /// `GET`, `POST`, ...
    pub method: &'a str,
    /// The raw path, as sent.
    pub path: &'a str,
    /// The raw query string.
    pub query: &'a str,
    /// The raw body (empty for GET).
    pub body: &'a [u8],
}

/// Checks the request's `signature` against `secret`, given the node's keys,
/// the schemes it may use and the current time.
///
/// # Errors
/// [`SignatureError`] says why it does not hold.
pub fn verify(
    request: &Signed,
    signature: &str,
    secret: &str,
    (keys, versions): ((&str, &str), Versions),
    now: u64,
) -> Result<(), SignatureError> {
    let (publish_key, subscribe_key) = keys;
    if versions == Versions::V2 && !signature.starts_with("v2.") {
        return Err(SignatureError::V1Refused);
    }
    let params = decode_query(request.query);
    let timestamp: u64 = params
        .iter()
        .find(|(k, _)| k == "timestamp")
        .and_then(|(_, v)| v.parse().ok())
        .ok_or(SignatureError::NoTimestamp)?;
    if timestamp.abs_diff(now) > MAX_SKEW_SECS {
        return Err(SignatureError::Skewed);
    }
    let query = canonical_query(&params);
    let candidates = match signature.strip_prefix("v2.") {
        Some(v2) => {
            let body = String::from_utf8_lossy(request.body);
            // PubNub's JS SDK signs publishes as GET whatever the method.
            let methods = [request.method, "GET"];
            let inputs: Vec<String> = methods
                .iter()
                .map(|m| format!("{m}\n{publish_key}\n{}\n{query}\n{body}", request.path))
                .collect();
            return check(secret, v2.trim_end_matches('='), &inputs, true);
        }
        None => vec![format!(
            "{subscribe_key}\n{publish_key}\n{}\n{query}",
            request.path
        )],
    };
    check(secret, signature, &candidates, false)
}

fn check(
    secret: &str,
    signature: &str,
    inputs: &[String],
    strip_padding: bool,
) -> Result<(), SignatureError> {
    for input in inputs {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
            .expect("HMAC takes keys of any length");
        mac.update(input.as_bytes());
        let expected = URL_SAFE.encode(mac.finalize().into_bytes());
        let expected = if strip_padding {
            expected.trim_end_matches('=')
        } else {
            expected.as_str()
        };
        if bool::from(expected.as_bytes().ct_eq(signature.as_bytes())) {
            return Ok(());
        }
    }
    Err(SignatureError::Mismatch)
}

/// The query's parameters, percent-decoded (`+` stays `+`, as PubNub's
/// clients encode spaces as `%20`).
pub fn decode_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let decode = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
            (decode(k), decode(v))
        })
        .collect()
}

/// Sorted by name, `signature` left out, values re-encoded as PubNub does.
fn canonical_query(params: &[(String, String)]) -> String {
    let mut params: Vec<&(String, String)> =
        params.iter().filter(|(k, _)| k != "signature").collect();
    params.sort_by(|a, b| a.0.cmp(&b.0));
    params
        .iter()
        .map(|(k, v)| format!("{k}={}", utf8_percent_encode(v, SIGNING_SET)))
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEYS: (&str, &str) = ("pub", "sub");

    fn sign_v2(secret: &str, input: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(input.as_bytes());
        format!(
            "v2.{}",
            URL_SAFE
                .encode(mac.finalize().into_bytes())
                .trim_end_matches('=')
        )
    }

    #[test]
    fn v2_signatures() {
        let query = "uuid=my%20user&timestamp=1000&pnsdk=PubNub-JS%2F11";
        let input = "POST\npub\n/v3/pam/sub/grant\npnsdk=PubNub-JS%2F11&timestamp=1000&uuid=my%20user\n{\"ttl\":5}";
        let signature = sign_v2("sec", input);
        let request = Signed {
            method: "POST",
            path: "/v3/pam/sub/grant",
            query,
            body: b"{\"ttl\":5}",
        };
        assert_eq!(
            verify(&request, &signature, "sec", (KEYS, Versions::V2), 1010),
            Ok(())
        );
        assert_eq!(
            verify(&request, &signature, "other", (KEYS, Versions::V2), 1010),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(&request, &signature, "sec", (KEYS, Versions::V2), 1100),
            Err(SignatureError::Skewed)
        );
        let unstamped = Signed {
            query: "uuid=u",
            ..request
        };
        assert_eq!(
            verify(&unstamped, &signature, "sec", (KEYS, Versions::V2), 1000),
            Err(SignatureError::NoTimestamp)
        );
    }

    #[test]
    fn v1_signatures_only_where_allowed() {
        let query = "uuid=u&timestamp=1000";
        let input = "sub\npub\n/v3/history/sub-key/sub/channel/c\ntimestamp=1000&uuid=u";
        let mut mac = Hmac::<Sha256>::new_from_slice(b"sec").unwrap();
        mac.update(input.as_bytes());
        let v1 = URL_SAFE.encode(mac.finalize().into_bytes());
        let read = Signed {
            method: "GET",
            path: "/v3/history/sub-key/sub/channel/c",
            query,
            body: b"",
        };
        assert_eq!(
            verify(&read, &v1, "sec", (KEYS, Versions::V1OrV2), 1000),
            Ok(())
        );
        // The same signature on the same path as a deletion: refused,
        // whatever the method, as soon as v2 is required.
        let delete = Signed {
            method: "DELETE",
            ..read
        };
        assert_eq!(
            verify(&delete, &v1, "sec", (KEYS, Versions::V2), 1000),
            Err(SignatureError::V1Refused)
        );
        assert_eq!(
            verify(&read, "v1-looking", "sec", (KEYS, Versions::V2), 1000),
            Err(SignatureError::V1Refused)
        );
    }

    #[test]
    fn encodes_like_pubnub() {
        let params = decode_query("b=a~b*c&a=x%2By&signature=zzz");
        assert_eq!(canonical_query(&params), "a=x%2By&b=a%7Eb%2Ac");
    }
}
