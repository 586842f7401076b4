// Official PubNub JavaScript SDK clients pointed at a node, waiting for what
// their listeners receive, and the per-file fixture (`useNode`).
//
// Every wait is bounded by WAIT_MS, a bound for failures only: a passing test
// never waits that long.

import { after, afterEach, before } from 'node:test';
import { randomBytes } from 'node:crypto';
import PubNub from 'pubnub';

import { Node, withTimeout } from './node.mjs';

export const WAIT_MS = 10_000;
const PUBLISH_KEY = 'demo';
const SUBSCRIBE_KEY = 'demo';

/**
 * Registers hooks that start a fresh node for the test file (with
 * `secretKey`, and `functions`: {name: {guest: 'moderate', ...rest of the
 * deployment}} deployed from target/guests) and stop it at the end, and
 * that close the clients a test made. Returns `{node, client(userId, {secretKey, ...settings})}`;
 * `node` is set once the file's `before` hook ran.
 */
export function useNode({ secretKey, functions = {} } = {}) {
  const fixture = { node: undefined, clients: [] };
  before(async () => {
    fixture.node = await Node.start({ secretKey });
    for (const [name, { guest, ...spec }] of Object.entries(functions)) {
      await fixture.node.deploy(name, guest, spec);
    }
  });
  after(() => fixture.node?.stop());
  afterEach(() => {
    for (const client of fixture.clients.splice(0)) closeClient(client);
  });
  fixture.client = (userId, options = {}) => {
    const client = makeClient(fixture.node, userId, options);
    fixture.clients.push(client);
    return client;
  };
  return fixture;
}

/**
 * A PubNub client for `node`, as an app would configure it with only the
 * origin changed; `settings` adds to its configuration (`cipherKey`...).
 */
export function makeClient(node, userId, { secretKey, ...settings } = {}) {
  return new PubNub({
    publishKey: PUBLISH_KEY,
    subscribeKey: SUBSCRIBE_KEY,
    userId,
    origin: node.origin,
    ssl: false,
    secretKey,
    ...settings,
  });
}

function closeClient(client) {
  client.unsubscribeAll();
  client.destroy();
}

/** A token to build channel names no other test uses. */
export function unique() {
  return randomBytes(4).toString('hex');
}

/** Collects what a client's listener receives, by kind. */
export class Inbox {
  static KINDS = ['status', 'message', 'signal', 'presence', 'messageAction', 'objects', 'file'];

  constructor(client) {
    this.queues = Object.fromEntries(Inbox.KINDS.map((kind) => [kind, []]));
    this.waiting = [];
    client.addListener(Object.fromEntries(Inbox.KINDS.map((kind) => [kind, (e) => this.#add(kind, e)])));
  }

  #add(kind, event) {
    this.queues[kind].push(event);
    for (const wake of this.waiting.splice(0)) wake();
  }

  /**
   * The next `kind` event satisfying `where` (earlier ones that do not are
   * dropped); fails after WAIT_MS.
   */
  async next(kind, where = () => true) {
    const take = async () => {
      for (;;) {
        const queue = this.queues[kind];
        while (queue.length) {
          const event = queue.shift();
          if (where(event)) return event;
        }
        await new Promise((wake) => this.waiting.push(wake));
      }
    };
    return withTimeout(take(), WAIT_MS, `${kind} event`);
  }
}

/**
 * Subscribes `client` to `channels`; resolves to its Inbox once the
 * subscription is live (the SDK announced it connected).
 */
export async function subscribe(client, channels, { withPresence = false } = {}) {
  const inbox = new Inbox(client);
  client.subscribe({ channels, withPresence });
  const status = await inbox.next('status');
  if (status.category !== 'PNConnectedCategory') {
    throw new Error(`subscribe failed: ${status.category} ${JSON.stringify(status.errorData ?? '')}`);
  }
  return inbox;
}

/**
 * `client.fire(parameters)`, resolved when the node answered. (The SDK's
 * promise form of `fire` resolves before that, with nothing, and drops
 * errors: it passes its own empty callback to `publish`.)
 */
export function fire(client, parameters) {
  return new Promise((resolve, reject) => {
    client.fire(parameters, (status, response) => (status.error ? reject(status) : resolve(response)));
  });
}

/** Polls `condition` (async) until it is true; fails after WAIT_MS. */
export async function waitUntil(condition, what) {
  const deadline = Date.now() + WAIT_MS;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${WAIT_MS / 1000} s`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
