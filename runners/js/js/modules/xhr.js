// require('xhr'): outbound HTTP, to the hosts on the function's allow-list
// and within its per-invocation budget. `fetch(url, {method, headers, body,
// timeout})` resolves to `{status, ok, headers, body, json(), text()}`.
function fetch(url, options) {
  return new Promise((resolve) => {
    const o = options || {};
    const headers = Object.entries(o.headers || {}).map(([name, value]) => [name, String(value)]);
    let body = o.body;
    if (body !== undefined && body !== null && typeof body !== 'string') {
      body = JSON.stringify(body);
      if (!headers.some(([name]) => name.toLowerCase() === 'content-type')) headers.push(['content-type', 'application/json']);
    }
    const timeout = o.timeout === undefined ? null : Number(o.timeout);
    const answer = native.fetch(String(o.method || 'GET').toUpperCase(), String(url), headers, body === undefined ? null : body, timeout);
    const responseHeaders = {};
    for (const [name, value] of answer.headers) {
      const k = name.toLowerCase();
      responseHeaders[k] = k in responseHeaders ? `${responseHeaders[k]}, ${value}` : value;
    }
    resolve({
      status: answer.status,
      ok: answer.status >= 200 && answer.status < 300,
      headers: responseHeaders,
      body: answer.body,
      json() { return Promise.resolve(JSON.parse(answer.body)); },
      text() { return Promise.resolve(answer.body); },
    });
  });
}

module.exports = { fetch };
