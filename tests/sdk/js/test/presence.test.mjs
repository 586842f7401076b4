// Presence: here now, and join events on `{channel}-pnpres`.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { subscribe, unique, useNode } from '../lib/clients.mjs';

const { client } = useNode();

test('join event and here now', async () => {
  const [alice, bob] = [client('alice'), client('bob')];
  const channel = `lobby-${unique()}`;
  const watcher = await subscribe(bob, [channel], { withPresence: true });

  await subscribe(alice, [channel]);

  const join = await watcher.next('presence', (p) => p.uuid === 'alice');
  assert.deepEqual([join.action, join.channel, join.occupancy], ['join', channel, 2]);
  const here = await bob.hereNow({ channels: [channel], includeUUIDs: true });
  assert.equal(here.totalOccupancy, 2);
  const occupants = here.channels[channel].occupants.map((o) => o.uuid).sort();
  assert.deepEqual([here.channels[channel].occupancy, occupants], [2, ['alice', 'bob']]);
});
