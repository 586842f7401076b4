// The JavaScript side of the runner: PubNub Functions' request and response
// objects, `require` and `console`, and one entry point per trigger.
//
// Evaluated once at init, as a script whose value is a function of the
// runner's native functions (`native`, see src/natives.rs) and the module
// factories (`modules`: name -> function (module, exports, require, native)).
// It returns the dispatch object the runner calls: `install(handler)`, then
// per invocation `beforePublish`, `afterPublish`, `afterPresence`,
// `interval` and `onRequest`, each returning a Promise.
(function (native, modules) {
  'use strict';

  // --- console: lines go to the function's log ----------------------------
  function show(value) {
    if (typeof value === 'string') return value;
    if (value instanceof Error) return value.stack ? `${value.name}: ${value.message}\n${value.stack}` : String(value);
    if (value === undefined || typeof value === 'function' || typeof value === 'symbol') return String(value);
    try {
      return JSON.stringify(value, (_, v) => (typeof v === 'bigint' ? `${v}n` : v));
    } catch (_) {
      return String(value);
    }
  }
  const logAt = (level) => (...args) => native.log(level, args.map(show).join(' '));
  globalThis.console = Object.freeze({
    log: logAt('info'),
    info: logAt('info'),
    warn: logAt('warn'),
    error: logAt('error'),
    debug: logAt('debug'),
  });

  // --- Math.random: reseeded from the host on first use in each invocation,
  // since the snapshot would otherwise replay the same sequence ------------
  let seeded = false;
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  function seed() {
    const b = native.randomBytes(16);
    s0 = (b[0] | b[1] << 8 | b[2] << 16 | b[3] << 24) >>> 0;
    s1 = (b[4] | b[5] << 8 | b[6] << 16 | b[7] << 24) >>> 0;
    s2 = (b[8] | b[9] << 8 | b[10] << 16 | b[11] << 24) >>> 0;
    s3 = (b[12] | b[13] << 8 | b[14] << 16 | b[15] << 24 | 1) >>> 0;
    seeded = true;
  }
  // xoshiro128**: 53 bits from two 32-bit outputs.
  function next32() {
    const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    const t = s1 << 9;
    s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3; s2 ^= t; s3 = rotl(s3, 11);
    return result;
  }
  function rotl(x, k) { return (x << k) | (x >>> (32 - k)); }
  // Every invocation starts from the snapshot, where `seeded` may be true.
  function begin() {
    seeded = false;
  }
  Math.random = function random() {
    if (!seeded) seed();
    return ((next32() >>> 5) * 67108864 + (next32() >>> 6)) / 9007199254740992;
  };

  // --- require ------------------------------------------------------------
  const loaded = new Map();
  function require(name) {
    const key = String(name);
    const cached = loaded.get(key);
    if (cached !== undefined) return cached;
    const factory = modules[key];
    if (typeof factory !== 'function') {
      throw new Error(`require('${key}'): there is no module called '${key}' (the modules are: ${Object.keys(modules).sort().join(', ')})`);
    }
    const module = { exports: {} };
    factory(module, module.exports, require, native);
    loaded.set(key, module.exports);
    return module.exports;
  }
  globalThis.require = require;
  // The browser globals some Functions code uses without `require`.
  if (typeof globalThis.btoa !== 'function') {
    Object.defineProperty(globalThis, 'btoa', { value: (text) => require('codec/base64').btoa(text), writable: true, configurable: true });
    Object.defineProperty(globalThis, 'atob', { value: (text) => require('codec/base64').atob(text), writable: true, configurable: true });
  }

  // --- handlers -----------------------------------------------------------
  let handler = null;

  function install(defaultExport) {
    if (typeof defaultExport !== 'function') {
      throw new TypeError(`the module's default export must be the handler function (\`export default (request) => ...\`), not ${defaultExport === undefined ? 'missing' : typeof defaultExport}`);
    }
    handler = defaultExport;
    // Evaluate every module now, so that the snapshot holds them ready.
    for (const name of Object.keys(modules)) require(name);
  }

  function reason(value) {
    if (value === undefined) return 'rejected by the function';
    return typeof value === 'string' ? value : show(value);
  }

  // The request of a message trigger, with `ok()` and `abort()`.
  // (Absent values arrive from the runner as `undefined`.)
  function messageRequest(channel, message, meta, publisher, verb, timetoken) {
    const params = {};
    if (meta != null) params.meta = meta;
    if (publisher != null) params.uuid = publisher;
    if (timetoken != null) params.timetoken = timetoken;
    const request = {
      message,
      channels: [channel],
      verb,
      params,
      uri: `/${verb}/-/-/0/${encodeURIComponent(channel)}/0`,
      meta: { clientip: '', origin: '', useragent: '' },
      timetoken: timetoken == null ? undefined : timetoken,
      outcome: null,
      ok(changed) {
        if (changed !== undefined) request.message = changed;
        if (request.outcome === null) request.outcome = { ok: true };
        return Promise.resolve(request);
      },
      abort(why) {
        request.outcome = { ok: false, reason: reason(why) };
        return Promise.resolve(request);
      },
    };
    Object.defineProperty(request, 'outcome', { enumerable: false, writable: true });
    return request;
  }

  function parse(text, what) {
    try {
      return JSON.parse(text);
    } catch (e) {
      throw new SyntaxError(`the ${what} is not JSON: ${e.message}`);
    }
  }

  // -> null (pass unchanged), { payload, meta } (modified), or { abort }.
  async function beforePublish(channel, payload, meta, publisher, verb) {
    begin();
    const request = messageRequest(channel, parse(payload, 'message'), meta, publisher, verb, null);
    await handler(request);
    if (request.outcome !== null && !request.outcome.ok) return { abort: request.outcome.reason };
    const newPayload = JSON.stringify(request.message === undefined ? null : request.message);
    let newMeta = request.params.meta;
    if (newMeta !== undefined && newMeta !== null && typeof newMeta !== 'string') newMeta = JSON.stringify(newMeta);
    if (newMeta === undefined) newMeta = null;
    if (newPayload === payload && newMeta === (meta ?? null)) return null;
    return { payload: newPayload, meta: newMeta };
  }

  async function afterPublish(channel, payload, meta, publisher, verb, timetoken) {
    begin();
    const request = messageRequest(channel, parse(payload, 'message'), meta, publisher, verb, timetoken);
    await handler(request);
  }

  async function afterPresence(action, channel, uuid, occupancy, timestamp, state) {
    begin();
    const message = { action, uuid, occupancy, timestamp };
    if (state != null) message.state = parse(state, 'presence state');
    const request = messageRequest(channel, message, null, uuid, 'presence', null);
    await handler(request);
  }

  async function interval() {
    begin();
    let failure = null;
    const event = {
      ok() { return Promise.resolve(event); },
      abort(why) { failure = reason(why); return Promise.resolve(event); },
    };
    await handler(event);
    if (failure !== null) throw new Error(failure);
  }

  function queryParams(query) {
    const params = {};
    if (!query) return params;
    for (const pair of query.split('&')) {
      if (pair === '') continue;
      const at = pair.indexOf('=');
      const name = decode(at < 0 ? pair : pair.slice(0, at));
      const value = at < 0 ? '' : decode(pair.slice(at + 1));
      if (!(name in params)) params[name] = value;
    }
    return params;
  }
  function decode(text) {
    try {
      return decodeURIComponent(text.replace(/\+/g, ' '));
    } catch (_) {
      return text;
    }
  }

  // -> { status, headers: [[name, value]...], body }.
  async function onRequest(method, path, query, headerPairs, body) {
    begin();
    const headers = {};
    for (const [name, value] of headerPairs) {
      const key = name.toLowerCase();
      headers[key] = key in headers ? `${headers[key]}, ${value}` : value;
    }
    const params = queryParams(query);
    const request = {
      method, path, query: params, params, headers, body,
      json() { return Promise.resolve(parse(body, 'request body')); },
    };
    let sent = null;
    const response = {
      status: 200,
      headers: {},
      send(content, status) {
        if (status !== undefined) response.status = status;
        sent = content === undefined ? '' : content;
        return Promise.resolve(response);
      },
    };
    await handler(request, response);
    const content = sent === null ? '' : sent;
    const out = Object.entries(response.headers).map(([name, value]) => [name, String(value)]);
    let text;
    if (typeof content === 'string') {
      text = content;
    } else {
      text = JSON.stringify(content);
      if (!out.some(([name]) => name.toLowerCase() === 'content-type')) out.push(['content-type', 'application/json']);
    }
    return { status: Number(response.status) | 0, headers: out, body: text };
  }

  return { install, beforePublish, afterPublish, afterPresence, interval, onRequest };
})
