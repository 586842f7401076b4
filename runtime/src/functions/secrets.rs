//! Function secrets at rest: sealed with ChaCha20-Poly1305 under a key kept
//! in the data dir (`secrets.key`, mode 0600), bound to the secret's name.
//! Only names are ever shown; values are unsealed into memory for the
//! function that owns them.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};

const KEY_FILE: &str = "secrets.key";
const NONCE_LEN: usize = 12;

/// The node's secret key in `data_dir` (`secrets.key`), created on first
/// use: it seals function secrets, and other node-local secrets derive
/// from it (the files module's URL signatures).
///
/// # Errors
/// When the key file cannot be read or written, or is not 32 bytes.
pub fn load_key(data_dir: &Path) -> anyhow::Result<[u8; 32]> {
    let path = data_dir.join(KEY_FILE);
    let key = match std::fs::read(&path) {
        Ok(key) => key,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut key = vec![0u8; 32];
            getrandom::fill(&mut key)
                .map_err(|e| anyhow::anyhow!("no randomness for {KEY_FILE}: {e}"))?;
            crate::durable::create_private(&path, &key)
                .with_context(|| format!("cannot write {}", path.display()))?;
            key
        }
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    key.try_into()
        .map_err(|_| anyhow::anyhow!("{} is not a 32-byte key", path.display()))
}

/// Seals and unseals secrets with the node's key.
pub struct SecretBox {
    cipher: ChaCha20Poly1305,
}

/// A sealed secret that does not open (wrong key or altered).
#[derive(Debug, thiserror::Error)]
#[error(
    "secret `{0}` cannot be decrypted (the data dir's secrets.key changed, or the record was altered)"
)]
pub struct Unsealable(pub String);

impl SecretBox {
    /// Loads the key from `data_dir`, creating it on first use.
    ///
    /// # Errors
    /// As [`load_key`].
    pub fn open(data_dir: &Path) -> anyhow::Result<Self> {
        Ok(Self::with_key(&load_key(data_dir)?))
    }

    /// A box sealing with `key` (in a cluster, the key all nodes share).
    pub fn with_key(key: &[u8; 32]) -> Self {
        Self {
            cipher: ChaCha20Poly1305::new(Key::from_slice(key)),
        }
    }

    /// Seals every secret (name → value) for storage.
    pub fn seal_all(&self, secrets: &BTreeMap<String, String>) -> BTreeMap<String, String> {
        secrets
            .iter()
            .map(|(name, value)| (name.clone(), self.seal(name, value)))
            .collect()
    }

    /// Unseals every stored secret.
    ///
    /// # Errors
    /// [`Unsealable`] naming the first secret that does not open.
    pub fn unseal_all(
        &self,
        sealed: &BTreeMap<String, String>,
    ) -> Result<BTreeMap<String, String>, Unsealable> {
        sealed
            .iter()
            .map(|(name, text)| Ok((name.clone(), self.unseal(name, text)?)))
            .collect()
    }

    fn seal(&self, name: &str, value: &str) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).expect("the OS provides randomness");
        let payload = Payload {
            msg: value.as_bytes(),
            aad: name.as_bytes(),
        };
        let sealed = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), payload)
            .expect("sealing in memory cannot fail");
        STANDARD.encode([nonce.as_slice(), &sealed].concat())
    }

    fn unseal(&self, name: &str, text: &str) -> Result<String, Unsealable> {
        let fail = || Unsealable(name.to_owned());
        let bytes = STANDARD.decode(text).map_err(|_| fail())?;
        if bytes.len() < NONCE_LEN {
            return Err(fail());
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let payload = Payload {
            msg: sealed,
            aad: name.as_bytes(),
        };
        let plain = self
            .cipher
            .decrypt(Nonce::from_slice(nonce), payload)
            .map_err(|_| fail())?;
        String::from_utf8(plain).map_err(|_| fail())
    }
}

/// The key in `path`, a file given by the operator (a cluster's shared
/// key): 32 bytes, raw or base64 text.
///
/// # Errors
/// When the file cannot be read or does not hold such a key.
pub fn read_key_file(path: &Path) -> anyhow::Result<[u8; 32]> {
    let bytes = std::fs::read(path)
        .with_context(|| format!("cannot read the secrets key {}", path.display()))?;
    // 32 bytes are the key itself; anything else must be its base64.
    let key = match bytes.len() {
        32 => Some(bytes),
        _ => STANDARD.decode(String::from_utf8_lossy(&bytes).trim()).ok(),
    };
    key.and_then(|key| <[u8; 32]>::try_from(key).ok())
        .ok_or_else(|| {
            anyhow::anyhow!(
                "{} does not hold a 32-byte key (raw, or base64: `openssl rand -base64 32`)",
                path.display()
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_and_unseal() {
        let dir = std::env::temp_dir().join(format!("edgefn-secrets-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let secrets = BTreeMap::from([("API_KEY".to_owned(), "s3cret".to_owned())]);
        let sealed = SecretBox::open(&dir).unwrap().seal_all(&secrets);
        assert!(!sealed["API_KEY"].contains("s3cret"));
        // A second open reads the same key from disk.
        assert_eq!(
            SecretBox::open(&dir).unwrap().unseal_all(&sealed).unwrap(),
            secrets
        );
        // The value is bound to its name.
        let moved = BTreeMap::from([("OTHER".to_owned(), sealed["API_KEY"].clone())]);
        assert!(SecretBox::open(&dir).unwrap().unseal_all(&moved).is_err());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn key_files_hold_raw_or_base64_keys() {
        let dir = std::env::temp_dir().join(format!("edgefn-keyfile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("secrets.key");
        let key = [7u8; 32];
        std::fs::write(&path, key).unwrap();
        assert_eq!(read_key_file(&path).unwrap(), key);
        std::fs::write(&path, format!("{}\n", STANDARD.encode(key))).unwrap();
        assert_eq!(read_key_file(&path).unwrap(), key);
        std::fs::write(&path, STANDARD.encode([7u8; 16])).unwrap();
        let short = read_key_file(&path).unwrap_err().to_string();
        assert!(short.contains("32-byte key"), "{short}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
