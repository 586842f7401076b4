// Access Manager v3 on a node started with --secret-key: tokens granted by a
// client holding the secret key, used and revoked by the SDK's own calls.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { Inbox, subscribe, unique, useNode } from '../lib/clients.mjs';

const SECRET_KEY = 'sdk-test-secret';
const { client } = useNode({ secretKey: SECRET_KEY });
const NO_RIGHTS = { manage: false, delete: false, get: false, update: false, join: false };

/** The app's server: a client holding the secret key. */
const server = () => client('server', { secretKey: SECRET_KEY });

/** A token for `userId`: read and write on `channel`, read on `{channel}.*`. */
function grant(admin, channel, userId = 'alice') {
  return admin.grantToken({
    ttl: 15,
    authorized_uuid: userId,
    resources: { channels: { [channel]: { read: true, write: true } } },
    patterns: { channels: { [`${channel}.*`]: { read: true } } },
  });
}

/** Asserts that `promise` fails with the node's 403; returns the error's data. */
async function refused(promise) {
  let data;
  await assert.rejects(promise, (error) => {
    assert.equal(error.status?.statusCode, 403, `${error.message} ${JSON.stringify(error.status)}`);
    assert.equal(error.status.category, 'PNAccessDeniedCategory');
    // PubNub answers access refusals with an object carrying `message`.
    const errorData = error.status.errorData;
    data = typeof errorData === 'string' ? errorData : errorData?.message;
    return true;
  });
  return data;
}

// Token lengths differ by channel name: the three names give tokens of each
// length modulo 3 bytes, i.e. of each base64 padding (as in the Python suite).
for (const suffix of ['', 'x', 'xy']) {
  test(`grant token then parse token (channel name +${suffix.length})`, async () => {
    const admin = server();
    const channel = `room-${unique()}${suffix}`;

    const parsed = admin.parseToken(await grant(admin, channel));

    assert.deepEqual([parsed.version, parsed.ttl, parsed.authorized_uuid], [2, 15, 'alice']);
    assert.deepEqual(parsed.resources, { channels: { [channel]: { read: true, write: true, ...NO_RIGHTS } } });
    assert.deepEqual(parsed.patterns, { channels: { [`${channel}.*`]: { read: true, write: false, ...NO_RIGHTS } } });
  });
}

test('publish is refused without a token and allowed with it', async () => {
  const channel = `room-${unique()}`;
  const alice = client('alice');

  await refused(alice.publish({ channel, message: 'hello' }));
  alice.setToken(await grant(server(), channel));

  await alice.publish({ channel, message: 'hello' });
});

test('subscribe is refused without a token and allowed with it', async () => {
  const channel = `room-${unique()}`;
  const [admin, without, alice] = [server(), client('alice'), client('alice')];
  const denied = new Inbox(without);

  without.subscribe({ channels: [channel] });

  // The SDK's event engine reports a failed handshake as a connection error
  // whose `error` is the failure's category.
  const status = await denied.next('status');
  assert.deepEqual([status.category, status.error], ['PNConnectionErrorCategory', 'PNAccessDeniedCategory']);
  alice.setToken(await grant(admin, channel));
  const inbox = await subscribe(alice, [channel]);
  await admin.publish({ channel, message: 'hello' });
  assert.equal((await inbox.next('message')).message, 'hello');
});

test('a revoked token is refused', async () => {
  const channel = `room-${unique()}`;
  const admin = server();
  const token = await grant(admin, channel);
  const alice = client('alice');
  alice.setToken(token);
  await alice.publish({ channel, message: 'hello' });

  await admin.revokeToken(token);

  assert.match(await refused(alice.publish({ channel, message: 'hello' })), /revoked/);
});
