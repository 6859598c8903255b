// Requests the k6/http module sends without its JavaScript layer (a string URL, a string body or
// none, params with only headers and tags) come from the VU's request cache when repeated: each
// must go out as written, a change to any part must send the changed request, and the samples
// carry each request's own tags. Also res.json(selector) read from the body's bytes, and the
// Response fields built natively.
import http from 'k6/http';
import { check } from 'k6';
import { Rate, Trend } from 'k6/metrics';

const okRate = new Rate('native_ok');
const took = new Trend('native_took', true);

export const options = {
  iterations: 1,
  vus: 1,
  thresholds: {
    checks: ['rate==1'],
    'http_reqs{kind:a}': ['count==3'],
    'http_reqs{kind:b}': ['count==2'],
    'http_reqs{name:renamed}': ['count==1'],
    'native_ok{kind:x}': ['rate==1'],
    native_took: ['max>=0'],
  },
};

export default function () {
  const url = `${__ENV.BASE_URL}/anything`;
  const sent = [];
  // [body, header value, tag]: repeats, then one part changed at a time.
  const plan = [['{"n":1}', 'x', 'a'], ['{"n":1}', 'x', 'a'], ['{"n":2}', 'x', 'a'], ['{"n":2}', 'y', 'b'], ['{"n":2}', 'y', 'b']];
  for (const [body, value, kind] of plan) {
    const r = http.post(url, body, { headers: { 'Content-Type': 'application/json', 'X-Value': value }, tags: { kind } });
    sent.push([r.json('data'), r.json('headers.X-Value'), r.json('method')]);
  }
  check(sent, {
    'each request goes out as described': (s) => JSON.stringify(s) === JSON.stringify(plan.map(([b, v]) => [b, v, 'POST'])),
  });
  // Header values are turned to strings; a URL without params and one with an empty params
  // object are the same request; request() sends its method as written.
  const n = http.request('PUT', url, 'x', { headers: { 'X-Num': 7 } });
  const plain = http.get(url);
  const empty = http.get(url, {});
  const named = http.get(url, { tags: { name: 'renamed' } });
  check(n, {
    'values become strings': (r) => r.json('headers.X-Num') === '7' && r.json('method') === 'PUT' && r.json('data') === 'x',
    'plain and empty params agree': () => plain.json('url') === empty.json('url') && empty.status === 200,
    'tags name the request': () => named.status === 200,
  });
  // Params the native path does not read still work (the JavaScript layer reads them).
  const viaLayer = http.get(url, { headers: { 'X-Value': 'layer' }, timeout: '10s', responseType: 'text' });
  check(viaLayer, { 'other params go through the layer': (r) => r.json('headers.X-Value') === 'layer' });

  const doc = http.post(url, '{"items":[{"id":"a"},{"id":"b","n":null}],"k":1.5,"k":2,"s":"t\\"q"}');
  check(doc, {
    'json selectors': (r) => r.json('json.items.1.id') === 'b' && r.json('json.items.#') === 2
      && r.json('json.k') === 2 && r.json('json.s') === 't"q' && r.json('json.items.0').id === 'a',
    'json through null and missing keys': (r) => r.json('json.items.1.n.x') === undefined
      && r.json('json.nope') === undefined && r.json('json.items.5') === undefined,
    'json after the body is replaced': (r) => { r.body = '{"json":{"k":"mine"}}'; return r.json('json.k') === 'mine'; },
    'timings in k6\'s order': (r) => Object.keys(r.timings).join() === 'duration,blocked,looking_up,connecting,tls_handshaking,sending,waiting,receiving'
      && r.timings.looking_up === 0 && r.timings.duration >= 0 && r.status === 200,
  });
  const page = http.get(`${__ENV.BASE_URL}/html`);
  check(page, {
    'a json selector finds nothing in a body that is not JSON': (r) => r.json('title') === undefined,
  });
  okRate.add(true, { kind: 'x' });
  took.add(doc.timings.duration);
  check(okRate, { 'add is a method of the metric': (m) => m.add(1) === true && typeof m.add.call === 'function' });
}
