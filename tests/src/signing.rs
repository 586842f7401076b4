//! PubNub requests signed with the secret key, as PubNub documents the
//! schemes: v2 (`v2.` + unpadded URL-safe base64 of HMAC-SHA256 over
//! `METHOD\npub_key\npath\nquery\nbody`) and the legacy v1 (padded, over
//! `sub_key\npub_key\npath\nquery`). Query values here are plain (letters,
//! digits, `-_.`), so the sorted query needs no re-encoding.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Which scheme to sign with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// Method, path, query and body.
    V2,
    /// Path and query only.
    V1,
}

/// The query string of a request signed with `secret` (keys `demo`/`demo`):
/// `params` plus `timestamp` (now) and `signature`.
pub fn signed_query(
    scheme: Scheme,
    secret: &str,
    (method, path, body): (&str, &str, &str),
    params: &[(&str, &str)],
) -> String {
    let timestamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("a clock after 1970")
        .as_secs()
        .to_string();
    let mut params: Vec<(&str, &str)> = params.to_vec();
    params.push(("timestamp", &timestamp));
    params.sort();
    for (k, v) in &params {
        assert!(
            format!("{k}{v}")
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)),
            "signing.rs signs plain query values only: {k}={v}"
        );
    }
    let query = params
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    let (input, prefix) = match scheme {
        Scheme::V2 => (format!("{method}\ndemo\n{path}\n{query}\n{body}"), "v2."),
        Scheme::V1 => (format!("demo\ndemo\n{path}\n{query}"), ""),
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(input.as_bytes());
    let encoded = URL_SAFE.encode(mac.finalize().into_bytes());
    let signature = match scheme {
        Scheme::V2 => encoded.trim_end_matches('=').to_owned(),
        Scheme::V1 => encoded.replace('=', "%3D"),
    };
    format!("{query}&signature={prefix}{signature}")
}
