// require('codec/base64'): PubNub's Base64 codec. `btoa(text)` encodes the
// UTF-8 bytes of `text` as Base64; `atob(base64)` decodes Base64 (or
// Base64url, padded or not) to text: UTF-8 when the bytes are UTF-8, else one
// character per byte, like a browser's atob. `encodeString(text)` makes a
// Base64 string URL-safe: `+` -> `-`, `/` -> `_` (the Base64url alphabet;
// padding is kept). PubNub's page shows `encodeString('+')` as `_`, which
// agrees with no URL-safe alphabet; its HMAC example undoes `-` and `_` the
// Base64url way, which is what this follows.
function utf8(text) {
  const binary = unescape(encodeURIComponent(String(text)));
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

function text(bytes) {
  let binary = '';
  for (let i = 0; i < bytes.length; i += 4096) binary += String.fromCharCode.apply(null, bytes.subarray(i, i + 4096));
  try {
    return decodeURIComponent(escape(binary));
  } catch (_) {
    return binary;
  }
}

function decode(encoded) {
  const s = String(encoded).replace(/\s+/g, '');
  try {
    return Uint8Array.fromBase64(s, { alphabet: /[-_]/.test(s) ? 'base64url' : 'base64' });
  } catch (_) {
    throw new TypeError('codec/base64.atob: the input is not Base64');
  }
}

module.exports = {
  btoa: (unencoded) => utf8(unencoded).toBase64(),
  atob: (encoded) => text(decode(encoded)),
  encodeString: (input) => String(input).replace(/\+/g, '-').replace(/\//g, '_'),
};
