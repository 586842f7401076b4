// require('pubnub'): the bus (publish, fire, signal; each message goes
// through its channel's before-publish functions, and chains stop at 3 hops),
// presence (hereNow, whereNow, getState, setState), history (history,
// fetchMessages, messageCounts, deleteMessages), message actions
// (addMessageAction, getMessageActions, removeMessageAction), App Context
// (objects.get/set/remove/getAll of UUID and channel metadata, and
// objects.get/set/remove of memberships and channel members), channel groups
// (channelGroups.addChannels, removeChannels, listChannels, listGroups,
// deleteGroup), files (listFiles, getFileUrl, deleteFile, publishFile) and
// access tokens (grantToken needs `--allow-token-grant`), in the shapes of
// PubNub's Functions module (its JavaScript SDK's). Every call but
// getFileUrl spends the bus budget (10 per invocation), as PubNub counts
// them all as API calls. Timetokens are strings. The function acts as
// itself (`fn:NAME`): actions it adds and object events it causes are by
// that uuid; it has the node's authority (Access Manager does not apply).
const call = (f) => new Promise((resolve) => resolve(f()));
const meta = (m) => (m === undefined || m === null ? null : typeof m === 'string' ? m : JSON.stringify(m));

// How history keeps a publish: PubNub's `storeInHistory` (default true) and
// `ttl` (hours; 0 or absent: as long as the channel's history keeps it).
function keeping(name, p) {
  const ttl = p.ttl === undefined || p.ttl === null ? 0 : p.ttl;
  if (!Number.isInteger(ttl) || ttl < 0 || ttl > 0xffffffff) {
    throw new TypeError(`pubnub.${name}: \`ttl\` must be a whole number of hours`);
  }
  return { store: p.storeInHistory !== false, ttlHours: ttl };
}

