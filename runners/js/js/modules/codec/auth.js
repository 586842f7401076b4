// require('codec/auth'): `basic(username, password)` -> the value of an HTTP
// Basic Authorization header, `Basic ` and the Base64 of `username:password`
// (UTF-8). PubNub's page prints `Basic: ...` with a colon, which no server
// accepts; this returns the standard form.
const base64 = require('codec/base64');

module.exports = {
  basic: (username, password) => `Basic ${base64.btoa(`${username}:${password}`)}`,
};
