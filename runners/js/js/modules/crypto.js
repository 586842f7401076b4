// require('crypto'): PubNub's crypto module — `ALGORITHM`, and the
// Promise-returning `hmac(key, msg, algorithm)` (Base64), `sha1(msg)`,
// `sha256(msg)`, `sha512(msg)` (lower-case hex), `sign(key, msg, algorithm)`
// (Base64) and `verify(signature, key, msg, algorithm)` (true or false),
// computed natively (src/crypto.rs, RustCrypto).
//
// Inputs: a message or HMAC key is a string (hashed as UTF-8) or bytes (a
// Uint8Array, ArrayBuffer or array of numbers). A key is used as it is given:
// PubNub's own example passes `base64.btoa(secret)`, which makes the key that
// Base64 text, here as there.
//
// Keys for sign/verify (PubNub documents "an Object"; the format is not
// specified): a JWK (`{kty: 'EC', crv: 'P-256', x, y, d}` or
// `{kty: 'OKP', crv: 'Ed25519', x, d}`: `d` signs, `x` (and `y`) verify), a
// PEM (PKCS#8 / SEC1 private key, SPKI public key), raw bytes, or the raw
// bytes as hex or Base64(url) text: Ed25519 a 32-byte seed / public key;
// P-256 a 32-byte scalar / SEC1 point (65 bytes from 0x04, or 33).
// Signatures are Base64 of Ed25519's 64 bytes or ECDSA's raw `r || s`
// (64 bytes, as JWS and WebCrypto have them, not DER); `verify` takes them
// as Base64, Base64url, hex or bytes. ECDSA signing is deterministic
// (RFC 6979).
const ALGORITHM = Object.freeze({
  ED25519: 'ED25519',
  ECDSA_P256_SHA1: 'ECDSA_P256_SHA1',
  ECDSA_P256_SHA256: 'ECDSA_P256_SHA256',
  ECDSA_P256_SHA512: 'ECDSA_P256_SHA512',
  HMAC_SHA1: 'HMAC_SHA1',
  HMAC_SHA256: 'HMAC_SHA256',
  HMAC_SHA512: 'HMAC_SHA512',
});
const HMACS = { HMAC_SHA1: 'sha1', HMAC_SHA256: 'sha256', HMAC_SHA512: 'sha512' };
const SIGNATURES = {
  ED25519: 'ed25519',
  ECDSA_P256_SHA1: 'p256-sha1',
  ECDSA_P256_SHA256: 'p256-sha256',
  ECDSA_P256_SHA512: 'p256-sha512',
};

const call = (f) => new Promise((resolve) => resolve(f()));
const toHex = (bytes) => new Uint8Array(bytes).toHex();
const toBase64 = (bytes) => new Uint8Array(bytes).toBase64();

function isBytes(value) {
  return value instanceof Uint8Array || value instanceof ArrayBuffer || ArrayBuffer.isView(value) || Array.isArray(value);
}
function asBytes(value) {
  if (value instanceof Uint8Array || Array.isArray(value)) return value;
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
}

// A message or HMAC key: a string or bytes.
function input(value, what) {
  if (typeof value === 'string') return value;
  if (isBytes(value)) return asBytes(value);
  if (value === undefined || value === null) throw new TypeError(`crypto: ${what} is required`);
  if (typeof value === 'object') throw new TypeError(`crypto: ${what} must be a string or bytes, not an object`);
  return String(value);
}

function algorithm(table, name, what) {
  const found = Object.prototype.hasOwnProperty.call(table, name) ? table[name] : undefined;
  if (found === undefined) {
    const names = Object.keys(table).map((n) => `crypto.ALGORITHM.${n}`).join(', ');
    throw new TypeError(`crypto.${what}: the algorithm must be one of ${names}, not ${String(name)}`);
  }
  return found;
}

// Base64 or Base64url, padded or not.
function fromBase64(text, what) {
  const s = String(text).replace(/\s+/g, '');
  try {
    return Uint8Array.fromBase64(s, { alphabet: /[-_]/.test(s) ? 'base64url' : 'base64' });
  } catch (_) {
    throw new TypeError(`crypto: ${what} is not Base64`);
  }
}