function send(kind, params) {
  const p = params || {};
  if (typeof p.channel !== 'string') throw new TypeError(`pubnub.${kind}: \`channel\` must be a string`);
  const message = JSON.stringify(p.message === undefined ? null : p.message);
  const kept = kind === 'publish' ? keeping(kind, p) : { store: true, ttlHours: 0 };
  const timetoken = native.publish(kind, p.channel, message, kind === 'signal' ? null : meta(p.meta), kept);
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

// PubNub's `resources` or `patterns` (channels, groups, uuids).
function resourceGrants(byKind) {
  const of = byKind || {};
  return { channels: grants(of.channels), groups: grants(of.groups), uuids: grants(of.uuids) };
}

function grantToken(params) {
  const p = params || {};
  const request = {
    ttl: p.ttl,
    authorized_uuid: p.authorized_uuid === undefined ? (p.authorizedUUID === undefined ? p.authorized_user_id : p.authorizedUUID) : p.authorized_uuid,
    resources: resourceGrants(p.resources),
    patterns: resourceGrants(p.patterns),
    meta: p.meta === undefined ? null : p.meta,
  };
  return native.grantToken(JSON.stringify(request));
}

function parseToken(token) {
  const info = JSON.parse(native.parseToken(String(token)));
  const toFlags = (list) => Object.fromEntries(list.map((g) => [g.name, Object.fromEntries(g.permissions.map((p) => [p, true]))]));
  // As PubNub's: channels always, groups and uuids when the token has some.
  const byKind = (kinds) => {
    const parsed = { channels: toFlags(kinds.channels) };
    for (const kind of ['groups', 'uuids']) {
      if (kinds[kind].length !== 0) parsed[kind] = toFlags(kinds[kind]);
    }
    return parsed;
  };
  const parsed = {
    version: 2,
    timestamp: info.issued_at,
    ttl: info.ttl,
    resources: byKind(info.resources),
    patterns: byKind(info.patterns),
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

// --- message actions ------------------------------------------------------

function channelOf(method, p) {
  if (typeof p.channel !== 'string' || p.channel === '') throw new TypeError(`pubnub.${method}: \`channel\` must be a channel name`);
  return p.channel;
}

function requiredTimetoken(method, p, name) {
  const text = timetoken(p[name]);
  if (text === null) throw new TypeError(`pubnub.${method}: \`${name}\` must be a timetoken`);
  return text;
}

// addMessageAction: `action` ({type, value}) on the message at
// `messageTimetoken`; answers `{data: action}`.
function addMessageAction(params) {
  const p = params || {};
  const channel = channelOf('addMessageAction', p);
  const message = requiredTimetoken('addMessageAction', p, 'messageTimetoken');
  const a = p.action;
  if (a === null || typeof a !== 'object') throw new TypeError('pubnub.addMessageAction: `action` must be an object with `type` and `value`');
  for (const field of ['type', 'value']) {
    if (typeof a[field] !== 'string' || a[field] === '') throw new TypeError(`pubnub.addMessageAction: \`action.${field}\` must be a non-empty string`);
  }
  return { data: JSON.parse(native.addMessageAction(channel, message, a.type, a.value)) };
}

// getMessageActions: the newest `limit` (default and at most 100) actions
// before `start` (exclusive) and from `end` (inclusive), oldest first, with
// the first and last action timetokens and, when older ones were left out,
// `more` ({start, end, limit}: ask again with `start`).
function getMessageActions(params) {
  const p = params || {};
  const channel = channelOf('getMessageActions', p);
  const end = timetoken(p.end);
  const page = JSON.parse(native.getMessageActions(channel, timetoken(p.start), end, count(p.limit)));
  const data = page.actions;
  const answer = {
    data,
    start: data.length ? data[0].actionTimetoken : null,
    end: data.length ? data[data.length - 1].actionTimetoken : null,
  };
  if (page.more) {
    answer.more = { start: data[0].actionTimetoken, limit: data.length };
    if (end !== null) answer.more.end = end;
  }
  return answer;
}

function removeMessageAction(params) {
  const p = params || {};
  const channel = channelOf('removeMessageAction', p);
  const message = requiredTimetoken('removeMessageAction', p, 'messageTimetoken');
  const action = requiredTimetoken('removeMessageAction', p, 'actionTimetoken');
  native.removeMessageAction(channel, message, action);
  return { data: {} };
}

// --- App Context: UUID and channel metadata -------------------------------
// As PubNub's SDK: answers carry `status` and `type`, and `custom` unless
// `include.customFields` is false (get and set) or unless it is true (getAll).

function idOf(method, kind, p) {
  const id = p[kind];
  if (typeof id !== 'string' || id === '') throw new TypeError(`pubnub.objects.${method}: \`${kind}\` must be a non-empty string`);
  return id;
}

function customFields(p, fallback) {
  const flag = p.include && p.include.customFields;
  return flag === undefined || flag === null ? fallback : flag === true;
}

function etagOf(p) {
  return p.ifMatchesEtag === undefined || p.ifMatchesEtag === null ? null : String(p.ifMatchesEtag);
}

function getMetadata(method, kind, params) {
  const p = params || {};
  const found = native.getMetadata(kind, idOf(method, kind, p), customFields(p, true));
  if (found === null || found === undefined) {
    const error = new Error(`pubnub.objects.${method}: Requested object was not found.`);
    error.status = { error: true, statusCode: 404 };
    throw error;
  }
  return { status: 200, data: JSON.parse(found) };
}

function setMetadata(method, kind, params) {
  const p = params || {};
  const id = idOf(method, kind, p);
  if (p.data === null || typeof p.data !== 'object' || Array.isArray(p.data)) {
    throw new TypeError(`pubnub.objects.${method}: \`data\` must be an object of the fields to set`);
  }
  const set = native.setMetadata(kind, id, JSON.stringify(p.data), etagOf(p), customFields(p, true));
  return { status: 200, data: JSON.parse(set) };
}

function removeMetadata(method, kind, params) {
  const p = params || {};
  native.removeMetadata(kind, idOf(method, kind, p), etagOf(p));
  return { status: 200, data: null };
}

// A listing's options: `filter`, `sort` ({field: 'asc' | 'desc' | null} or
// a string), `limit` (default and at most 100), `page` ({next} or {prev},
// cursors from an earlier answer), `include.totalCount`.
function listOptions(method, p) {
  if (p.filter !== undefined && p.filter !== null && typeof p.filter !== 'string') {
    throw new TypeError(`pubnub.objects.${method}: \`filter\` must be a string`);
  }
  const sort = typeof p.sort === 'string'
    ? [p.sort]
    : Object.entries(p.sort || {}).map(([field, order]) => (order === null || order === undefined ? field : `${field}:${order}`));
  const page = p.page || {};
  return {
    filter: p.filter ?? null,
    sort,
    limit: count(p.limit),
    next: page.next ?? null,
    prev: page.prev ?? null,
    totalCount: Boolean(p.include && p.include.totalCount === true),
  };
}

// A page as PubNub answers it: `{status, data, totalCount?, next?, prev?}`.
function pageAnswer(found) {
  const answer = { status: 200, data: found.data };
  for (const key of ['totalCount', 'next', 'prev']) {
    if (found[key] !== null) answer[key] = found[key];
  }
  return answer;
}

function getAllMetadata(method, params) {
  const p = params || {};
  const kind = method === 'getAllUUIDMetadata' ? 'uuid' : 'channel';
  const options = JSON.stringify(listOptions(method, p));
  return pageAnswer(JSON.parse(native.getAllMetadata(kind, options, customFields(p, false))));
}

// --- App Context: memberships (a UUID's channels) and channel members ----
// As PubNub's SDK: the membership's `custom`, `status` and `type`, and the
// other end's fields, only as `include` asks (customFields, statusField,
// typeField; channelFields, customChannelFields, channelStatusField,
// channelTypeField for memberships, UUIDFields, customUUIDFields,
// UUIDStatusField, UUIDTypeField for members; totalCount). Set and remove
// answer the listing after the change.

// kind: whose memberships (`uuid` or `channel`); list: the other ends'
// parameter; other: the other end's name in `include`.
const MEMBERSHIPS = {
  uuid: { list: 'channels', other: 'channel' },
  channel: { list: 'uuids', other: 'UUID' },
};

function membershipRequest(method, kind, p) {
  const i = p.include || {};
  const o = MEMBERSHIPS[kind].other;
  const capital = o === 'UUID' ? o : 'Channel';
  return {
    options: listOptions(method, p),
    include: {
      custom: i.customFields === true,
      status: i.statusField === true,
      type: i.typeField === true,
      other: i[`${o}Fields`] === true,
      otherCustom: i[`custom${capital}Fields`] === true,
      otherStatus: i[`${o}StatusField`] === true,
      otherType: i[`${o}TypeField`] === true,
    },
    ifMatch: etagOf(p),
  };
}

// The other ends a set or remove names: ids, or `{id, custom?, status?, type?}`.
function others(method, kind, p) {
  const name = MEMBERSHIPS[kind].list;
  const list = p[name];
  if (!Array.isArray(list)) throw new TypeError(`pubnub.objects.${method}: \`${name}\` must be an array`);
  return list.map((item) => {
    const entry = typeof item === 'string' ? { id: item } : item;
    if (entry === null || typeof entry !== 'object' || typeof entry.id !== 'string' || entry.id === '') {
      throw new TypeError(`pubnub.objects.${method}: each of \`${name}\` must be an id or an object with an \`id\``);
    }
    const fields = {};
    for (const field of ['custom', 'status', 'type']) {
      if (entry[field] !== undefined) fields[field] = entry[field];
    }
    return { id: entry.id, fields };
  });
}

function memberships(method, kind, change, params) {
  const p = params || {};
  const id = idOf(method, kind, p);
  const request = membershipRequest(method, kind, p);
  if (change === 'get') return pageAnswer(JSON.parse(native.getMemberships(kind, id, JSON.stringify(request))));
  const named = others(method, kind, p);
  if (change === 'set') {
    request.set = named;
    return pageAnswer(JSON.parse(native.setMemberships(kind, id, JSON.stringify(request))));
  }
  request.remove = named.map((m) => m.id);
  return pageAnswer(JSON.parse(native.removeMemberships(kind, id, JSON.stringify(request))));
}

const objects = {
  getUUIDMetadata: (params) => call(() => getMetadata('getUUIDMetadata', 'uuid', params)),
  setUUIDMetadata: (params) => call(() => setMetadata('setUUIDMetadata', 'uuid', params)),
  removeUUIDMetadata: (params) => call(() => removeMetadata('removeUUIDMetadata', 'uuid', params)),
  getAllUUIDMetadata: (params) => call(() => getAllMetadata('getAllUUIDMetadata', params)),
  getChannelMetadata: (params) => call(() => getMetadata('getChannelMetadata', 'channel', params)),
  setChannelMetadata: (params) => call(() => setMetadata('setChannelMetadata', 'channel', params)),
  removeChannelMetadata: (params) => call(() => removeMetadata('removeChannelMetadata', 'channel', params)),
  getAllChannelMetadata: (params) => call(() => getAllMetadata('getAllChannelMetadata', params)),
  getMemberships: (params) => call(() => memberships('getMemberships', 'uuid', 'get', params)),
  setMemberships: (params) => call(() => memberships('setMemberships', 'uuid', 'set', params)),
  removeMemberships: (params) => call(() => memberships('removeMemberships', 'uuid', 'remove', params)),
  getChannelMembers: (params) => call(() => memberships('getChannelMembers', 'channel', 'get', params)),
  setChannelMembers: (params) => call(() => memberships('setChannelMembers', 'channel', 'set', params)),
  removeChannelMembers: (params) => call(() => memberships('removeChannelMembers', 'channel', 'remove', params)),
};

// --- channel groups -------------------------------------------------------

function groupOf(method, p) {
  if (typeof p.channelGroup !== 'string' || p.channelGroup === '') {
    throw new TypeError(`pubnub.channelGroups.${method}: \`channelGroup\` must be a channel group name`);
  }
  return p.channelGroup;
}

function changeGroup(method, params) {
  const p = params || {};
  const group = groupOf(method, p);
  const channels = channelList(`channelGroups.${method}`, p.channels, true);
  if (method === 'addChannels') native.changeGroup(group, channels, []);
  else native.changeGroup(group, [], channels);
  return {};
}

const channelGroups = {
  addChannels: (params) => call(() => changeGroup('addChannels', params)),
  removeChannels: (params) => call(() => changeGroup('removeChannels', params)),
  listChannels: (params) => call(() => ({ channels: native.listChannels(groupOf('listChannels', params || {})) })),
  listGroups: () => call(() => ({ groups: native.listGroups() })),
  deleteGroup: (params) => call(() => { native.deleteGroup(groupOf('deleteGroup', params || {})); return {}; }),
};

// --- files ------------------------------------------------------------------
// A file is named by its channel, `id` and `name` (as listFiles answers).

function fileOf(method, p, idKey, nameKey) {
  const channel = channelOf(method, p);
  for (const key of [idKey, nameKey]) {
    if (typeof p[key] !== 'string' || p[key] === '') throw new TypeError(`pubnub.${method}: \`${key}\` must be a non-empty string`);
  }
  return [channel, p[idKey], p[nameKey]];
}

// listFiles: at most `limit` (default and at most 100) files, oldest first,
// after the page that answered `next`.
function listFiles(params) {
  const p = params || {};
  const found = JSON.parse(native.listFiles(channelOf('listFiles', p), count(p.limit), p.next ?? null));
  const answer = { status: 200, data: found.data, count: found.data.length };
  if (found.next !== null) answer.next = found.next;
  return answer;
}

// getFileUrl: a signed, expiring link that downloads the file without
// credentials (synchronous, as in PubNub's SDK).
function getFileUrl(params) {
  return native.fileUrl(...fileOf('getFileUrl', params || {}, 'id', 'name'));
}

function deleteFile(params) {
  if (!native.deleteFile(...fileOf('deleteFile', params || {}, 'id', 'name'))) {
    const error = new Error('pubnub.deleteFile: File Not Found');
    error.status = { error: true, statusCode: 404 };
    throw error;
  }
  return { status: 200 };
}

// publishFile: shares a stored file on its channel (`{message, file: {id,
// name}}`, a file event for subscribers), kept in history as publish is.
function publishFile(params) {
  const p = params || {};
  const file = fileOf('publishFile', p, 'fileId', 'fileName');
  const message = p.message === undefined || p.message === null ? null : JSON.stringify(p.message);
  return { timetoken: native.publishFile(...file, message, meta(p.meta), keeping('publishFile', p)) };
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
  addMessageAction: (params) => call(() => addMessageAction(params)),
  getMessageActions: (params) => call(() => getMessageActions(params)),
  removeMessageAction: (params) => call(() => removeMessageAction(params)),
  objects,
  channelGroups,
  listFiles: (params) => call(() => listFiles(params)),
  getFileUrl,
  deleteFile: (params) => call(() => deleteFile(params)),
  publishFile: (params) => call(() => publishFile(params)),
};
