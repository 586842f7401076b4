// Files through the SDK's own calls: sendFile (upload URL, the form upload to
// the node, the file message), listFiles, getFileUrl, downloadFile,
// deleteFile, the file event a subscriber's listener receives, history's
// file messages, and encrypted files.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { subscribe, unique, useNode } from '../lib/clients.mjs';

const { client } = useNode();

async function send(client, channel, name, data, message) {
  const file = { data: Buffer.from(data), name, mimeType: 'text/plain' };
  return client.sendFile({ channel, file, ...(message ? { message } : {}) });
}

async function download(client, channel, { id, name }) {
  const file = await client.downloadFile({ channel, id, name });
  return (await file.toBuffer()).toString();
}

test('sendFile, listFiles, downloadFile and deleteFile', async () => {
  const [alice, bob] = [client('alice'), client('bob')];
  const channel = `room-${unique()}`;
  const first = await send(alice, channel, 'hello.txt', 'hello world', { text: 'read me' });
  const second = await send(alice, channel, 'other.txt', 'other');

  assert.equal(first.status, 200);
  const listed = await bob.listFiles({ channel });
  assert.equal(listed.count, 2);
  assert.deepEqual(
    listed.data.map((f) => [f.id, f.name, f.size]),
    [[first.id, 'hello.txt', 11], [second.id, 'other.txt', 5]],
  );
  assert.equal(await download(bob, channel, first), 'hello world');

  await bob.deleteFile({ channel, id: first.id, name: first.name });

  assert.deepEqual((await bob.listFiles({ channel })).data.map((f) => f.id), [second.id]);
  await assert.rejects(download(bob, channel, first), (error) => {
    assert.equal(error.status?.statusCode, 404, `${error.message} ${JSON.stringify(error.status)}`);
    return true;
  });
});

test('getFileUrl gives a URL on the node that redirects to the bytes', async () => {
  const alice = client('alice');
  const channel = `room-${unique()}`;
  const sent = await send(alice, channel, 'data.txt', 'some bytes');

  const url = alice.getFileUrl({ channel, id: sent.id, name: sent.name });
  const response = await fetch(url);

  assert.equal(response.status, 200);
  assert.equal(await response.text(), 'some bytes');
  assert.equal(response.headers.get('content-type'), 'text/plain');
});

test('a subscriber receives the file event, history keeps the message', async () => {
  const [alice, bob] = [client('alice'), client('bob')];
  const channel = `room-${unique()}`;
  const inbox = await subscribe(bob, [channel]);

  const sent = await send(alice, channel, 'photo.txt', 'pixels', { caption: 'look' });

  const event = await inbox.next('file');
  assert.equal(event.channel, channel);
  assert.equal(event.publisher, 'alice');
  assert.equal(event.timetoken, sent.timetoken);
  assert.deepEqual(event.message, { caption: 'look' });
  assert.deepEqual([event.file.id, event.file.name], [sent.id, 'photo.txt']);
  assert.equal(await (await fetch(event.file.url)).text(), 'pixels');

  const history = (await alice.fetchMessages({ channels: [channel], includeMessageType: true })).channels[channel];
  assert.equal(history.length, 1);
  assert.equal(history[0].messageType, 4);
  assert.deepEqual(history[0].message, { message: { caption: 'look' }, file: { id: sent.id, name: 'photo.txt' } });
});

test('encrypted files round-trip; the node holds only ciphertext', async () => {
  const alice = client('alice', { cipherKey: 'file-secret' });
  const bob = client('bob', { cipherKey: 'file-secret' });
  const channel = `room-${unique()}`;
  const secret = 'for your eyes only '.repeat(100);

  const sent = await send(alice, channel, 'secret.txt', secret, { text: 'encrypted' });

  assert.equal(await download(bob, channel, sent), secret);
  const stored = await (await fetch(bob.getFileUrl({ channel, id: sent.id, name: sent.name }))).text();
  assert.ok(!stored.includes('eyes'), 'the stored bytes are not the plaintext');
});
