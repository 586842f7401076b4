// require('crypto') against known vectors; the expected values are in
// tests/e2e/js_modules.rs.
const crypto = require('crypto');

const ED25519_SEED = '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb';
const ED25519_PUBLIC = '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c';
const ED25519_PRIVATE_PEM = `-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIEzNCJso/5banbbDRuwRTg9bijGfNaumJNqM9u1PuKb7
-----END PRIVATE KEY-----`;
const ED25519_PUBLIC_PEM = `-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAPUAXw+hDiVqStwqnTRt+vJyYLM8uxJaMwM1V8Sr0Zgw=
-----END PUBLIC KEY-----`;
// RFC 6979 A.2.5's P-256 key.
const P256 = {
  kty: 'EC',
  crv: 'P-256',
  x: 'YP7UuiVanTHJYet0xjVtaMBJuJI7Yfps5mliLmDyn7Y',
  y: 'eQP-EAi4vJmkGunpVii8ZPLxsgwtfp9Rd6PClNRGIpk',
  d: 'ya-p2EW6dRZrXCFXZ7HWk05Qw9s26JsSe4piKxIPZyE',
};
const P256_PUBLIC = { kty: 'EC', crv: 'P-256', x: P256.x, y: P256.y };
const P256_PUBLIC_PEM = `-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEYP7UuiVanTHJYet0xjVtaMBJuJI7
Yfps5mliLmDyn7Z5A/4QCLi8maQa6elWKLxk8vGyDC1+n1F3o8KU1EYimQ==
-----END PUBLIC KEY-----`;
const P256_PRIVATE_PEM = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgya+p2EW6dRZrXCFX
Z7HWk05Qw9s26JsSe4piKxIPZyGhRANCAARg/tS6JVqdMclh63TGNW1owEm4kjth
+mzmaWIuYPKftnkD/hAIuLyZpBrp6VYovGTy8bIMLX6fUXejwpTURiKZ
-----END PRIVATE KEY-----`;

async function failure(promise) {
  try {
    await promise;
    return 'resolved';
  } catch (e) {
    return `${e.name}: ${e.message}`;
  }
}

export default async (request, response) => {
  const A = crypto.ALGORITHM;
  const utf8 = 'héllo wörld ✓ 🚀';
  const edSig = await crypto.sign(ED25519_SEED, 'r', A.ED25519);
  const p256 = {};
  for (const alg of ['ECDSA_P256_SHA1', 'ECDSA_P256_SHA256', 'ECDSA_P256_SHA512']) {
    const signature = await crypto.sign(P256, 'sample', A[alg]);
    p256[alg] = {
      length: Uint8Array.fromBase64(signature).length,
      verifies: await crypto.verify(signature, P256_PUBLIC, 'sample', A[alg]),
      pem: await crypto.verify(signature, P256_PUBLIC_PEM, 'sample', A[alg]),
      tampered: await crypto.verify(signature, P256_PUBLIC, 'samplE', A[alg]),
      otherHash: await crypto.verify(signature, P256_PUBLIC, 'sample', alg === 'ECDSA_P256_SHA1' ? A.ECDSA_P256_SHA256 : A.ECDSA_P256_SHA1),
    };
  }
  const result = {
    algorithms: Object.keys(A),
    algorithmValues: Object.values(A),
    sha1: [await crypto.sha1('abc'), await crypto.sha1(utf8)],
    sha256: [await crypto.sha256('abc'), await crypto.sha256(utf8)],
    sha512: [await crypto.sha512('abc'), await crypto.sha512(utf8)],
    hmac: {
      sha256: await crypto.hmac('Jefe', 'what do ya want for nothing?', A.HMAC_SHA256),
      sha512: await crypto.hmac('Jefe', 'what do ya want for nothing?', A.HMAC_SHA512),
      sha1: await crypto.hmac('Jefe', 'what do ya want for nothing?', A.HMAC_SHA1),
      binaryKey: await crypto.hmac(new Uint8Array(20).fill(0x0b), 'Hi There', A.HMAC_SHA256),
    },
    ed25519: {
      signature: edSig,
      pemSignature: await crypto.sign(ED25519_PRIVATE_PEM, 'r', A.ED25519),
      jwkSignature: await crypto.sign({ kty: 'OKP', crv: 'Ed25519', d: Uint8Array.fromHex(ED25519_SEED).toBase64({ alphabet: 'base64url', omitPadding: true }) }, 'r', A.ED25519),
      verifies: await crypto.verify(edSig, ED25519_PUBLIC, 'r', A.ED25519),
      pem: await crypto.verify(edSig, ED25519_PUBLIC_PEM, 'r', A.ED25519),
      hexSignature: await crypto.verify(Uint8Array.fromBase64(edSig).toHex(), ED25519_PUBLIC, 'r', A.ED25519),
      tampered: await crypto.verify(edSig, ED25519_PUBLIC, 's', A.ED25519),
      garbage: await crypto.verify('not a signature', ED25519_PUBLIC, 'r', A.ED25519),
    },
    p256,
    p256Rfc6979: await crypto.sign(P256_PRIVATE_PEM, 'sample', A.ECDSA_P256_SHA256),
    errors: {
      hmacAlgorithm: await failure(crypto.hmac('k', 'm', A.ED25519)),
      signAlgorithm: await failure(crypto.sign(P256, 'm', 'RSA')),
      missingMessage: await failure(crypto.sha256()),
      badKey: await failure(crypto.sign('00', 'm', A.ED25519)),
    },
  };
  return response.send(JSON.stringify(result), 200);
};
