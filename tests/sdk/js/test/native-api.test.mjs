// The PubNub API and the native `/v1/` API share one bus: a message
// published through one is received through the other.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { subscribe, unique, useNode } from '../lib/clients.mjs';

const fixture = useNode();
const { client } = fixture;

test('a native publish reaches an SDK subscriber', async () => {
  const bob = client('bob');
  const channel = `bridge-${unique()}`;
  const inbox = await subscribe(bob, [channel]);

  const timetoken = await fixture.node.nativePublish(channel, { via: 'native' }, 'carol');

  const got = await inbox.next('message');
  assert.deepEqual([got.channel, got.message, got.publisher, got.timetoken], [channel, { via: 'native' }, 'carol', timetoken]);
});

test('an SDK publish reaches the native stream', async () => {
  const alice = client('alice');
  const channel = `bridge-${unique()}`;
  const stream = await fixture.node.nativeStream(channel);
  try {
    const { timetoken } = await alice.publish({ channel, message: { via: 'sdk' }, meta: { m: 1 } });

    const { event, data } = await stream.next();
    assert.equal(event, 'message');
    assert.deepEqual(data, {
      channel, timetoken, message: { via: 'sdk' }, meta: { m: 1 }, publisher: 'alice', kind: 'publish',
    });
  } finally {
    stream.close();
  }
});
