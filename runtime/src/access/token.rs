//! Access tokens in PubNub's Access Manager v3 format, so the official SDKs
//! can parse them: a CBOR map with byte-string keys
//! (`v`, `t`, `ttl`, `res`, `pat`, `cat`, `meta`, `uuid`, `sig`), written as
//! URL-safe base64, padded like PubNub's own tokens (the Python SDK decodes
//! them without re-padding); unpadded tokens are accepted too.
//!
//! `sig` is an HMAC-SHA256, keyed by the node's secret key, of the CBOR
//! encoding of the map without `sig` (PubNub's own signing input is not
//! public; clients never check it, only the server does).

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use ciborium::Value as Cbor;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::permissions::Permissions;

/// Longest token accepted, in characters.
pub const MAX_TOKEN_LEN: usize = 32 * 1024;

/// Grants by resource kind.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resources {
    /// Channels (by name, or by pattern in [`Token::patterns`]).
    pub channels: BTreeMap<String, Permissions>,
    /// Channel groups.
    pub groups: BTreeMap<String, Permissions>,
    /// Client ids (uuids).
    pub uuids: BTreeMap<String, Permissions>,
}

impl Resources {
    /// Whether nothing is granted.
    pub fn is_empty(&self) -> bool {
        self.channels.is_empty() && self.groups.is_empty() && self.uuids.is_empty()
    }
}

/// Grants on a whole category of resources (PubNub's token `categories`,
/// `cat` in the token: `{"chan": BITS, "uuid": BITS}`): every channel's or
/// every uuid's metadata, listings included.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Categories {
    /// On every channel.
    pub channels: Permissions,
    /// On every uuid (user).
    pub uuids: Permissions,
}

impl Categories {
    /// Whether nothing is granted.
    pub fn is_empty(&self) -> bool {
        self.channels == Permissions::default() && self.uuids == Permissions::default()
    }
}

/// What a token says.
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    /// Issue time, seconds since the Unix epoch.
    pub issued_at: u64,
    /// Lifetime in minutes.
    pub ttl_minutes: u32,
    /// The only client id allowed to use it, if any.
    pub authorized_uuid: Option<String>,
    /// Grants on named resources.
    pub resources: Resources,
    /// Grants on resources matching regular expressions.
    pub patterns: Resources,
    /// Grants on whole categories of resources.
    pub categories: Categories,
    /// Free-form data carried in the token (a JSON object).
    pub meta: serde_json::Map<String, serde_json::Value>,
}

/// A token that does not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the token is malformed: {0}")]
pub struct Malformed(pub String);

/// A decoded token with what its signature covers.
pub struct Decoded {
    /// The token.
    pub token: Token,
    /// The signed bytes (the map without `sig`).
    pub signed: Vec<u8>,
    /// The signature.
    pub signature: Vec<u8>,
}

impl Token {
    /// When it expires, in seconds since the Unix epoch.
    pub fn expires_at(&self) -> u64 {
        self.issued_at + u64::from(self.ttl_minutes) * 60
    }

    /// Signs the token with `key` and returns its text form.
    pub fn sign(&self, key: &[u8]) -> String {
        let mut entries = self.entries();
        let signed = encode(&Cbor::Map(entries.clone()));
        entries.push((key_bytes("sig"), Cbor::Bytes(mac(key, &signed))));
        URL_SAFE.encode(encode(&Cbor::Map(entries)))
    }

    /// Decodes a token's text form without checking its signature.
    ///
    /// # Errors
    /// [`Malformed`] when it is not base64, not CBOR or not shaped like a token.
    pub fn decode(text: &str) -> Result<Decoded, Malformed> {
        if text.len() > MAX_TOKEN_LEN {
            return Err(Malformed(format!("longer than {MAX_TOKEN_LEN} characters")));
        }
        let trimmed = text.trim_end_matches('=');
        let bytes = URL_SAFE_NO_PAD
            .decode(trimmed)
            .or_else(|_| STANDARD_NO_PAD.decode(trimmed))
            .map_err(|_| Malformed("not base64".into()))?;
        let value: Cbor = ciborium::de::from_reader(bytes.as_slice())
            .map_err(|e| Malformed(format!("not CBOR: {e}")))?;
        let Cbor::Map(mut entries) = value else {
            return Err(Malformed("not a CBOR map".into()));
        };
        let sig_at = entries.iter().position(|(k, _)| key_name(k) == Some("sig"));
        let signature = match sig_at.map(|i| entries.remove(i).1) {
            Some(Cbor::Bytes(sig)) => sig,
            _ => return Err(Malformed("no signature".into())),
        };
        let signed = encode(&Cbor::Map(entries.clone()));
        let field = |name: &str| {
            entries
                .iter()
                .find(|(k, _)| key_name(k) == Some(name))
                .map(|(_, v)| v)
        };
        let number = |name: &str| -> Result<u64, Malformed> {
            match field(name) {
                Some(Cbor::Integer(i)) => {
                    u64::try_from(*i).map_err(|_| Malformed(format!("`{name}` is negative")))
                }
                _ => Err(Malformed(format!("`{name}` is missing"))),
            }
        };
        let version = number("v")?;
        if version != 2 {
            return Err(Malformed(format!("version {version} is not supported")));
        }
        let token = Token {
            issued_at: number("t")?,
            ttl_minutes: u32::try_from(number("ttl")?)
                .map_err(|_| Malformed("`ttl` is too large".into()))?,
            authorized_uuid: match field("uuid") {
                Some(Cbor::Text(uuid)) if !uuid.is_empty() => Some(uuid.clone()),
                _ => None,
            },
            resources: resources(field("res"))?,
            patterns: resources(field("pat"))?,
            categories: categories(field("cat"))?,
            meta: match field("meta") {
                Some(meta) => meta
                    .deserialized::<serde_json::Map<String, serde_json::Value>>()
                    .map_err(|_| Malformed("`meta` is not a map".into()))?,
                None => serde_json::Map::new(),
            },
        };
        Ok(Decoded {
            token,
            signed,
            signature,
        })
    }

