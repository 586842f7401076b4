// App Context (Objects v2) uuid and channel metadata through the SDK's own
// calls: set, get, get all (include, limit, pages, sort, filter, total
// count), remove, eTag conditions, and the object events a listener receives.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { subscribe, unique, useNode } from '../lib/clients.mjs';

const { client } = useNode();

/** Asserts that `promise` fails with HTTP `status`. */
async function failsWith(promise, status) {
  await assert.rejects(promise, (error) => {
    assert.equal(error.status?.statusCode, status, `${error.message} ${JSON.stringify(error.status)}`);
    return true;
  });
}

test('set, get and remove uuid metadata', async () => {
  const alice = client('alice');
  const uuid = `user-${unique()}`;
  const data = { name: 'Alice', email: 'a@example.com', externalId: 'x1', profileUrl: 'https://e.com/a.png',
    status: 'active', type: 'admin', custom: { team: 'red', rank: 3, admin: true } };

  const set = (await alice.objects.setUUIDMetadata({ uuid, data })).data;
  const got = (await alice.objects.getUUIDMetadata({ uuid })).data;

  assert.deepEqual(got, set);
  const { updated, eTag, ...rest } = got;
  assert.deepEqual(rest, { id: uuid, ...data });
  assert.match(updated, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.ok(eTag);

  // A set changes only the fields it names.
  const renamed = (await alice.objects.setUUIDMetadata({ uuid, data: { name: 'Alicia' } })).data;
  assert.deepEqual([renamed.name, renamed.email], ['Alicia', 'a@example.com']);
  assert.notEqual(renamed.eTag, eTag);

  await alice.objects.removeUUIDMetadata({ uuid });
  await failsWith(alice.objects.getUUIDMetadata({ uuid }), 404);
});

test('set, get and remove channel metadata', async () => {
  const alice = client('alice');
  const channel = `room-${unique()}`;

  await alice.objects.setChannelMetadata({ channel, data: { name: 'Room', description: 'cats', custom: { open: true } } });
  const got = (await alice.objects.getChannelMetadata({ channel })).data;

  assert.deepEqual([got.id, got.name, got.description, got.custom], [channel, 'Room', 'cats', { open: true }]);
  await alice.objects.removeChannelMetadata({ channel });
  await failsWith(alice.objects.getChannelMetadata({ channel }), 404);
});

test('get all pages forward and back, sorted, filtered and counted', async () => {
  const alice = client('alice');
  const tag = unique();
  for (const [n, name] of ['Dora', 'Bob', 'Carol', 'Alice', 'Eve'].entries()) {
    await alice.objects.setUUIDMetadata({ uuid: `${tag}-${n}`, data: { name, custom: { n } } });
  }
  const query = {
    filter: `id LIKE "${tag}-*" && (custom.n >= 1 || name == "Dora")`,
    sort: { name: 'desc' },
    limit: 2,
    include: { totalCount: true, customFields: true },
  };

  const first = await alice.objects.getAllUUIDMetadata(query);
  assert.deepEqual(first.data.map((u) => u.name), ['Eve', 'Dora']);
  assert.equal(first.totalCount, 5);
  assert.equal(first.prev, undefined);
  const second = await alice.objects.getAllUUIDMetadata({ ...query, page: { next: first.next } });
  assert.deepEqual(second.data.map((u) => u.name), ['Carol', 'Bob']);
  const third = await alice.objects.getAllUUIDMetadata({ ...query, page: { next: second.next } });
  assert.deepEqual(third.data.map((u) => u.name), ['Alice']);
  assert.equal(third.next, undefined);
  const back = await alice.objects.getAllUUIDMetadata({ ...query, page: { prev: third.prev } });
  assert.deepEqual(back.data, second.data);

  const byUpdated = await alice.objects.getAllUUIDMetadata({ filter: `id LIKE "${tag}-*"`, sort: { updated: 'asc' } });
  assert.deepEqual(byUpdated.data.map((u) => u.name), ['Dora', 'Bob', 'Carol', 'Alice', 'Eve']);
});

test('get all channels with filters on name and custom', async () => {
  const alice = client('alice');
  const tag = unique();
  for (const [name, size] of [['alpha', 1], ['beta', 2], ['alphabet', 3]]) {
    await alice.objects.setChannelMetadata({ channel: `${tag}.${name}`, data: { name, custom: { size } } });
  }

  const found = await alice.objects.getAllChannelMetadata({
    filter: `id LIKE "${tag}.*" && name LIKE "alpha*" && !(custom.size == 1)`,
    include: { customFields: true },
  });

  assert.deepEqual(found.data.map((c) => [c.id, c.custom]), [[`${tag}.alphabet`, { size: 3 }]]);
});

test('bad input is a 400', async () => {
  const alice = client('alice');
  await failsWith(alice.objects.getAllUUIDMetadata({ filter: 'name === "x"' }), 400);
  await failsWith(alice.objects.getAllUUIDMetadata({ sort: { nope: 'asc' } }), 400);
  await failsWith(alice.objects.setUUIDMetadata({ uuid: `u-${unique()}`, data: { custom: { deep: { no: 1 } } } }), 400);
});

test('If-Match with a stale eTag is 412', async () => {
  const alice = client('alice');
  const uuid = `user-${unique()}`;
  const first = (await alice.objects.setUUIDMetadata({ uuid, data: { name: 'One' } })).data;
  const current = (await alice.objects.setUUIDMetadata({ uuid, data: { name: 'Two' } })).data;

  await failsWith(alice.objects.setUUIDMetadata({ uuid, data: { name: 'Three' }, ifMatchesEtag: first.eTag }), 412);

  const third = await alice.objects.setUUIDMetadata({ uuid, data: { name: 'Three' }, ifMatchesEtag: current.eTag });
  assert.equal(third.data.name, 'Three');
});

test('subscribers receive set and delete events', async () => {
  const [alice, bob] = [client('alice'), client('bob')];
  const [uuid, channel] = [`user-${unique()}`, `room-${unique()}`];
  const inbox = await subscribe(bob, [uuid, channel]);

  const user = (await alice.objects.setUUIDMetadata({ uuid, data: { name: 'Alice' } })).data;
  await alice.objects.setChannelMetadata({ channel, data: { name: 'Room' } });
  await alice.objects.removeUUIDMetadata({ uuid });

  const set = await inbox.next('objects');
  assert.deepEqual([set.channel, set.message.event, set.message.type], [uuid, 'set', 'uuid']);
  assert.equal(set.message.source, 'objects');
  assert.deepEqual([set.message.data.id, set.message.data.name, set.message.data.eTag], [uuid, 'Alice', user.eTag]);
  const room = await inbox.next('objects');
  assert.deepEqual([room.channel, room.message.event, room.message.type, room.message.data.name],
    [channel, 'set', 'channel', 'Room']);
  const removed = await inbox.next('objects');
  assert.deepEqual([removed.message.event, removed.message.type, removed.message.data], ['delete', 'uuid', { id: uuid }]);
});