// Hex (when it has a key's or signature's length in hex) or Base64(url).
function fromText(text, what, hexLengths) {
  const s = text.trim().replace(/^0x/i, '');
  if (/^[0-9a-fA-F]+$/.test(s) && hexLengths.includes(s.length)) return Uint8Array.fromHex(s);
  return fromBase64(s, what);
}

// The key bytes inside a PEM's DER, found by the ASN.1 bytes that precede them.
function fromPem(text, ed25519, signing) {
  const der = fromBase64(text.replace(/-----[^-]*-----/g, ''), 'the PEM key');
  const find = (prefix, length) => {
    for (let i = 0; i + prefix.length + length <= der.length; i++) {
      if (prefix.every((b, j) => der[i + j] === b)) return der.slice(i + prefix.length, i + prefix.length + length);
    }
    return null;
  };
  let found;
  if (ed25519) found = signing ? find([0x04, 0x22, 0x04, 0x20], 32) : find([0x03, 0x21, 0x00], 32);
  else found = signing ? find([0x02, 0x01, 0x01, 0x04, 0x20], 32) : find([0x03, 0x42, 0x00], 65);
  if (found === null) {
    throw new TypeError(`crypto: the PEM holds no ${ed25519 ? 'Ed25519' : 'P-256'} ${signing ? 'private' : 'public'} key`);
  }
  return found;
}

function fromJwk(jwk, ed25519, signing) {
  const curve = ed25519 ? 'Ed25519' : 'P-256';
  if (jwk.crv !== undefined && jwk.crv !== curve) throw new TypeError(`crypto: the JWK is for ${jwk.crv}, not ${curve}`);
  if (signing) {
    if (typeof jwk.d !== 'string') throw new TypeError('crypto.sign: the JWK has no private part (`d`)');
    return fromBase64(jwk.d, 'the JWK\'s `d`');
  }
  if (typeof jwk.x !== 'string') throw new TypeError('crypto.verify: the JWK has no public part (`x`)');
  const x = fromBase64(jwk.x, 'the JWK\'s `x`');
  if (ed25519) return x;
  if (typeof jwk.y !== 'string') throw new TypeError('crypto.verify: the JWK has no `y`');
  const y = fromBase64(jwk.y, 'the JWK\'s `y`');
  const point = new Uint8Array(1 + x.length + y.length);
  point[0] = 4;
  point.set(x, 1);
  point.set(y, 1 + x.length);
  return point;
}

function key(value, name, signing) {
  const ed25519 = name === 'ed25519';
  if (isBytes(value)) return asBytes(value);
  if (typeof value === 'string') {
    if (value.trim().startsWith('-----BEGIN')) return fromPem(value, ed25519, signing);
    return fromText(value, 'the key', [64, 66, 130]);
  }
  if (value !== null && typeof value === 'object') return fromJwk(value, ed25519, signing);
  throw new TypeError(`crypto.${signing ? 'sign' : 'verify'}: the key must be a JWK object, a PEM, or the key's bytes`);
}

const digest = (name) => (msg) => call(() => toHex(native.digest(name, input(msg, 'the message'))));

module.exports = {
  ALGORITHM,
  hmac: (secret, msg, alg) => call(() => {
    const name = algorithm(HMACS, alg, 'hmac');
    return toBase64(native.hmac(name, input(secret, 'the key'), input(msg, 'the message')));
  }),
  sha1: digest('sha1'),
  sha256: digest('sha256'),
  sha512: digest('sha512'),
  sign: (privateKey, msg, alg) => call(() => {
    const name = algorithm(SIGNATURES, alg, 'sign');
    return toBase64(native.sign(name, key(privateKey, name, true), input(msg, 'the message')));
  }),
  verify: (signature, publicKey, msg, alg) => call(() => {
    const name = algorithm(SIGNATURES, alg, 'verify');
    let sig;
    if (isBytes(signature)) sig = asBytes(signature);
    else if (typeof signature === 'string') {
      try {
        sig = fromText(signature, 'the signature', [128]);
      } catch (_) {
        return false;
      }
    } else throw new TypeError('crypto.verify: the signature must be a string or bytes');
    return native.verify(name, key(publicKey, name, false), input(msg, 'the message'), sig);
  }),
};