    fn entries(&self) -> Vec<(Cbor, Cbor)> {
        let mut entries = vec![
            (key_bytes("v"), Cbor::Integer(2.into())),
            (key_bytes("t"), Cbor::Integer(self.issued_at.into())),
            (key_bytes("ttl"), Cbor::Integer(self.ttl_minutes.into())),
            (key_bytes("res"), sections(&self.resources)),
            (key_bytes("pat"), sections(&self.patterns)),
            (
                key_bytes("meta"),
                Cbor::serialized(&self.meta).expect("JSON maps convert to CBOR"),
            ),
        ];
        if !self.categories.is_empty() {
            entries.push((key_bytes("cat"), category_section(self.categories)));
        }
        if let Some(uuid) = &self.authorized_uuid {
            entries.push((key_bytes("uuid"), Cbor::Text(uuid.clone())));
        }
        entries
    }
}

impl Decoded {
    /// Whether the signature was made with `key`.
    pub fn signed_with(&self, key: &[u8]) -> bool {
        let mut check = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
        check.update(&self.signed);
        check.verify_slice(&self.signature).is_ok()
    }
}

fn mac(key: &[u8], bytes: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(bytes);
    mac.finalize().into_bytes().to_vec()
}

fn encode(value: &Cbor) -> Vec<u8> {
    let mut bytes = Vec::new();
    ciborium::ser::into_writer(value, &mut bytes).expect("writing CBOR to memory cannot fail");
    bytes
}

fn key_bytes(name: &str) -> Cbor {
    Cbor::Bytes(name.as_bytes().to_vec())
}

fn key_name(key: &Cbor) -> Option<&str> {
    match key {
        Cbor::Bytes(bytes) => std::str::from_utf8(bytes).ok(),
        Cbor::Text(text) => Some(text),
        _ => None,
    }
}

/// `res` / `pat` sections; `usr` and `spc` are the legacy names PubNub still
/// sends (empty here).
fn sections(resources: &Resources) -> Cbor {
    let map = |grants: &BTreeMap<String, Permissions>| {
        Cbor::Map(
            grants
                .iter()
                .map(|(name, p)| (Cbor::Text(name.clone()), Cbor::Integer(p.0.into())))
                .collect(),
        )
    };
    let empty = BTreeMap::new();
    Cbor::Map(vec![
        (key_bytes("chan"), map(&resources.channels)),
        (key_bytes("grp"), map(&resources.groups)),
        (key_bytes("usr"), map(&empty)),
        (key_bytes("spc"), map(&empty)),
        (key_bytes("uuid"), map(&resources.uuids)),
    ])
}

/// The `cat` section: the categories granted, by their wire names.
fn category_section(categories: Categories) -> Cbor {
    Cbor::Map(
        [("chan", categories.channels), ("uuid", categories.uuids)]
            .into_iter()
            .filter(|(_, p)| *p != Permissions::default())
            .map(|(name, p)| (key_bytes(name), Cbor::Integer(p.0.into())))
            .collect(),
    )
}

/// The entries of the map `value` (none when absent), `what` it is.
fn map_entries<'a>(value: Option<&'a Cbor>, what: &str) -> Result<&'a [(Cbor, Cbor)], Malformed> {
    match value {
        None => Ok(&[]),
        Some(Cbor::Map(entries)) => Ok(entries),
        Some(_) => Err(Malformed(format!("{what} is not a map"))),
    }
}

fn categories(value: Option<&Cbor>) -> Result<Categories, Malformed> {
    let mut categories = Categories::default();
    for (key, bits) in map_entries(value, "the category section")? {
        match key_name(key) {
            Some("chan") => categories.channels = permission_bits(bits)?,
            Some("uuid") => categories.uuids = permission_bits(bits)?,
            _ => {}
        }
    }
    Ok(categories)
}

fn permission_bits(value: &Cbor) -> Result<Permissions, Malformed> {
    let Cbor::Integer(bits) = value else {
        return Err(Malformed("permission bits are not a number".into()));
    };
    u32::try_from(*bits)
        .map(Permissions)
        .map_err(|_| Malformed("permission bits out of range".into()))
}

