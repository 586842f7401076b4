//! Hashes, HMAC and signatures for `require('crypto')`, `'uuid'` (v3, v5)
//! and `'jwt'`, as native functions on the `native` object: RustCrypto's
//! implementations, so that the JavaScript side only handles arguments and
//! encodings (`js/modules/crypto.js`).
//!
//! Every function takes its data as bytes: a string (its UTF-8), a
//! `Uint8Array`, or an array of numbers (each taken modulo 256). Bytes come
//! back as an array of numbers. Nothing here touches the host, so these work
//! in a module's top-level code too.
//!
//! Algorithm names (the first argument) are lower-case:
//! - `digest`: `md5`, `sha1`, `sha256`, `sha384`, `sha512`;
//! - `hmac`: `sha1`, `sha256`, `sha384`, `sha512`;
//! - `sign`/`verify`: `ed25519` (a 32-byte seed, a 32-byte public key,
//!   64-byte signatures) and `p256-sha1`, `p256-sha256`, `p256-sha512` (ECDSA
//!   on P-256: a 32-byte private scalar, a SEC1 public key of 65 or 33 bytes,
//!   64-byte `r || s` signatures; signing is deterministic, RFC 6979).

use ed25519_dalek::{Signer as _, Verifier as _};
use hmac::{Hmac, Mac};
use p256::ecdsa::signature::hazmat::{PrehashSigner, PrehashVerifier};
use rquickjs::function::Func;
use rquickjs::{Ctx, Exception, Object, Result, TypedArray, Value};
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha384, Sha512};

/// Sets the crypto functions on the `native` object.
pub fn register(native: &Object<'_>) -> Result<()> {
    native.set("digest", Func::from(digest))?;
    native.set("hmac", Func::from(hmac))?;
    native.set("sign", Func::from(sign))?;
    native.set("verify", Func::from(verify))?;
    Ok(())
}

fn throw<T>(ctx: &Ctx<'_>, message: impl AsRef<str>) -> Result<T> {
    Err(Exception::throw_type(ctx, message.as_ref()))
}

/// The bytes of `value`: a string's UTF-8, a `Uint8Array`'s contents, or an
/// array of numbers.
fn bytes<'js>(ctx: &Ctx<'js>, value: &Value<'js>, what: &str) -> Result<Vec<u8>> {
    if let Some(text) = value.as_string() {
        return Ok(text.to_string()?.into_bytes());
    }
    if let Ok(typed) = TypedArray::<u8>::from_value(value.clone()) {
        // SAFETY: the slice is copied before any JavaScript runs again.
        return match unsafe { typed.as_bytes() } {
            Some(slice) => Ok(slice.to_vec()),
            None => throw(ctx, format!("{what}: the Uint8Array is detached")),
        };
    }
    if let Some(array) = value.as_array() {
        let mut out = Vec::with_capacity(array.len());
        for item in array.iter::<f64>() {
            out.push(item? as i64 as u8);
        }
        return Ok(out);
    }
    throw(
        ctx,
        format!(
            "{what} must be a string, a Uint8Array or an array of bytes, not {}",
            value.type_name()
        ),
    )
}

fn hash(name: &str, data: &[u8]) -> Option<Vec<u8>> {
    Some(match name {
        "md5" => md5::Md5::digest(data).to_vec(),
        "sha1" => Sha1::digest(data).to_vec(),
        "sha256" => Sha256::digest(data).to_vec(),
        "sha384" => Sha384::digest(data).to_vec(),
        "sha512" => Sha512::digest(data).to_vec(),
        _ => return None,
    })
}

/// `native.digest(algorithm, data)` -> the hash of `data`.
fn digest<'js>(ctx: Ctx<'js>, algorithm: String, data: Value<'js>) -> Result<Vec<u8>> {
    let data = bytes(&ctx, &data, "the data to hash")?;
    match hash(&algorithm, &data) {
        Some(out) => Ok(out),
        None => throw(&ctx, format!("unknown hash algorithm `{algorithm}`")),
    }
}

