//! Signed, expiring permissions for the two requests that carry no access
//! token: the upload form a client posts to the URL that
//! `generate-upload-url` gave it (an [`UploadPolicy`], as S3's POST policy),
//! and the download link the files endpoint redirects to. Both are
//! HMAC-SHA-256 under the node's files key (in a cluster, a key every node
//! shares), so only what the node signed, and only until it expires, is
//! accepted.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::FileError;

type HmacSha256 = Hmac<Sha256>;

/// What one upload may store: which file, on which channel, until when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadPolicy {
    /// The channel the file is shared on.
    pub channel: String,
    /// The file's id (made by the node).
    pub id: String,
    /// The file's name.
    pub name: String,
    /// Unix seconds after which the upload is refused.
    pub expires: u64,
}

/// Signs and checks policies and links with one key.
#[derive(Clone)]
pub struct Signer {
    key: [u8; 32],
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer(..)")
    }
}

impl Signer {
    /// A signer keyed by `key` (a node's or a cluster's secret bytes),
    /// derived for this one purpose.
    pub fn new(key: &[u8]) -> Self {
        let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
        mac.update(b"edgefn files: upload policies and download links");
        Self {
            key: mac.finalize().into_bytes().into(),
        }
    }

    fn mac(&self, purpose: &str, text: &str) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(purpose.as_bytes());
        mac.update(b"\n");
        mac.update(text.as_bytes());
        mac
    }

    fn check(&self, purpose: &str, text: &str, signature: &str) -> Result<(), FileError> {
        let forged = || FileError::Forbidden("the signature does not match".into());
        let signature = hex::decode(signature).map_err(|_| forged())?;
        self.mac(purpose, text)
            .verify_slice(&signature)
            .map_err(|_| forged())
    }

    /// `policy` as the two form fields an upload carries: the policy
    /// (base64url JSON) and its signature (hex).
    pub fn sign_upload(&self, policy: &UploadPolicy) -> (String, String) {
        let json = serde_json::to_vec(policy).expect("a policy serializes");
        let encoded = URL_SAFE_NO_PAD.encode(json);
        let signature = hex::encode(self.mac("upload", &encoded).finalize().into_bytes());
        (encoded, signature)
    }

    /// The policy an upload's two fields carry, if the node signed it and
    /// it is still valid at `now` (Unix seconds).
    ///
    /// # Errors
    /// [`FileError::Forbidden`] for a forged, altered, unreadable or
    /// expired policy.
    pub fn check_upload(
        &self,
        encoded: &str,
        signature: &str,
        now: u64,
    ) -> Result<UploadPolicy, FileError> {
        self.check("upload", encoded, signature)?;
        let policy: UploadPolicy = URL_SAFE_NO_PAD
            .decode(encoded)
            .ok()
            .and_then(|json| serde_json::from_slice(&json).ok())
            .ok_or_else(|| FileError::Forbidden("the upload policy is unreadable".into()))?;
        if policy.expires < now {
            return Err(FileError::Forbidden(
                "the upload policy has expired: ask for a new upload URL".into(),
            ));
        }
        Ok(policy)
    }

    /// The signature (hex) of a link to `channel`'s file `id` named `name`,
    /// valid until `expires` (Unix seconds).
    pub fn sign_download(&self, channel: &str, id: &str, name: &str, expires: u64) -> String {
        let text = download_text(channel, id, name, expires);
        hex::encode(self.mac("download", &text).finalize().into_bytes())
    }

    /// Checks a download link's signature and expiry at `now`.
    ///
    /// # Errors
    /// [`FileError::Forbidden`] for a forged, altered or expired link.
    pub fn check_download(
        &self,
        (channel, id, name): (&str, &str, &str),
        expires: u64,
        signature: &str,
        now: u64,
    ) -> Result<(), FileError> {
        let text = download_text(channel, id, name, expires);
        self.check("download", &text, signature)?;
        if expires < now {
            return Err(FileError::Forbidden(
                "the download link has expired: ask for the file's URL again".into(),
            ));
        }
        Ok(())
    }
}

/// What a download link's signature covers (newlines cannot occur in
/// channel names, file ids or names).
fn download_text(channel: &str, id: &str, name: &str, expires: u64) -> String {
    format!("{channel}\n{id}\n{name}\n{expires}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(expires: u64) -> UploadPolicy {
        UploadPolicy {
            channel: "room".into(),
            id: "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b".into(),
            name: "cat.jpg".into(),
            expires,
        }
    }

    fn forbidden(result: Result<impl std::fmt::Debug, FileError>) -> String {
        match result {
            Err(FileError::Forbidden(why)) => why,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn an_upload_policy_round_trips_until_it_expires() {
        let signer = Signer::new(b"node key");
        let (encoded, signature) = signer.sign_upload(&policy(100));
        assert_eq!(
            signer.check_upload(&encoded, &signature, 100).unwrap(),
            policy(100)
        );
        let why = forbidden(signer.check_upload(&encoded, &signature, 101));
        assert!(why.contains("expired"), "{why}");
    }

    #[test]
    fn a_forged_or_altered_policy_is_refused() {
        let signer = Signer::new(b"node key");
        let (encoded, signature) = signer.sign_upload(&policy(100));
        // Another key's signature.
        let (_, other) = Signer::new(b"other key").sign_upload(&policy(100));
        forbidden(signer.check_upload(&encoded, &other, 0));
        // A policy changed after signing (a later expiry).
        let (longer, _) = signer.sign_upload(&policy(1_000));
        forbidden(signer.check_upload(&longer, &signature, 0));
        // Not hex at all.
        forbidden(signer.check_upload(&encoded, "zz", 0));
    }

    #[test]
    fn a_download_link_covers_file_and_expiry() {
        let signer = Signer::new(b"node key");
        let file = ("room", "id-1", "cat.jpg");
        let signature = signer.sign_download(file.0, file.1, file.2, 50);
        signer.check_download(file, 50, &signature, 50).unwrap();
        forbidden(signer.check_download(file, 50, &signature, 51));
        forbidden(signer.check_download(file, 60, &signature, 0));
        forbidden(signer.check_download(("room", "id-1", "dog.jpg"), 50, &signature, 0));
        forbidden(signer.check_download(("hall", "id-1", "cat.jpg"), 50, &signature, 0));
    }
}
