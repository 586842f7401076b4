// require('kvstore'): PubNub's key-value store, on edgefn's KV (shared with
// every function of the node or cluster). JSON values (`get`/`set`), string
// values (`getItem`/`setItem`) and counters (`incrCounter`/`getCounter`,
// kept under the key prefix `pn.counter/` so that they list apart). TTLs
// are in minutes: 1 day by default, clamped to 1 minute .. 1 year.
const COUNTER_PREFIX = 'pn.counter/';
const DAY = 24 * 60;
const YEAR = 365 * DAY;
const PAGE = 100;

const call = (f) => new Promise((resolve) => resolve(f()));
const ttlSeconds = (minutes) => {
  const m = minutes === undefined || minutes === null ? DAY : Math.round(Number(minutes));
  return Math.min(Math.max(Number.isFinite(m) ? m : DAY, 1), YEAR) * 60;
};
const key = (name) => {
  if (typeof name !== 'string' || name === '') throw new TypeError('a kvstore key must be a non-empty string');
  return name;
};

// One page of keys under `prefix` as PubNub returns it: an array, carrying
// `paginationToken` when more remain.
function keys(prefix, paginationToken, keep) {
  const page = native.kvKeys(prefix, paginationToken === undefined ? null : paginationToken, PAGE);
  const names = page.keys.filter(keep).map((k) => k.slice(prefix.length));
  if (page.cursor != null) names.paginationToken = page.cursor;
  return names;
}

module.exports = {
  get: (name) => call(() => {
    const text = native.kvGet(key(name));
    return text == null ? null : JSON.parse(text);
  }),
  set: (name, value, ttl) => call(() => native.kvSet(key(name), JSON.stringify(value), ttlSeconds(ttl))),
  getItem: (name) => call(() => native.kvGet(key(name)) ?? null),
  setItem: (name, value, ttl) => call(() => native.kvSet(key(name), String(value), ttlSeconds(ttl))),
  removeItem: (name) => call(() => { native.kvDelete(key(name)); }),
  incrCounter: (name, delta) => call(() => native.kvIncr(COUNTER_PREFIX + key(name), delta === undefined ? 1 : Math.trunc(Number(delta)))),
  getCounter: (name) => call(() => {
    const text = native.kvGet(COUNTER_PREFIX + key(name));
    return text == null ? 0 : Number(text);
  }),
  getKeys: (paginationToken) => call(() => keys('', paginationToken, (k) => !k.startsWith(COUNTER_PREFIX))),
  getCounterKeys: (paginationToken) => call(() => keys(COUNTER_PREFIX, paginationToken, () => true)),
};