fn mac<M: Mac + hmac::digest::KeyInit>(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac =
        <M as hmac::digest::KeyInit>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// `native.hmac(algorithm, key, data)` -> the HMAC of `data` under `key`.
fn hmac<'js>(
    ctx: Ctx<'js>,
    algorithm: String,
    key: Value<'js>,
    data: Value<'js>,
) -> Result<Vec<u8>> {
    let key = bytes(&ctx, &key, "the HMAC key")?;
    let data = bytes(&ctx, &data, "the message")?;
    Ok(match algorithm.as_str() {
        "sha1" => mac::<Hmac<Sha1>>(&key, &data),
        "sha256" => mac::<Hmac<Sha256>>(&key, &data),
        "sha384" => mac::<Hmac<Sha384>>(&key, &data),
        "sha512" => mac::<Hmac<Sha512>>(&key, &data),
        other => return throw(&ctx, format!("unknown HMAC algorithm `{other}`")),
    })
}

/// The hash an ECDSA algorithm name (`p256-sha256`) signs with.
fn ecdsa_hash(algorithm: &str) -> Option<&'static str> {
    match algorithm {
        "p256-sha1" => Some("sha1"),
        "p256-sha256" => Some("sha256"),
        "p256-sha512" => Some("sha512"),
        _ => None,
    }
}

/// `native.sign(algorithm, privateKey, data)` -> the signature.
fn sign<'js>(
    ctx: Ctx<'js>,
    algorithm: String,
    key: Value<'js>,
    data: Value<'js>,
) -> Result<Vec<u8>> {
    let key = bytes(&ctx, &key, "the private key")?;
    let data = bytes(&ctx, &data, "the message")?;
    if algorithm == "ed25519" {
        let Ok(seed) = <[u8; 32]>::try_from(key.as_slice()) else {
            return throw(
                &ctx,
                format!("an Ed25519 private key is 32 bytes, not {}", key.len()),
            );
        };
        let signing = ed25519_dalek::SigningKey::from_bytes(&seed);
        return Ok(signing.sign(&data).to_bytes().to_vec());
    }
    let Some(hash_name) = ecdsa_hash(&algorithm) else {
        return throw(&ctx, format!("unknown signature algorithm `{algorithm}`"));
    };
    let Ok(signing) = p256::ecdsa::SigningKey::from_slice(&key) else {
        return throw(
            &ctx,
            "not a P-256 private key (32 bytes, a scalar below the group order)",
        );
    };
    let prehash = hash(hash_name, &data).expect("a known hash");
    let signed: std::result::Result<p256::ecdsa::Signature, _> = signing.sign_prehash(&prehash);
    match signed {
        Ok(signature) => Ok(signature.to_bytes().to_vec()),
        Err(e) => throw(&ctx, format!("cannot sign: {e}")),
    }
}

/// `native.verify(algorithm, publicKey, data, signature)` -> whether the
/// signature is good. A malformed signature is `false`; a malformed key
/// throws.
fn verify<'js>(
    ctx: Ctx<'js>,
    algorithm: String,
    key: Value<'js>,
    data: Value<'js>,
    signature: Value<'js>,
) -> Result<bool> {
    let key = bytes(&ctx, &key, "the public key")?;
    let data = bytes(&ctx, &data, "the message")?;
    let signature = bytes(&ctx, &signature, "the signature")?;
    if algorithm == "ed25519" {
        let Ok(point) = <[u8; 32]>::try_from(key.as_slice()) else {
            return throw(
                &ctx,
                format!("an Ed25519 public key is 32 bytes, not {}", key.len()),
            );
        };
        let Ok(verifying) = ed25519_dalek::VerifyingKey::from_bytes(&point) else {
            return throw(&ctx, "not an Ed25519 public key");
        };
        let Ok(signature) = ed25519_dalek::Signature::from_slice(&signature) else {
            return Ok(false);
        };
        return Ok(verifying.verify(&data, &signature).is_ok());
    }
    let Some(hash_name) = ecdsa_hash(&algorithm) else {
        return throw(&ctx, format!("unknown signature algorithm `{algorithm}`"));
    };
    let Ok(verifying) = p256::ecdsa::VerifyingKey::from_sec1_bytes(&key) else {
        return throw(
            &ctx,
            "not a P-256 public key (SEC1: 65 bytes from 0x04, or 33 compressed)",
        );
    };
    let Ok(signature) = p256::ecdsa::Signature::from_slice(&signature) else {
        return Ok(false);
    };
    let prehash = hash(hash_name, &data).expect("a known hash");
    Ok(verifying.verify_prehash(&prehash, &signature).is_ok())
}
