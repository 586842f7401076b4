// Message actions through the SDK's own calls: add, get (paged), remove, the
// events a subscriber's listener receives, and fetchMessages with actions.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { subscribe, unique, useNode } from '../lib/clients.mjs';

const { client } = useNode();

async function publish(client, channel, message) {
  return (await client.publish({ channel, message })).timetoken;
}

async function add(client, channel, messageTimetoken, type, value) {
  return (await client.addMessageAction({ channel, messageTimetoken, action: { type, value } })).data;
}

const fields = (a) => [a.type, a.value, a.uuid, a.messageTimetoken];

test('add, get and remove', async () => {
  const [alice, bob] = [client('alice'), client('bob')];
  const channel = `chat-${unique()}`;
  const timetoken = await publish(alice, channel, { text: 'hi' });

  const smile = await add(bob, channel, timetoken, 'reaction', 'smile');
  const read = await add(alice, channel, timetoken, 'receipt', 'read');

  assert.deepEqual(fields(smile), ['reaction', 'smile', 'bob', timetoken]);
  assert.ok(BigInt(read.actionTimetoken) > BigInt(smile.actionTimetoken));
  const listed = await alice.getMessageActions({ channel });
  assert.deepEqual(listed.data, [smile, read]);
  assert.equal(listed.more, undefined);

  await alice.removeMessageAction({ channel, messageTimetoken: timetoken, actionTimetoken: smile.actionTimetoken });

  assert.deepEqual((await alice.getMessageActions({ channel })).data, [read]);
});

test('the same action twice is a conflict', async () => {
  const alice = client('alice');
  const channel = `chat-${unique()}`;
  const timetoken = await publish(alice, channel, 'once');
  await add(alice, channel, timetoken, 'reaction', 'smile');

  await assert.rejects(add(alice, channel, timetoken, 'reaction', 'smile'), (error) => {
    assert.equal(error.status?.statusCode, 409, `${error.message} ${JSON.stringify(error.status)}`);
    return true;
  });
});

test('get pages newest first, with a more link', async () => {
  const alice = client('alice');
  const channel = `chat-${unique()}`;
  const timetoken = await publish(alice, channel, 'many reactions');
  const added = [];
  for (let n = 0; n < 5; n += 1) added.push(await add(alice, channel, timetoken, 'reaction', `r${n}`));

  const newest = await alice.getMessageActions({ channel, limit: 2 });
  assert.deepEqual(newest.data, added.slice(3));
  assert.deepEqual([newest.more.start, newest.more.limit], [added[3].actionTimetoken, 2]);

  const older = await alice.getMessageActions({ channel, start: newest.more.start, limit: 2 });
  assert.deepEqual(older.data, added.slice(1, 3));
  const rest = await alice.getMessageActions({ channel, start: older.start, end: added[0].actionTimetoken });
  assert.deepEqual(rest.data, added.slice(0, 1));
  assert.equal(rest.more, undefined);
});

test('subscriber receives added and removed actions', async () => {
  const [alice, bob] = [client('alice'), client('bob')];
  const channel = `chat-${unique()}`;
  const inbox = await subscribe(bob, [channel]);
  const timetoken = await publish(alice, channel, { text: 'react to me' });
  assert.deepEqual((await inbox.next('message')).message, { text: 'react to me' });

  const smile = await add(alice, channel, timetoken, 'reaction', 'smile');
  await alice.removeMessageAction({ channel, messageTimetoken: timetoken, actionTimetoken: smile.actionTimetoken });

  for (const kind of ['added', 'removed']) {
    const event = await inbox.next('messageAction');
    assert.deepEqual(
      [event.channel, event.subscription, event.event, event.publisher, event.data],
      [channel, channel, kind, 'alice', smile],
    );
  }
  // The events were not also delivered as messages.
  await publish(alice, channel, 'after the actions');
  assert.equal((await inbox.next('message')).message, 'after the actions');
});

test('fetchMessages with actions', async () => {
  const [alice, bob] = [client('alice'), client('bob')];
  const channel = `chat-${unique()}`;
  const first = await publish(alice, channel, 'first');
  const second = await publish(alice, channel, 'second');
  const smile = await add(bob, channel, first, 'reaction', 'smile');
  const alsoSmile = await add(alice, channel, first, 'reaction', 'smile');
  const read = await add(bob, channel, second, 'receipt', 'read');

  const { channels } = await alice.fetchMessages({ channels: [channel], includeMessageActions: true });

  const items = channels[channel];
  assert.deepEqual(items.map((i) => [i.message, i.timetoken]), [['first', first], ['second', second]]);
  assert.deepEqual(items[0].actions, {
    reaction: {
      smile: [
        { uuid: 'bob', actionTimetoken: smile.actionTimetoken },
        { uuid: 'alice', actionTimetoken: alsoSmile.actionTimetoken },
      ],
    },
  });
  assert.deepEqual(items[1].actions, {
    receipt: { read: [{ uuid: 'bob', actionTimetoken: read.actionTimetoken }] },
  });
});
