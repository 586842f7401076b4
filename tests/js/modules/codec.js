// require('codec/base64'), 'codec/auth' and 'codec/query_string'.
const base64 = require('codec/base64');
const auth = require('codec/auth');
const qs = require('codec/query_string');

export default (request, response) => {
  const utf8 = 'héllo wörld ✓ 🚀';
  let badBase64;
  try {
    base64.atob('%%%');
    badBase64 = 'decoded';
  } catch (e) {
    badBase64 = e.name;
  }
  const result = {
    btoa: [base64.btoa('hello'), base64.btoa(utf8), base64.btoa('')],
    atob: [base64.atob('aGVsbG8='), base64.atob(base64.btoa(utf8)), base64.atob('aGVsbG8'), base64.atob('_-8'), base64.atob('/w==')],
    badBase64,
    encodeString: [base64.encodeString('a+b/c=='), base64.encodeString('+')],
    basic: [auth.basic('many', 'blocks'), auth.basic('üser', 'pä:ss')],
    parse: [
      qs.parse('a=5&b=10', { c: 15 }),
      qs.parse('?x=1&x=2&y=h%C3%A9llo+w%20rld&flag&a=5', { a: 'default', z: 'z' }),
      qs.parse('', { page: '1' }),
      qs.parse({ page: '3' }, { page: '1', limit: '20' }),
    ],
    stringify: [
      qs.stringify({ page: 2, pageSize: 50, includeMetadata: true }),
      qs.stringify({ q: 'héllo wörld&more', tags: ['a', 'b'], empty: null }),
    ],
    roundTrip: qs.parse(qs.stringify({ 'a b': 'c&d=e', u: '✓' })),
    requestQuery: request.query,
  };
  return response.send(JSON.stringify(result), 200);
};
