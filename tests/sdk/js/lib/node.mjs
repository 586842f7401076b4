// A running `edgefn serve` for the SDK tests, and the plain-HTTP calls that
// set it up or look at it from outside the SDK (the admin API, the native
// `/v1/` API, function endpoints).
//
// The node listens on a free port of 127.0.0.1, keeps its state in a
// temporary directory, and writes its log to `node.log` there. The binary is
// $EDGEFN_BIN (default target/release/edgefn) and the guests are in
// $EDGEFN_GUESTS (default target/guests).

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { openSync, closeSync, mkdtempSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(fileURLToPath(import.meta.url), '../../../../..');
const BIN = process.env.EDGEFN_BIN ?? join(ROOT, 'target/release/edgefn');
const GUESTS = process.env.EDGEFN_GUESTS ?? join(ROOT, 'target/guests');

const START_TIMEOUT_MS = 60_000;
const HTTP_TIMEOUT_MS = 10_000;
const LISTENING = /edgefn listening on http:\/\/(\S+)/;

export class Node {
  /** Starts a node; `secretKey` turns access control on. */
  static async start({ secretKey } = {}) {
    const node = new Node(secretKey);
    await node.#spawn();
    return node;
  }

  constructor(secretKey) {
    this.secretKey = secretKey;
    this.adminKey = randomBytes(16).toString('hex');
    this.dir = mkdtempSync(join(tmpdir(), 'edgefn-sdk-'));
    this.address = undefined;
  }

  /** `host:port`, what the SDKs take as `origin`. */
  get origin() {
    return this.address;
  }

  get url() {
    return `http://${this.address}`;
  }

  async #spawn() {
    const args = ['serve', '--listen', '127.0.0.1:0', '--data-dir', join(this.dir, 'data'),
      '--admin-key', this.adminKey];
    if (this.secretKey) args.push('--secret-key', this.secretKey);
    const log = openSync(join(this.dir, 'node.log'), 'w');
    this.process = spawn(BIN, args, { stdio: ['ignore', 'pipe', log] });
    closeSync(log);
    this.exited = new Promise((done) => this.process.once('exit', done));
    const lines = createInterface({ input: this.process.stdout });
    const listening = new Promise((done, fail) => {
      lines.on('line', (line) => {
        const found = LISTENING.exec(line);
        if (found) done(found[1]);
      });
      this.exited.then(() => fail(new Error(`edgefn exited; its log: ${this.dir}/node.log`)));
      this.process.once('error', fail);
    });
    try {
      this.address = await withTimeout(listening, START_TIMEOUT_MS, 'edgefn to start');
    } catch (e) {
      await this.stop();
      throw e;
    }
  }

  async stop() {
    if (this.process.exitCode === null && this.process.signalCode === null) {
      this.process.kill('SIGTERM');
      await this.exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }

  // --- plain HTTP ---------------------------------------------------------

  /** {status, body (parsed JSON, or text)} of a request to the node. */
  async request(method, path, { body, headers } = {}) {
    const response = await fetch(this.url + path, {
      method, body, headers, signal: AbortSignal.timeout(HTTP_TIMEOUT_MS),
    });
    const text = await response.text();
    let parsed = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON: keep the text
    }
    return { status: response.status, body: parsed };
  }

  /**
   * Deploys target/guests/GUEST.wasm as `name` through the admin API; `spec`
   * is the rest of the deployment (`{before_publish: ['chat.*'], ...}`).
   */
  async deploy(name, guest, spec) {
    const form = new FormData();
    form.append('spec', new Blob([JSON.stringify({ name, ...spec })], { type: 'application/json' }), 'spec');
    const component = await readFile(join(GUESTS, `${guest}.wasm`));
    form.append('component', new Blob([component], { type: 'application/wasm' }), `${guest}.wasm`);
    const { status, body } = await this.request('PUT', `/v1/admin/functions/${name}`, {
      body: form,
      headers: { authorization: `Bearer ${this.adminKey}` },
    });
    if (status !== 200) throw new Error(`deploying ${name}: ${status} ${JSON.stringify(body)}`);
  }

  /** `POST /v1/publish/{channel}`: the native API. Returns the timetoken. */
  async nativePublish(channel, message, publisher) {
    const query = new URLSearchParams({ uuid: publisher });
    const { status, body } = await this.request('POST', `/v1/publish/${encodeURIComponent(channel)}?${query}`, {
      body: JSON.stringify(message),
      headers: { 'content-type': 'application/json' },
    });
    if (status !== 200) throw new Error(`native publish: ${status} ${JSON.stringify(body)}`);
    return body.timetoken;
  }

  /**
   * `GET /v1/subscribe/{channel}` (Server-Sent Events), live once this
   * resolves: it waits for the stream's `ready` event. Close it with
   * `close()`.
   */
  async nativeStream(channel) {
    const abort = new AbortController();
    const opening = fetch(`${this.url}/v1/subscribe/${encodeURIComponent(channel)}`, { signal: abort.signal });
    try {
      const response = await withTimeout(opening, HTTP_TIMEOUT_MS, 'answer to the native subscribe');
      const stream = new EventStream(response.body, () => abort.abort());
      const ready = await stream.next();
      if (ready.event !== 'ready') throw new Error(`expected the \`ready\` event first, got ${ready.event}`);
      return stream;
    } catch (e) {
      abort.abort();
      throw e;
    }
  }

  /** `GET /v1/fn/{fn}{path}`: an endpoint function's answer. */
  async endpoint(fn, path) {
    const { status, body } = await this.request('GET', `/v1/fn/${fn}${path}`);
    if (status !== 200) throw new Error(`/v1/fn/${fn}${path}: ${status} ${JSON.stringify(body)}`);
    return body;
  }
}

/** Events of a Server-Sent Events body, one at a time. */
class EventStream {
  constructor(body, close) {
    this.reader = body.pipeThrough(new TextDecoderStream()).getReader();
    this.buffer = '';
    this.close = close;
  }

  /** The next `{event, data}` (data parsed); fails after HTTP_TIMEOUT_MS. */
  async next() {
    return withTimeout(this.#read(), HTTP_TIMEOUT_MS, 'an event on the stream');
  }

  async #read() {
    for (;;) {
      const end = this.buffer.indexOf('\n\n');
      if (end >= 0) {
        const block = this.buffer.slice(0, end);
        this.buffer = this.buffer.slice(end + 2);
        const event = parseEvent(block);
        if (event) return event;
        continue;
      }
      const { value, done } = await this.reader.read();
      if (done) throw new Error('the event stream ended');
      this.buffer += value.replaceAll('\r\n', '\n');
    }
  }
}

function parseEvent(block) {
  let event = 'message';
  const data = [];
  for (const line of block.split('\n')) {
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'event') event = value;
    if (field === 'data') data.push(value);
  }
  return data.length ? { event, data: JSON.parse(data.join('\n')) } : undefined;
}

/** `promise`, or a failure naming `what` after `ms`. */
export function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, fail) => {
    timer = setTimeout(() => fail(new Error(`no ${what} within ${ms / 1000} s`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
