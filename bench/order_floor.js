// The floor under bench/order_create.js (issue 16): the same JavaScript, with `http.post`, `check`
// and the metrics replaced by plain-JS stubs that do no I/O and record nothing, so a run measures
// what the JavaScript engine alone spends on the script's own work each iteration (the params,
// headers and check literals, three closures and their calls, JSON in and out, a fresh response
// object). bench/cpu_per_request.sh runs it as `orderjs` (brunt) and `k6orderjs` (k6) and reports
// CPU per iteration; the order script can cost no less than this plus a plain request (`quick`).
const BODY = '{"id":"o-1","status":"created","customer":"c-42"}';
function json(path) { return JSON.parse(this.body)[path]; }
const http = {
  post(url, body, params) {
    return {
      status: 201, body: BODY, json,
      timings: { blocked: 0, connecting: 0, tls_handshaking: 0, sending: 0, waiting: 1, receiving: 0, duration: 1 },
    };
  },
};
function check(value, sets) {
  let ok = true;
  for (const name in sets) if (!sets[name](value)) ok = false;
  return ok;
}
const created = { add(value) {} };
const createTime = { add(value) {} };
const BASE_URL = __ENV.BASE_URL || 'http://127.0.0.1:18080';
const order = { customer: 'c-42', items: [{ sku: 'book-1', qty: 2 }, { sku: 'pen-7', qty: 5 }], note: 'bench' };

export default function () {
  const res = http.post(`${BASE_URL}/api/v1/orders`, JSON.stringify(order), {
    headers: { 'Content-Type': 'application/json', Accept: 'application/json', 'X-Request-Source': 'bench' },
    tags: { name: 'create order' },
  });
  const ok = check(res, {
    'status is 201': (r) => r.status === 201,
    'has an id': (r) => r.json('id') !== undefined,
    'is created': (r) => r.body.includes('created'),
  });
  created.add(ok);
  createTime.add(res.timings.duration);
}
