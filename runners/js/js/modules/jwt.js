// require('jwt'): JSON Web Tokens shaped like the jsonwebtoken package, with
// HMAC only (HS256, HS384, HS512; HMAC computed natively).
// - `sign(payload, secret, options?, callback?)` -> the token. Options:
//   `algorithm` (HS256), `expiresIn` / `notBefore` (seconds, or a span like
//   '90s', '15m', '24h', '7d'), `audience`, `issuer`, `subject`, `jwtid`,
//   `keyid`, `header`, `noTimestamp`. An object payload gets `iat`.
// - `verify(token, secret, options?, callback?)` -> the payload, after the
//   signature, `exp` and `nbf` (with `clockTolerance` seconds,
//   `ignoreExpiration`, `ignoreNotBefore`, `clockTimestamp`), `maxAge`,
//   `algorithms`, `audience` (a string, RegExp or array), `issuer`,
//   `subject` and `jwtid`; `complete: true` -> {header, payload, signature}.
//   Throws JsonWebTokenError, TokenExpiredError (`expiredAt`) or
//   NotBeforeError (`date`), exported as classes too.
// - `decode(token, {complete}?)` -> the payload (null when malformed),
//   without verifying.
// Not here: RS*, ES*, PS* and EdDSA tokens, `none`, and key objects. With a
// callback, the result or error goes to callback(err, result) instead.
const ALGORITHMS = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' };

class JsonWebTokenError extends Error {
  constructor(message, inner) {
    super(message);
    this.name = 'JsonWebTokenError';
    if (inner !== undefined) this.inner = inner;
  }
}
class TokenExpiredError extends JsonWebTokenError {
  constructor(message, expiredAt) {
    super(message);
    this.name = 'TokenExpiredError';
    this.expiredAt = expiredAt;
  }
}
class NotBeforeError extends JsonWebTokenError {
  constructor(message, date) {
    super(message);
    this.name = 'NotBeforeError';
    this.date = date;
  }
}

function utf8(text) {
  const binary = unescape(encodeURIComponent(text));
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
function text(bytes) {
  let binary = '';
  for (let i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i]);
  return decodeURIComponent(escape(binary));
}
const encode = (bytes) => new Uint8Array(bytes).toBase64({ alphabet: 'base64url', omitPadding: true });
const encodeJson = (value) => encode(utf8(JSON.stringify(value)));
const decodeSegment = (segment) => text(Uint8Array.fromBase64(segment, { alphabet: 'base64url' }));

const UNITS = { ms: 1, s: 1000, m: 60000, h: 3600000, d: 86400000, w: 604800000, y: 31557600000 };
const UNIT_NAMES = [
  [/^(milliseconds?|msecs?|ms)$/, 'ms'], [/^(seconds?|secs?|s)$/, 's'], [/^(minutes?|mins?|m)$/, 'm'],
  [/^(hours?|hrs?|h)$/, 'h'], [/^(days?|d)$/, 'd'], [/^(weeks?|w)$/, 'w'], [/^(years?|yrs?|y)$/, 'y'],
];
// A span (seconds, or the ms package's strings, where no unit means
// milliseconds) after `timestamp`, in seconds.
function timespan(span, timestamp, what) {
  if (typeof span === 'number') return Math.floor(timestamp + span);
  const match = /^(-?(?:\d+)?\.?\d+) *([a-z]+)?$/i.exec(String(span).trim());
  const unit = match && (match[2] === undefined ? 'ms' : (UNIT_NAMES.find(([re]) => re.test(match[2].toLowerCase())) || [])[1]);
  if (!match || unit === undefined) {
    throw new Error(`"${what}" should be a number of seconds or string representing a timespan`);
  }
  return Math.floor(timestamp + (parseFloat(match[1]) * UNITS[unit]) / 1000);
}

function hmac(algorithm, secret, input) {
  const name = ALGORITHMS[algorithm];
  if (name === undefined) throw new JsonWebTokenError(`"${algorithm}" is not a supported algorithm here (HS256, HS384, HS512)`);
  if (secret === undefined || secret === null || secret === '') throw new JsonWebTokenError('secret or public key must be provided');
  const key = typeof secret === 'string' || secret instanceof Uint8Array || Array.isArray(secret) ? secret : String(secret);
  return encode(native.hmac(name, key, input));
}

function withCallback(callback, f) {
  if (typeof callback !== 'function') return f();
  let result;
  try {
    result = f();
  } catch (error) {
    return callback(error);
  }
  return callback(null, result);
}

