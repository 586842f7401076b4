// require('jwt').
const jwt = require('jwt');

// jwt.io's example token: HS256 of {"sub":"1234567890","name":"John Doe","iat":1516239022}
// under "your-256-bit-secret" (recomputed with Python's hmac; see js_modules.rs).
const KNOWN = 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c';

function attempt(f) {
  try {
    return { ok: f() };
  } catch (e) {
    return { error: e.name, message: e.message };
  }
}

export default (request, response) => {
  const now = Math.floor(Date.now() / 1000);
  const token = jwt.sign({ userId: 'u1', role: 'admin', name: 'Zoë' }, 's3cret', { expiresIn: '1h', issuer: 'edgefn', audience: 'app' });
  const decoded = jwt.decode(token, { complete: true });
  const expired = jwt.sign({ userId: 'u1', exp: now - 10 }, 's3cret');
  const notYet = jwt.sign({ userId: 'u1' }, 's3cret', { notBefore: 3600 });
  const hs512 = jwt.sign({ a: 1 }, 'k', { algorithm: 'HS512', noTimestamp: true });
  let callback;
  jwt.verify(token, 'wrong', (err, payload) => { callback = { err: err && err.name, payload }; });
  const result = {
    known: jwt.sign({ sub: '1234567890', name: 'John Doe', iat: 1516239022 }, 'your-256-bit-secret'),
    knownVerifies: attempt(() => jwt.verify(KNOWN, 'your-256-bit-secret')),
    knownWrongSecret: attempt(() => jwt.verify(KNOWN, 'another-secret')),
    roundTrip: attempt(() => jwt.verify(token, 's3cret', { issuer: 'edgefn', audience: 'app' })),
    lifetime: decoded.payload.exp - decoded.payload.iat,
    iatIsNow: Math.abs(decoded.payload.iat - now) <= 5,
    header: decoded.header,
    wrongAudience: attempt(() => jwt.verify(token, 's3cret', { audience: 'other' })),
    wrongIssuer: attempt(() => jwt.verify(token, 's3cret', { issuer: 'other' })),
    expired: attempt(() => jwt.verify(expired, 's3cret')),
    expiredAtIsDate: attempt(() => jwt.verify(expired, 's3cret')).error === 'TokenExpiredError',
    expiredIgnored: attempt(() => jwt.verify(expired, 's3cret', { ignoreExpiration: true }).userId),
    notYet: attempt(() => jwt.verify(notYet, 's3cret')),
    notYetLater: attempt(() => jwt.verify(notYet, 's3cret', { clockTimestamp: now + 7200 }).userId),
    hs512: { header: jwt.decode(hs512, { complete: true }).header, payload: attempt(() => jwt.verify(hs512, 'k')) },
    hs512NotAllowed: attempt(() => jwt.verify(hs512, 'k', { algorithms: ['HS256'] })),
    tampered: attempt(() => jwt.verify(`${token.split('.')[0]}.${jwt.sign({ userId: 'u2' }, 'x').split('.')[1]}.${token.split('.')[2]}`, 's3cret')),
    malformed: attempt(() => jwt.verify('abc', 's3cret')),
    decodeGarbage: jwt.decode('not.a.token'),
    callback,
    unsupported: attempt(() => jwt.sign({ a: 1 }, 'k', { algorithm: 'RS256' })),
    errorClass: attempt(() => jwt.verify(expired, 's3cret')).error && (() => {
      try {
        jwt.verify(expired, 's3cret');
      } catch (e) {
        return [e instanceof jwt.TokenExpiredError, e instanceof jwt.JsonWebTokenError, e.expiredAt instanceof Date, e.expiredAt.getTime() === (now - 10) * 1000];
      }
      return null;
    })(),
  };
  return response.send(JSON.stringify(result), 200);
};
