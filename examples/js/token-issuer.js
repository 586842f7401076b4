// On Request: keeps users in the KV store and issues them access tokens for
// the chat channels when they log in — tokens made in flight with
// pubnub.grantToken, as the Rust `token-issuer` example does.
//
// - POST /users with the header X-Setup-Key (equal to the secret SETUP_KEY)
//   and {"user": "alice", "password": "..."} creates or replaces the user:
//   `user:alice` holds {"salt", "hash", "rounds"}, the password salted with
//   a random uuid and stretched by `rounds` SHA-256 rounds (setting
//   `hash_rounds`, default 1,000). Answers 201 {"user": "alice"}; 403
//   without the right setup key; 400 for a malformed body, an empty
//   password or a user name that is not 1 to 64 of a-z 0-9 _ -.
// - POST /login with {"user": "alice", "password": "..."} answers 200
//   {"token", "user", "ttl_minutes": 60, "channels": ["chat.alice",
//   "chat.public"]}: read and write on chat.alice, read on chat.public, for
//   client id alice. An unknown user or a wrong password both get 401.
//
//   edgefn deploy examples/js/token-issuer.js --name token-issuer --endpoint \
//       --allow-token-grant --secret SETUP_KEY=...      (on a node with a secret key)
const db = require('kvstore');
const crypto = require('crypto');
const pubnub = require('pubnub');
const uuid = require('uuid');
const vault = require('vault');

const TTL_MINUTES = 60;
const PUBLIC_CHANNEL = 'chat.public';
const USER = /^[a-z0-9_-]{1,64}$/;

async function stretch(password, salt, rounds) {
  let hash = `${salt}:${password}`;
  for (let i = 0; i < rounds; i++) hash = await crypto.sha256(hash);
  return hash;
}

// The body's user and password, or a reason it is not acceptable.
async function credentials(request) {
  const body = await request.json().catch(() => null);
  if (body === null || typeof body !== 'object') return { error: 'the body must be JSON: {"user", "password"}' };
  const { user, password } = body;
  if (typeof user !== 'string' || !USER.test(user)) return { error: 'user must be 1 to 64 of a-z 0-9 _ -' };
  if (typeof password !== 'string' || password === '') return { error: 'password must be a non-empty string' };
  return { user, password };
}

async function createUser(request, response) {
  const setupKey = await vault.get('SETUP_KEY').catch(() => null);
  if (setupKey === null || request.headers['x-setup-key'] !== setupKey) {
    return response.send({ error: 'X-Setup-Key is missing or wrong' }, 403);
  }
  const given = await credentials(request);
  if (given.error) return response.send({ error: given.error }, 400);
  const rounds = Number(await vault.get('hash_rounds').catch(() => '1000')) || 1000;
  const salt = uuid.v4();
  await db.set(`user:${given.user}`, { salt, rounds, hash: await stretch(given.password, salt, rounds) });
  console.log(`user ${given.user} saved`);
  return response.send({ user: given.user }, 201);
}

async function login(request, response) {
  const given = await credentials(request);
  if (given.error) return response.send({ error: given.error }, 400);
  const record = await db.get(`user:${given.user}`);
  // Hash even for an unknown user, so both answers take as long.
  const salt = record ? record.salt : uuid.v4();
  const rounds = record ? record.rounds : 1000;
  const hash = await stretch(given.password, salt, rounds);
  if (!record || hash !== record.hash) {
    console.warn(`login refused for ${given.user}`);
    return response.send({ error: 'invalid user or password' }, 401);
  }
  const own = `chat.${given.user}`;
  const token = await pubnub.grantToken({
    ttl: TTL_MINUTES,
    authorized_uuid: given.user,
    resources: { channels: { [own]: { read: true, write: true }, [PUBLIC_CHANNEL]: { read: true } } },
  });
  console.log(`token issued to ${given.user}`);
  return response.send({ token, user: given.user, ttl_minutes: TTL_MINUTES, channels: [own, PUBLIC_CHANNEL] });
}

export default (request, response) => {
  if (request.method === 'POST' && request.path === '/users') return createUser(request, response);
  if (request.method === 'POST' && request.path === '/login') return login(request, response);
  return response.send({ error: 'use POST /users or POST /login' }, 404);
};
