// require('uuid'): the uuid package's `v4()` (random, from the host's secure
// randomness), `v3(name, namespace)` (MD5) and `v5(name, namespace)` (SHA-1)
// name-based UUIDs (`name` a string, its UTF-8, or bytes; `namespace` a UUID
// string; `v3.DNS`, `v3.URL`, `v5.DNS` and `v5.URL` are RFC 4122's
// namespaces), `validate(text)` (RFC 4122 versions 1-8, and the nil and max
// UUIDs), `version(text)` (throws a TypeError for an invalid UUID) and `NIL`.
// Not here: v1, v6, v7, parse, stringify, and v4's options (`random`, `rng`,
// output buffers).
const NIL = '00000000-0000-0000-0000-000000000000';
const DNS = '6ba7b810-9dad-11d1-80b4-00c04fd430c8';
const URL = '6ba7b811-9dad-11d1-80b4-00c04fd430c8';
const PATTERN = /^(?:[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}|00000000-0000-0000-0000-000000000000|ffffffff-ffff-ffff-ffff-ffffffffffff)$/i;

function validate(text) {
  return typeof text === 'string' && PATTERN.test(text);
}

function version(text) {
  if (!validate(text)) throw new TypeError('Invalid UUID');
  return parseInt(text.slice(14, 15), 16);
}

// 16 bytes -> xxxxxxxx-xxxx-Vxxx-Nxxx-xxxxxxxxxxxx, with the version and the
// RFC 4122 variant set.
function format(bytes, v) {
  const b = Uint8Array.from(bytes.slice(0, 16));
  b[6] = (b[6] & 0x0f) | (v << 4);
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = b.toHex();
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function utf8(text) {
  const binary = unescape(encodeURIComponent(text));
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

function named(v, hash) {
  const generate = (name, namespace) => {
    const ns = typeof namespace === 'string' && validate(namespace) ? Uint8Array.fromHex(namespace.replace(/-/g, '')) : null;
    if (ns === null) throw new TypeError(`uuid.v${v}: the namespace must be a UUID string`);
    const data = typeof name === 'string' ? utf8(name) : Uint8Array.from(name);
    const message = new Uint8Array(16 + data.length);
    message.set(ns, 0);
    message.set(data, 16);
    return format(native.digest(hash, message), v);
  };
  generate.DNS = DNS;
  generate.URL = URL;
  return generate;
}

module.exports = {
  v3: named(3, 'md5'),
  v4: () => format(native.randomBytes(16), 4),
  v5: named(5, 'sha1'),
  validate,
  version,
  NIL,
};
