// Message Persistence through the SDK's own calls, on a node with access
// control on: message counts, delete messages (signed with the secret key, or
// with a token granting `delete`), history v2 (`history`), and publish with
// a `ttl`.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { unique, useNode } from '../lib/clients.mjs';

const SECRET_KEY = 'sdk-history-secret';
const { client } = useNode({ secretKey: SECRET_KEY });

/** The app's server: a client holding the secret key. */
const server = () => client('server', { secretKey: SECRET_KEY });

async function publish(client, channel, message, options = {}) {
  return (await client.publish({ channel, message, ...options })).timetoken;
}

async function fetched(client, channel) {
  const { channels } = await client.fetchMessages({ channels: [channel] });
  return (channels[channel] ?? []).map((m) => m.message);
}

const before = (timetoken) => (BigInt(timetoken) - 1n).toString();

test('message counts per channel', async () => {
  const admin = server();
  const [a, b] = [`counted-${unique()}`, `other-${unique()}`];
  const first = await publish(admin, a, 'a0');
  await publish(admin, a, 'a1');
  await publish(admin, b, 'b0');

  const one = await admin.messageCounts({ channels: [a, b], channelTimetokens: [first] });
  assert.deepEqual(one.channels, { [a]: 1, [b]: 1 });
  const each = await admin.messageCounts({ channels: [a, b], channelTimetokens: [first, '0'] });
  assert.deepEqual(each.channels, { [a]: 1, [b]: 1 });
});

test('delete messages signed with the secret key', async () => {
  const admin = server();
  const channel = `deleted-${unique()}`;
  const timetokens = [];
  for (const n of [0, 1, 2]) timetokens.push(await publish(admin, channel, `m${n}`));

  await admin.deleteMessages({ channel, start: before(timetokens[1]), end: timetokens[1] });
  assert.deepEqual(await fetched(admin, channel), ['m0', 'm2']);

  await admin.deleteMessages({ channel });
  assert.deepEqual(await fetched(admin, channel), []);
  const counts = await admin.messageCounts({ channels: [channel], channelTimetokens: ['0'] });
  assert.deepEqual(counts.channels, { [channel]: 0 });
});

test('delete messages needs the delete permission', async () => {
  const admin = server();
  const channel = `guarded-${unique()}`;
  const timetoken = await publish(admin, channel, 'kept');
  const grant = (rights) => admin.grantToken({ ttl: 15, resources: { channels: { [channel]: rights } } });
  const alice = client('alice');

  alice.setToken(await grant({ read: true, write: true }));
  await assert.rejects(alice.deleteMessages({ channel }), (e) => e.status.statusCode === 403);
  assert.deepEqual(await fetched(admin, channel), ['kept']);

  alice.setToken(await grant({ delete: true }));
  await alice.deleteMessages({ channel, start: before(timetoken), end: timetoken });
  assert.deepEqual(await fetched(admin, channel), []);
});

test('history v2', async () => {
  const admin = server();
  const channel = `v2-${unique()}`;
  const timetokens = [];
  for (const n of [0, 1, 2, 3]) {
    timetokens.push(await publish(admin, channel, { n }, { meta: { m: n } }));
  }

  const newest = await admin.history({ channel, count: 2, stringifiedTimeToken: true });
  assert.deepEqual(
    newest.messages.map((m) => [m.entry, m.timetoken]),
    [[{ n: 2 }, timetokens[2]], [{ n: 3 }, timetokens[3]]],
  );
  assert.deepEqual([newest.startTimeToken, newest.endTimeToken], [timetokens[2], timetokens[3]]);

  const oldest = await admin.history({ channel, count: 1, reverse: true, includeMeta: true });
  assert.deepEqual(oldest.messages.map((m) => [m.entry, m.meta]), [[{ n: 0 }, { m: 0 }]]);

  const bounded = await admin.history({ channel, start: timetokens[3], end: timetokens[1] });
  assert.deepEqual(bounded.messages.map((m) => m.entry), [{ n: 1 }, { n: 2 }]);
});

test('publish with a ttl', async () => {
  // Expiry itself is tested end to end with a shortened hour
  // (tests/e2e/history_ops.rs); here the SDK's `ttl` is taken as PubNub takes it.
  const admin = server();
  const channel = `ttl-${unique()}`;
  await publish(admin, channel, 'an hour', { ttl: 1 });
  await publish(admin, channel, 'forever', { ttl: 0 });
  await publish(admin, channel, 'not stored', { ttl: 1, storeInHistory: false });
  assert.deepEqual(await fetched(admin, channel), ['an hour', 'forever']);
});
