// require('pubnub'): the bus (publish, fire, signal; each message goes
// through its channel's before-publish functions, and chains stop at 3 hops),
// presence (hereNow, whereNow, getState, setState), history (history,
// fetchMessages, messageCounts, deleteMessages) and access tokens (grantToken needs `--allow-token-grant`),
// in the shapes of PubNub's Functions module (its JavaScript SDK's). Publish,
// presence and history calls share the bus budget (10 per invocation), as
// PubNub counts them all as API calls. Timetokens are strings.
const call = (f) => new Promise((resolve) => resolve(f()));
const meta = (m) => (m === undefined || m === null ? null : typeof m === 'string' ? m : JSON.stringify(m));

function send(kind, params) {
  const p = params || {};
  if (typeof p.channel !== 'string') throw new TypeError(`pubnub.${kind}: \`channel\` must be a string`);
  const message = JSON.stringify(p.message === undefined ? null : p.message);
  const timetoken = native.publish(kind, p.channel, message, kind === 'signal' ? null : meta(p.meta));
  return { timetoken };
}

// PubNub's permission names -> edgefn's.
const PERMISSIONS = ['read', 'write', 'manage', 'delete', 'get', 'update', 'join'];
function grants(resources) {
  return Object.entries(resources || {}).map(([name, flags]) => ({
    name,
    permissions: PERMISSIONS.filter((p) => flags && flags[p] === true),
  }));
}

function grantToken(params) {
  const p = params || {};
  const request = {
    ttl: p.ttl,
    authorized_uuid: p.authorized_uuid === undefined ? (p.authorizedUUID === undefined ? p.authorized_user_id : p.authorizedUUID) : p.authorized_uuid,
    channels: grants(p.resources && p.resources.channels),
    patterns: grants(p.patterns && p.patterns.channels),
    meta: p.meta === undefined ? null : p.meta,
  };
  return native.grantToken(JSON.stringify(request));
}

function parseToken(token) {
  const info = JSON.parse(native.parseToken(String(token)));
  const toFlags = (list) => Object.fromEntries(list.map((g) => [g.name, Object.fromEntries(g.permissions.map((p) => [p, true]))]));
  const parsed = {
    version: 2,
    timestamp: info.issued_at,
    ttl: info.ttl,
    resources: { channels: toFlags(info.channels) },
    patterns: { channels: toFlags(info.patterns) },
  };
  if (info.authorized_uuid != null) parsed.authorized_uuid = info.authorized_uuid;
  if (info.meta != null) parsed.meta = info.meta;
  return parsed;
}

// A `channels` parameter: an array of names, or one name.
function channelList(kind, value, required) {
  if (value === undefined || value === null) {
    if (required) throw new TypeError(`pubnub.${kind}: \`channels\` must be an array of channel names`);
    return [];
  }
  const list = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(list) || !list.every((c) => typeof c === 'string')) {
    throw new TypeError(`pubnub.${kind}: \`channels\` must be an array of channel names`);
  }
  return list;
}

function noGroups(kind, p) {
  if (p.channelGroups !== undefined && p.channelGroups !== null && p.channelGroups.length !== 0) {
    throw new TypeError(`pubnub.${kind}: channel groups are not supported here: name the channels`);
  }
}

function uuidOf(kind, p) {
  if (typeof p.uuid !== 'string' || p.uuid === '') throw new TypeError(`pubnub.${kind}: \`uuid\` must be a string`);
  return p.uuid;
}

// A timetoken parameter (string or number) as text, or null.
function timetoken(value) {
  if (value === undefined || value === null || value === '') return null;
  return typeof value === 'bigint' ? value.toString() : String(value);
}

function count(value) {
  if (value === undefined || value === null) return null;
  const n = Number(value);
  return Number.isFinite(n) ? Math.trunc(n) : null;
}

function hereNow(params) {
  const p = params || {};
  noGroups('hereNow', p);
  const channels = channelList('hereNow', p.channels, false);
  const includeUUIDs = p.includeUUIDs !== false;
  const includeState = p.includeState === true;
  const found = JSON.parse(native.hereNow(channels, includeUUIDs, includeState));
  const answer = { totalChannels: 0, totalOccupancy: 0, channels: {} };
  for (const c of found) {
    answer.totalOccupancy += c.occupancy;
    // As PubNub: one channel is always described, of several only those with anyone on.
    if (c.occupancy === 0 && channels.length !== 1) continue;
    answer.channels[c.channel] = {
      name: c.channel,
      occupancy: c.occupancy,
      occupants: c.members.map((m) => ({ uuid: m.uuid, state: includeState && m.state !== null ? m.state : null })),
    };
  }
  answer.totalChannels = Object.keys(answer.channels).length;
  return answer;
}

