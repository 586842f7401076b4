// After Publish and On Request in one module: counts the messages published
// on the channels it is bound to, per channel, with kvstore counters, and
// answers GET /v1/fn/NAME/{channel} with {"channel": ..., "count": N}.
//
//   edgefn deploy examples/js/counter.js --name js-counter --after-publish 'chat.*' --endpoint
const db = require('kvstore');

const CHANNEL = /^\/([A-Za-z0-9_.:=@-]+)$/;

export default async (request, response) => {
  if (response === undefined) {
    // After Publish: the request is the published message.
    await db.incrCounter(`count:${request.channels[0]}`);
    return request.ok();
  }
  if (request.method !== 'GET') {
    response.headers['allow'] = 'GET';
    return response.send({ error: `${request.method} is not allowed: use GET` }, 405);
  }
  const match = CHANNEL.exec(request.path);
  if (match === null) {
    return response.send({ error: 'use GET /{channel}, e.g. GET /chat.lobby' }, 404);
  }
  const count = await db.getCounter(`count:${match[1]}`);
  return response.send({ channel: match[1], count }, 200);
};
