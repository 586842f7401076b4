//! User records: PBKDF2-HMAC-SHA256 password hashes with a random salt.

use serde::{Deserialize, Serialize};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// Iterations when the config key `pbkdf2_iterations` is not set.
pub const DEFAULT_ITERATIONS: u32 = 10_000;
/// Most iterations accepted, in the config and in stored records (a record
/// asking for more would stall every login against it).
pub const MAX_ITERATIONS: u32 = 10_000_000;
/// Bytes of random salt per user.
const SALT_LEN: usize = 16;
/// Bytes of hash.
const HASH_LEN: usize = 32;

/// What the KV store keeps under `user:{name}`:
/// `{"salt": hex, "hash": hex, "iterations": N}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRecord {
    /// The salt, as hex.
    pub salt: String,
    /// PBKDF2-HMAC-SHA256(password, salt, iterations), as hex.
    pub hash: String,
    /// PBKDF2 iterations.
    pub iterations: u32,
}

impl UserRecord {
    /// A record for `password` with a fresh random salt.
    pub fn new(password: &str, iterations: u32) -> Result<Self, String> {
        let mut salt = [0u8; SALT_LEN];
        getrandom::fill(&mut salt).map_err(|e| format!("no random salt: {e}"))?;
        Ok(Self::with_salt(password, &salt, iterations))
    }

    fn with_salt(password: &str, salt: &[u8], iterations: u32) -> Self {
        UserRecord {
            salt: hex::encode(salt),
            hash: hex::encode(hash(password, salt, iterations)),
            iterations,
        }
    }

    /// Whether `password` is this user's; the hashes are compared in
    /// constant time.
    ///
    /// # Errors
    /// When the record is damaged (not hex, or impossible iterations).
    pub fn verify(&self, password: &str) -> Result<bool, String> {
        let salt = hex::decode(&self.salt).map_err(|e| format!("bad salt: {e}"))?;
        let expected = hex::decode(&self.hash).map_err(|e| format!("bad hash: {e}"))?;
        if !(1..=MAX_ITERATIONS).contains(&self.iterations) {
            return Err(format!("bad iteration count {}", self.iterations));
        }
        let actual = hash(password, &salt, self.iterations);
        Ok(actual.as_slice().ct_eq(&expected).into())
    }
}

/// Spends as long as checking a password against a record with
/// `iterations`, for logins of unknown users (so that they take as long as
/// wrong passwords).
pub fn waste_time(password: &str, iterations: u32) {
    std::hint::black_box(hash(password, &[0; SALT_LEN], iterations));
}

/// Compares two secrets in constant time (for their contents; not for
/// their lengths).
pub fn same_secret(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

fn hash(password: &str, salt: &[u8], iterations: u32) -> [u8; HASH_LEN] {
    let mut out = [0u8; HASH_LEN];
    pbkdf2::pbkdf2_hmac::<Sha256>(password.as_bytes(), salt, iterations, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_rfc_7914_test_vector() {
        // RFC 7914 section 11: PBKDF2-HMAC-SHA256("passwd", "salt", 1, 64).
        let mut out = [0u8; 64];
        pbkdf2::pbkdf2_hmac::<Sha256>(b"passwd", b"salt", 1, &mut out);
        assert!(hex::encode(out).starts_with("55ac046e56e3089fec1691c22544b605"));
    }

    #[test]
    fn verifies_the_right_password_only() {
        let record = UserRecord::with_salt("s3cret", b"0123456789abcdef", 1000);
        assert_eq!(record.salt, "30313233343536373839616263646566");
        assert_eq!(record.hash.len(), 64);
        assert_eq!(record.verify("s3cret"), Ok(true));
        assert_eq!(record.verify("s3cret "), Ok(false));
        assert_eq!(record.verify(""), Ok(false));
    }

    #[test]
    fn damaged_records_are_errors() {
        let good = UserRecord::with_salt("pw", b"salt", 10);
        let bad_salt = UserRecord {
            salt: "zz".into(),
            ..good.clone()
        };
        assert!(bad_salt.verify("pw").is_err());
        let bad_iterations = UserRecord {
            iterations: 0,
            ..good
        };
        assert!(bad_iterations.verify("pw").is_err());
    }

    #[test]
    fn record_json_shape() {
        let record = UserRecord::with_salt("pw", &[0xab; 2], 5);
        let json = edgefn_sdk::serde_json::to_value(&record).unwrap();
        assert_eq!(json["salt"], "abab");
        assert_eq!(json["iterations"], 5);
        assert!(json["hash"].is_string());
    }

    #[test]
    fn secrets_compare() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "ab"));
    }
}