function sign(payload, secret, options, callback) {
  if (typeof options === 'function') [callback, options] = [options, {}];
  return withCallback(callback, () => {
    const o = options || {};
    const algorithm = o.algorithm || 'HS256';
    if (payload === undefined || payload === null) throw new Error('payload is required');
    const header = Object.assign({ alg: algorithm, typ: 'JWT' }, o.header || {});
    if (o.keyid !== undefined) header.kid = o.keyid;
    let body = payload;
    if (typeof payload === 'object') {
      body = Object.assign({}, payload);
      const timestamp = body.iat === undefined ? Math.floor(Date.now() / 1000) : body.iat;
      if (o.noTimestamp) delete body.iat;
      else body.iat = timestamp;
      if (o.expiresIn !== undefined) {
        if (payload.exp !== undefined) throw new Error('Bad "options.expiresIn" option the payload already has an "exp" property.');
        body.exp = timespan(o.expiresIn, timestamp, 'expiresIn');
      }
      if (o.notBefore !== undefined) {
        if (payload.nbf !== undefined) throw new Error('Bad "options.notBefore" option the payload already has an "nbf" property.');
        body.nbf = timespan(o.notBefore, timestamp, 'notBefore');
      }
      for (const [option, claim] of [['audience', 'aud'], ['issuer', 'iss'], ['subject', 'sub'], ['jwtid', 'jti']]) {
        if (o[option] === undefined) continue;
        if (payload[claim] !== undefined) throw new Error(`Bad "options.${option}" option. The payload already has an "${claim}" property.`);
        body[claim] = o[option];
      }
    } else if (o.expiresIn !== undefined || o.notBefore !== undefined) {
      throw new Error('invalid expiresIn or notBefore option for string payload');
    }
    const input = `${encodeJson(header)}.${typeof body === 'string' ? encode(utf8(body)) : encodeJson(body)}`;
    return `${input}.${hmac(algorithm, secret, input)}`;
  });
}

function decode(token, options) {
  const o = options || {};
  if (typeof token !== 'string') return null;
  const parts = token.split('.');
  if (parts.length !== 3) return null;
  let header;
  let payload;
  try {
    header = JSON.parse(decodeSegment(parts[0]));
    payload = decodeSegment(parts[1]);
  } catch (_) {
    return null;
  }
  try {
    const parsed = JSON.parse(payload);
    if (parsed !== null && typeof parsed === 'object') payload = parsed;
  } catch (_) {
    // A payload that is not JSON stays a string.
  }
  if (o.complete === true) return { header, payload, signature: parts[2] };
  return payload;
}

function same(a, b) {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

function matches(expected, actual) {
  const values = Array.isArray(actual) ? actual : [actual];
  const wanted = Array.isArray(expected) ? expected : [expected];
  return values.some((value) => wanted.some((w) => (w instanceof RegExp ? w.test(value) : w === value)));
}

function verify(token, secret, options, callback) {
  if (typeof options === 'function') [callback, options] = [options, {}];
  return withCallback(callback, () => {
    const o = options || {};
    if (!token) throw new JsonWebTokenError('jwt must be provided');
    if (typeof token !== 'string') throw new JsonWebTokenError('jwt must be a string');
    const parts = token.split('.');
    if (parts.length !== 3) throw new JsonWebTokenError('jwt malformed');
    const decoded = decode(token, { complete: true });
    if (decoded === null) throw new JsonWebTokenError('invalid token');
    const { header, payload } = decoded;
    if (parts[2] === '') throw new JsonWebTokenError('jwt signature is required');
    const allowed = o.algorithms || Object.keys(ALGORITHMS);
    if (!allowed.includes(header.alg)) throw new JsonWebTokenError('invalid algorithm');
    if (!same(hmac(header.alg, secret, `${parts[0]}.${parts[1]}`), parts[2])) throw new JsonWebTokenError('invalid signature');
    const now = o.clockTimestamp === undefined ? Math.floor(Date.now() / 1000) : o.clockTimestamp;
    const tolerance = o.clockTolerance || 0;
    if (payload !== null && typeof payload === 'object') {
      if (payload.nbf !== undefined && !o.ignoreNotBefore) {
        if (typeof payload.nbf !== 'number') throw new JsonWebTokenError('invalid nbf value');
        if (payload.nbf > now + tolerance) throw new NotBeforeError('jwt not active', new Date(payload.nbf * 1000));
      }
      if (payload.exp !== undefined && !o.ignoreExpiration) {
        if (typeof payload.exp !== 'number') throw new JsonWebTokenError('invalid exp value');
        if (now >= payload.exp + tolerance) throw new TokenExpiredError('jwt expired', new Date(payload.exp * 1000));
      }
      if (o.audience !== undefined && !matches(o.audience, payload.aud)) {
        throw new JsonWebTokenError(`jwt audience invalid. expected: ${[].concat(o.audience).join(' or ')}`);
      }
      if (o.issuer !== undefined && !matches(o.issuer, payload.iss)) {
        throw new JsonWebTokenError(`jwt issuer invalid. expected: ${[].concat(o.issuer).join(',')}`);
      }
      if (o.subject !== undefined && payload.sub !== o.subject) throw new JsonWebTokenError(`jwt subject invalid. expected: ${o.subject}`);
      if (o.jwtid !== undefined && payload.jti !== o.jwtid) throw new JsonWebTokenError(`jwt jwtid invalid. expected: ${o.jwtid}`);
      if (o.maxAge !== undefined) {
        if (typeof payload.iat !== 'number') throw new JsonWebTokenError('iat required when maxAge is specified');
        const latest = timespan(o.maxAge, payload.iat, 'maxAge');
        if (now >= latest + tolerance) throw new TokenExpiredError('maxAge exceeded', new Date(latest * 1000));
      }
    }
    return o.complete === true ? decoded : payload;
  });
}

module.exports = { sign, verify, decode, JsonWebTokenError, TokenExpiredError, NotBeforeError };
