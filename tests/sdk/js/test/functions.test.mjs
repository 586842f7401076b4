// Messages pass through the node's functions: the examples `moderate`
// (before publish) and `counter` (after publish, and its endpoint), both on
// `chat.*`.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { fire, subscribe, unique, useNode, waitUntil } from '../lib/clients.mjs';

// The before-publish deadline is generous so that a slow machine cannot turn
// a timing hiccup into a rejected publish: these tests are about the protocol.
const fixture = useNode({
  functions: {
    moderate: { guest: 'moderate', before_publish: ['chat.*'], config: { banned_words: 'spam' }, timeout_ms: 2000 },
    counter: { guest: 'counter', after_publish: ['chat.*'], endpoint: true },
  },
});
const { client } = fixture;

/** What the `counter` function counted on `channel`. */
async function count(channel) {
  return (await fixture.node.endpoint('counter', `/${channel}`)).count;
}

test('a message arrives transformed by a before-publish function', async () => {
  const [alice, bob] = [client('alice'), client('bob')];
  const channel = `chat.${unique()}`;
  const inbox = await subscribe(bob, [channel]);

  await alice.publish({ channel, message: { text: '  hello \n  world ' } });

  assert.deepEqual((await inbox.next('message')).message, { text: 'hello world', moderated: true });
});

test('a rejected publish is an error carrying the reason', async () => {
  const [alice, bob] = [client('alice'), client('bob')];
  const channel = `chat.${unique()}`;
  const inbox = await subscribe(bob, [channel]);

  await assert.rejects(alice.publish({ channel, message: { text: 'buy spam now' } }), (error) => {
    assert.match(error.status.errorData, /rejected the message: message contains banned word "spam"/);
    return true;
  });
  await alice.publish({ channel, message: { text: 'fine' } });
  // Nothing came before the accepted message: the rejected one was never delivered.
  assert.deepEqual((await inbox.next('message')).message, { text: 'fine', moderated: true });
});

test('fire reaches functions but no subscriber', async () => {
  const [alice, bob] = [client('alice'), client('bob')];
  const channel = `chat.${unique()}`;
  const inbox = await subscribe(bob, [channel]);

  await fire(alice, { channel, message: { text: 'fired' } });
  await waitUntil(async () => (await count(channel)) === 1, 'the after-publish function counting the fire');
  await alice.publish({ channel, message: { text: 'published' } });

  // The first message the subscriber gets is the one published after the fire.
  assert.deepEqual((await inbox.next('message')).message, { text: 'published', moderated: true });
  await waitUntil(async () => (await count(channel)) === 2, 'the after-publish function counting the publish');
});
