// App Context memberships and channel members through the SDK's own calls:
// set, get and remove from either end (one record seen from both), include,
// filter, sort on the joined metadata, pages, and the membership events a
// listener receives.

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

const channelIds = (response) => response.data.map((m) => m.channel.id);
const uuidIds = (response) => response.data.map((m) => m.uuid.id);

test('set, get and remove memberships, seen as members too', async () => {
  const alice = client('alice');
  const tag = unique();
  const [uuid, rooms] = [`user-${tag}`, [`${tag}.a`, `${tag}.b`]];
  await alice.objects.setChannelMetadata({ channel: rooms[0], data: { name: 'Room A', custom: { size: 1 } } });

  const set = await alice.objects.setMemberships({
    uuid,
    channels: [{ id: rooms[0], custom: { lastRead: 5 }, status: 'active', type: 'owner' }, rooms[1]],
    include: { customFields: true, statusField: true, typeField: true, channelFields: true, customChannelFields: true, totalCount: true },
  });
  assert.deepEqual(channelIds(set), rooms);
  assert.equal(set.totalCount, 2);
  const [first] = set.data;
  assert.deepEqual([first.custom, first.status, first.type], [{ lastRead: 5 }, 'active', 'owner']);
  assert.deepEqual([first.channel.name, first.channel.custom], ['Room A', { size: 1 }]);
  assert.match(first.updated, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.ok(first.eTag);

  const members = await alice.objects.getChannelMembers({ channel: rooms[0], include: { customFields: true } });
  assert.deepEqual(uuidIds(members), [uuid]);
  assert.deepEqual([members.data[0].custom, members.data[0].eTag], [{ lastRead: 5 }, first.eTag]);

  const left = await alice.objects.removeMemberships({ uuid, channels: [rooms[1]] });
  assert.deepEqual(channelIds(left), [rooms[0]]);
  const got = await alice.objects.getMemberships({ uuid });
  assert.deepEqual(channelIds(got), [rooms[0]]);
});

test('set and remove channel members', async () => {
  const alice = client('alice');
  const tag = unique();
  const [room, users] = [`room-${tag}`, [`${tag}-1`, `${tag}-2`]];
  await alice.objects.setUUIDMetadata({ uuid: users[0], data: { name: 'Zed' } });
  await alice.objects.setUUIDMetadata({ uuid: users[1], data: { name: 'Amy' } });

  const set = await alice.objects.setChannelMembers({
    channel: room,
    uuids: [users[0], { id: users[1], status: 'invited', custom: { role: 'guest' } }],
    include: { UUIDFields: true, customFields: true, statusField: true },
    sort: { 'uuid.name': 'asc' },
  });
  assert.deepEqual(uuidIds(set), [users[1], users[0]]);
  assert.deepEqual([set.data[0].uuid.name, set.data[0].status, set.data[0].custom], ['Amy', 'invited', { role: 'guest' }]);

  const theirs = await alice.objects.getMemberships({ uuid: users[1], include: { statusField: true } });
  assert.deepEqual(theirs.data.map((m) => [m.channel.id, m.status]), [[room, 'invited']]);

  const after = await alice.objects.removeChannelMembers({ channel: room, uuids: [users[0]] });
  assert.deepEqual(uuidIds(after), [users[1]]);
});

test('memberships filter and sort on the channel metadata, and page', async () => {
  const alice = client('alice');
  const tag = unique();
  const uuid = `user-${tag}`;
  const names = ['Dora', 'Bob', 'Carol', 'Alice'];
  for (const [n, name] of names.entries()) {
    await alice.objects.setChannelMetadata({ channel: `${tag}.${n}`, data: { name } });
  }
  await alice.objects.setMemberships({ uuid, channels: names.map((_, n) => ({ id: `${tag}.${n}`, custom: { n } })) });

  const query = {
    uuid,
    filter: 'channel.name LIKE "*o*" || custom.n == 3',
    sort: { 'channel.name': 'desc' },
    limit: 2,
    include: { channelFields: true, totalCount: true },
  };
  const first = await alice.objects.getMemberships(query);
  assert.deepEqual(first.data.map((m) => m.channel.name), ['Dora', 'Carol']);
  assert.equal(first.totalCount, 4);
  const second = await alice.objects.getMemberships({ ...query, page: { next: first.next } });
  assert.deepEqual(second.data.map((m) => m.channel.name), ['Bob', 'Alice']);
  assert.equal(second.next, undefined);
  const back = await alice.objects.getMemberships({ ...query, page: { prev: second.prev } });
  assert.deepEqual(back.data, first.data);

  await failsWith(alice.objects.getMemberships({ uuid, sort: { 'uuid.name': 'asc' } }), 400);
  await failsWith(alice.objects.getMemberships({ uuid, filter: 'channel.nope == 1' }), 400);
});

test('subscribers of the channel and of the uuid receive membership events', async () => {
  const [alice, bob] = [client('alice'), client('bob')];
  const tag = unique();
  const [uuid, room] = [`user-${tag}`, `room-${tag}`];
  const inbox = await subscribe(bob, [room, uuid]);

  const set = await alice.objects.setMemberships({ uuid, channels: [{ id: room, custom: { lastRead: 1 } }] });
  await alice.objects.removeChannelMembers({ channel: room, uuids: [uuid] });

  const heard = [];
  for (let i = 0; i < 4; i += 1) heard.push(await inbox.next('objects'));
  const of = (event) => heard.filter((e) => e.message.event === event);
  assert.deepEqual(of('set').map((e) => e.channel).sort(), [room, uuid].sort());
  for (const e of of('set')) {
    assert.deepEqual([e.message.type, e.message.source], ['membership', 'objects']);
    assert.deepEqual([e.message.data.uuid.id, e.message.data.channel.id], [uuid, room]);
    assert.deepEqual([e.message.data.custom, e.message.data.eTag], [{ lastRead: 1 }, set.data[0].eTag]);
  }
  assert.deepEqual(of('delete').map((e) => e.channel).sort(), [room, uuid].sort());
  assert.deepEqual(of('delete')[0].message.data, { uuid: { id: uuid }, channel: { id: room } });
});