function getState(params) {
  const p = params || {};
  noGroups('getState', p);
  const channels = channelList('getState', p.channels, true);
  const found = JSON.parse(native.getState(uuidOf('getState', p), channels));
  const answer = {};
  for (const [channel, state] of found) {
    // As PubNub: one channel always has a state ({} when none is set).
    if (state !== null) answer[channel] = state;
    else if (channels.length === 1) answer[channel] = {};
  }
  return { channels: answer };
}

function setState(params) {
  const p = params || {};
  noGroups('setState', p);
  const channels = channelList('setState', p.channels, true);
  const state = p.state === undefined || p.state === null ? {} : p.state;
  if (typeof state !== 'object' || Array.isArray(state)) throw new TypeError('pubnub.setState: `state` must be an object');
  native.setState(uuidOf('setState', p), channels, JSON.stringify(state));
  return { state };
}

// fetchMessages: the newest `count` messages per channel before `start`
// (exclusive) and from `end` (inclusive), oldest first; `count` defaults to
// and is at most 100 for one channel, 25 for several.
function fetchMessages(params) {
  const p = params || {};
  const channels = channelList('fetchMessages', p.channels, true);
  const includeMeta = p.includeMeta === true;
  const includeUUID = p.includeUUID !== false && p.includeUuid !== false;
  const found = JSON.parse(native.fetchHistory(channels, timetoken(p.start), timetoken(p.end), count(p.count), includeMeta));
  const answer = {};
  for (const c of found) {
    answer[c.channel] = c.messages.map((m) => {
      const item = { channel: c.channel, message: m.message, timetoken: m.timetoken };
      if (includeUUID && m.uuid !== null) item.uuid = m.uuid;
      if (includeMeta) item.meta = m.meta === null ? '' : m.meta;
      return item;
    });
  }
  return { channels: answer };
}

// history (PubNub's v2): one channel's newest `count` (default and at most
// 100) messages before `start` and from `end`, oldest first; with `reverse`,
// the oldest `count` of the newest 100 there.
function history(params) {
  const p = params || {};
  if (typeof p.channel !== 'string') throw new TypeError('pubnub.history: `channel` must be a string');
  const wanted = Math.min(Math.max(count(p.count) === null ? 100 : count(p.count), 1), 100);
  const includeMeta = p.includeMeta === true;
  const asked = p.reverse === true ? 100 : wanted;
  const [found] = JSON.parse(native.fetchHistory([p.channel], timetoken(p.start), timetoken(p.end), asked, includeMeta));
  const stored = p.reverse === true ? found.messages.slice(0, wanted) : found.messages;
  const messages = stored.map((m) => {
    const item = { entry: m.message, timetoken: m.timetoken };
    if (includeMeta) item.meta = m.meta === null ? '' : m.meta;
    return item;
  });
  return {
    messages,
    startTimeToken: messages.length ? messages[0].timetoken : '0',
    endTimeToken: messages.length ? messages[messages.length - 1].timetoken : '0',
  };
}

// messageCounts: per channel, the stored messages newer than its timetoken
// (`channelTimetokens`: one for all, or one per channel).
function messageCounts(params) {
  const p = params || {};
  const channels = channelList('messageCounts', p.channels, true);
  const given = p.channelTimetokens ?? (p.timetoken === undefined ? undefined : [p.timetoken]);
  if (!Array.isArray(given) || given.length === 0) {
    throw new TypeError('pubnub.messageCounts: `channelTimetokens` must be an array of timetokens');
  }
  const counts = native.messageCounts(channels, given.map((t) => timetoken(t) ?? ''));
  const answer = {};
  channels.forEach((channel, i) => { answer[channel] = counts[i]; });
  return { channels: answer };
}

// deleteMessages: one channel's stored messages after `start` (exclusive) up
// to `end` (inclusive); neither: all of them.
function deleteMessages(params) {
  const p = params || {};
  if (typeof p.channel !== 'string') throw new TypeError('pubnub.deleteMessages: `channel` must be a string');
  native.deleteMessages(p.channel, timetoken(p.start), timetoken(p.end));
  return {};
}

module.exports = {
  publish: (params) => call(() => send('publish', params)),
  fire: (params) => call(() => send('fire', params)),
  signal: (params) => call(() => send('signal', params)),
  grantToken: (params) => call(() => grantToken(params)),
  parseToken: (token) => parseToken(token),
  revokeToken: (token) => call(() => { native.revokeToken(String(token)); return {}; }),
  hereNow: (params) => call(() => hereNow(params)),
  whereNow: (params) => call(() => ({ channels: native.whereNow(uuidOf('whereNow', params || {})) })),
  getState: (params) => call(() => getState(params)),
  setState: (params) => call(() => setState(params)),
  history: (params) => call(() => history(params)),
  fetchMessages: (params) => call(() => fetchMessages(params)),
  messageCounts: (params) => call(() => messageCounts(params)),
  deleteMessages: (params) => call(() => deleteMessages(params)),
};
