// require('pubnub'): the bus (publish, fire, signal; each message goes
// through its channel's before-publish functions, and chains stop at 3 hops)
// and access tokens (grantToken needs `--allow-token-grant`), in the shapes
// of PubNub's Functions module.
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

module.exports = {
  publish: (params) => call(() => send('publish', params)),
  fire: (params) => call(() => send('fire', params)),
  signal: (params) => call(() => send('signal', params)),
  grantToken: (params) => call(() => grantToken(params)),
  parseToken: (token) => parseToken(token),
  revokeToken: (token) => call(() => { native.revokeToken(String(token)); return {}; }),
};
