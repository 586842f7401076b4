// After Publish: POSTs every message, as JSON, to the URL in the setting (or
// secret) `forward_url`:
//   {"channel": ..., "timetoken": ..., "message": ..., "meta": ..., "publisher": ...}
// A failure (transport error or non-2xx answer) is thrown, and lands in the
// function's log; the message itself was already delivered.
//
//   edgefn deploy examples/js/forward.js --name forward --after-publish 'chat.*' \
//       --allow-outbound http://127.0.0.1:9000 --set forward_url=http://127.0.0.1:9000/hook
const xhr = require('xhr');
const vault = require('vault');

export default async (request) => {
  const url = await vault.get('forward_url');
  const meta = request.params.meta === undefined ? null : JSON.parse(request.params.meta);
  const answer = await xhr.fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      channel: request.channels[0],
      timetoken: request.timetoken,
      message: request.message,
      meta,
      publisher: request.params.uuid === undefined ? null : request.params.uuid,
    }),
  });
  if (!answer.ok) {
    throw new Error(`${url} answered ${answer.status}: ${answer.body.slice(0, 200)}`);
  }
  console.log(`forwarded ${request.timetoken} to ${url}`);
  return request.ok();
};
