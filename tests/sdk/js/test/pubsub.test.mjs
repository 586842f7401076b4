// Publish, subscribe, signal and history through the SDK's own calls.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { subscribe, unique, useNode } from '../lib/clients.mjs';

const { client } = useNode();

test('publish then subscribe receives it', async () => {
  const [alice, bob] = [client('alice'), client('bob')];
  const channel = `room-${unique()}`;
  const inbox = await subscribe(bob, [channel]);

  const { timetoken } = await alice.publish({ channel, message: { text: 'hello' }, meta: { lang: 'en' } });

  const got = await inbox.next('message');
  assert.deepEqual(
    [got.channel, got.subscription, got.message, got.publisher, got.timetoken, got.userMetadata],
    [channel, channel, { text: 'hello' }, 'alice', timetoken, { lang: 'en' }],
  );
});

test('subscribe to several channels', async () => {
  const [alice, bob] = [client('alice'), client('bob')];
  const id = unique();
  const channels = [`news-${id}`, `sport-${id}`, `weather-${id}`];
  const inbox = await subscribe(bob, channels);

  for (const channel of channels) await alice.publish({ channel, message: { on: channel } });

  const received = [];
  for (const _ of channels) received.push(await inbox.next('message'));
  assert.deepEqual(received.map((m) => [m.channel, m.message]), channels.map((c) => [c, { on: c }]));
});

test('wildcard subscription receives matching channels', async () => {
  const [alice, bob] = [client('alice'), client('bob')];
  const id = unique();
  const pattern = `a${id}.*`;
  const inbox = await subscribe(bob, [pattern]);

  await alice.publish({ channel: `a${id}.one`, message: 1 });
  await alice.publish({ channel: `a${id}.two`, message: 2 });

  const received = [await inbox.next('message'), await inbox.next('message')];
  assert.deepEqual(received.map((m) => [m.channel, m.subscription, m.message]), [
    [`a${id}.one`, pattern, 1],
    [`a${id}.two`, pattern, 2],
  ]);
});

// The SDK sends a POST publish's body compressed (`Content-Encoding: deflate`).
test('publish by POST', async () => {
  const [alice, bob] = [client('alice'), client('bob')];
  const channel = `room-${unique()}`;
  const inbox = await subscribe(bob, [channel]);

  await alice.publish({ channel, message: { text: 'by post' }, sendByPost: true });

  assert.deepEqual((await inbox.next('message')).message, { text: 'by post' });
});

test('signal is received as a signal', async () => {
  const [alice, bob] = [client('alice'), client('bob')];
  const channel = `room-${unique()}`;
  const inbox = await subscribe(bob, [channel]);

  const { timetoken } = await alice.signal({ channel, message: { typing: true } });
  await alice.publish({ channel, message: 'after the signal' });

  const signal = await inbox.next('signal');
  assert.deepEqual(
    [signal.channel, signal.message, signal.publisher, signal.timetoken],
    [channel, { typing: true }, 'alice', timetoken],
  );
  // The signal did not also come as a message: the next message is the one after it.
  assert.equal((await inbox.next('message')).message, 'after the signal');
});

test('history fetch with meta and uuid', async () => {
  const [alice, bob] = [client('alice'), client('bob')];
  const channel = `log-${unique()}`;
  const sent = [
    [alice, { n: 1 }, { level: 'info' }],
    [bob, { n: 2 }, { level: 'warn' }],
  ];
  const expected = [];
  for (const [publisher, message, meta] of sent) {
    const { timetoken } = await publisher.publish({ channel, message, meta });
    expected.push([timetoken, message, meta, publisher.getUserId()]);
  }

  const { channels } = await alice.fetchMessages({ channels: [channel], includeMeta: true, includeUUID: true });

  assert.deepEqual(channels[channel].map((m) => [m.timetoken, m.message, m.meta, m.uuid]), expected);
});
