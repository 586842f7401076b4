// require('codec/query_string'): `parse(queryString, defaults)` -> an object
// of the query's parameters (percent-decoded, `+` as a space; a leading `?`
// is ignored; a name given more than once gives an array of its values, as
// Node's querystring does), with `defaults` filled in for missing names; an
// object (such as `request.query`) is taken as already parsed.
// `stringify(params)` -> `name=value&...` percent-encoded (arrays repeat the
// name; null and undefined give `name=`). Values stay strings: PubNub's page
// shows `parse('a=5&b=10', {c: 15})` as numbers, which is only how it prints.
function decode(text) {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch (_) {
    return text;
  }
}

function parse(queryString, defaults) {
  const params = {};
  if (queryString !== null && typeof queryString === 'object') {
    Object.assign(params, queryString);
  } else if (queryString !== undefined && queryString !== null) {
    const text = String(queryString).replace(/^\?/, '');
    for (const pair of text.split('&')) {
      if (pair === '') continue;
      const at = pair.indexOf('=');
      const name = decode(at < 0 ? pair : pair.slice(0, at));
      const value = at < 0 ? '' : decode(pair.slice(at + 1));
      if (!Object.prototype.hasOwnProperty.call(params, name)) params[name] = value;
      else if (Array.isArray(params[name])) params[name].push(value);
      else params[name] = [params[name], value];
    }
  }
  for (const [name, value] of Object.entries(defaults || {})) {
    if (!Object.prototype.hasOwnProperty.call(params, name)) params[name] = value;
  }
  return params;
}

function value(v) {
  if (v === undefined || v === null) return '';
  if (typeof v === 'object') return encodeURIComponent(JSON.stringify(v));
  return encodeURIComponent(String(v));
}

function stringify(params) {
  const parts = [];
  for (const [name, v] of Object.entries(params || {})) {
    const key = encodeURIComponent(name);
    if (Array.isArray(v)) for (const item of v) parts.push(`${key}=${value(item)}`);
    else parts.push(`${key}=${value(v)}`);
  }
  return parts.join('&');
}

module.exports = { parse, stringify };