fn resources(value: Option<&Cbor>) -> Result<Resources, Malformed> {
    let mut resources = Resources::default();
    for (key, grants) in map_entries(value, "a resource section")? {
        let target = match key_name(key) {
            Some("chan") => &mut resources.channels,
            Some("grp") => &mut resources.groups,
            Some("uuid") => &mut resources.uuids,
            _ => continue,
        };
        for (name, bits) in map_entries(Some(grants), "a resource list")? {
            let Cbor::Text(name) = name else {
                return Err(Malformed("a grant is not name: permissions".into()));
            };
            target.insert(name.clone(), permission_bits(bits)?);
        }
    }
    Ok(resources)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Token {
        let mut resources = Resources::default();
        resources
            .channels
            .insert("chat.alice".into(), Permissions(3));
        let mut patterns = Resources::default();
        patterns
            .channels
            .insert("^chat\\..*$".into(), Permissions::READ);
        let mut meta = serde_json::Map::new();
        meta.insert("role".into(), "user".into());
        Token {
            issued_at: 1_700_000_000,
            ttl_minutes: 60,
            authorized_uuid: Some("alice".into()),
            resources,
            patterns,
            categories: Categories {
                uuids: Permissions::GET,
                ..Categories::default()
            },
            meta,
        }
    }

    /// A signed token's top-level entries, by name.
    fn top_level(text: &str) -> BTreeMap<String, Cbor> {
        let bytes = URL_SAFE.decode(text).unwrap();
        let Cbor::Map(entries) = ciborium::de::from_reader(bytes.as_slice()).unwrap() else {
            panic!("not a map")
        };
        entries
            .into_iter()
            .map(|(k, v)| (key_name(&k).unwrap().to_owned(), v))
            .collect()
    }

    #[test]
    fn categories_are_written_only_when_granted() {
        // `cat` holds only the categories granted, as PubNub's SDKs read it
        // (`token["cat"]["uuid"]` → bits); a token without any has no `cat`.
        let entries = top_level(&sample().sign(b"secret"));
        assert_eq!(
            entries["cat"],
            Cbor::Map(vec![(key_bytes("uuid"), Cbor::Integer(32.into()))])
        );
        let plain = Token {
            categories: Categories::default(),
            ..sample()
        };
        let text = plain.sign(b"secret");
        assert!(!top_level(&text).contains_key("cat"));
        assert!(Token::decode(&text).unwrap().token.categories.is_empty());
    }

    #[test]
    fn round_trip_and_signature() {
        let token = sample();
        let text = token.sign(b"secret");
        assert!(!text.contains(['+', '/']));
        assert_eq!(text.len() % 4, 0, "padded like PubNub's tokens");
        let decoded = Token::decode(&text).unwrap();
        assert_eq!(decoded.token, token);
        assert!(decoded.signed_with(b"secret"));
        assert!(!decoded.signed_with(b"other"));
        assert_eq!(token.expires_at(), 1_700_003_600);
    }

    #[test]
    fn tampering_breaks_the_signature() {
        let text = sample().sign(b"secret");
        let mut bytes = URL_SAFE.decode(&text).unwrap();
        // Raise the permission bits of chat.alice (3 -> 7) in the CBOR bytes.
        let at = bytes
            .windows(11)
            .position(|w| w == b"chat.alice\x03")
            .unwrap()
            + 10;
        bytes[at] = 7;
        let forged = URL_SAFE_NO_PAD.encode(bytes);
        let decoded = Token::decode(&forged).unwrap();
        assert_eq!(
            decoded.token.resources.channels["chat.alice"],
            Permissions(7)
        );
        assert!(!decoded.signed_with(b"secret"));
    }

    #[test]
    fn malformed() {
        for bad in [
            "",
            "!!!",
            "aGVsbG8",
            &URL_SAFE_NO_PAD.encode(encode(&Cbor::Map(vec![]))),
        ] {
            assert!(Token::decode(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn reads_a_pubnub_issued_token_layout() {
        // The layout of a token issued by PubNub (from the Python SDK's
        // recorded fixtures): byte-string keys, legacy sections, 207 bits.
        let value = Cbor::Map(vec![
            (key_bytes("v"), Cbor::Integer(2.into())),
            (key_bytes("t"), Cbor::Integer(1_747_991_645.into())),
            (key_bytes("ttl"), Cbor::Integer(60.into())),
            (
                key_bytes("res"),
                Cbor::Map(vec![(
                    key_bytes("chan"),
                    Cbor::Map(vec![(
                        Cbor::Text("test_channel".into()),
                        Cbor::Integer(207.into()),
                    )]),
                )]),
            ),
            (key_bytes("pat"), Cbor::Map(vec![])),
            (key_bytes("meta"), Cbor::Map(vec![])),
            (key_bytes("uuid"), Cbor::Text("test".into())),
            (key_bytes("sig"), Cbor::Bytes(vec![0; 32])),
        ]);
        let decoded = Token::decode(&URL_SAFE_NO_PAD.encode(encode(&value))).unwrap();
        assert_eq!(
            decoded.token.resources.channels["test_channel"],
            Permissions(207)
        );
        assert_eq!(decoded.token.authorized_uuid.as_deref(), Some("test"));
    }
}
