// For QuickJS's own `qjs` shell, not brunt: the order script's JavaScript (bench/order_create.js)
// with brunt's natives replaced by plain functions, N iterations, to compare QuickJS versions by
// instructions (docs/benchmarks.md, session 13). usage: qjs bench/qjs_order.js N [all|nojson]
const N = Number(scriptArgs[1] || 0);
const MODE = scriptArgs[2] || 'all';
const order = { customer: 'c-42', items: [{ sku: 'book-1', qty: 2 }, { sku: 'pen-7', qty: 5 }], note: 'bench' };
class Metric { constructor(n) { this.name = n; this.n = 0; } add(v) { this.n += v ? 1 : 0; return true; } }
const created = new Metric('orders_created');
const createTime = new Metric('order_create_time');
const BASE_URL = 'http://127.0.0.1:18080';
const resProto = { json(s) { return this.parsed[s]; } };
function post(url, body, params) {
  const r = Object.create(resProto);
  r.status = params.headers.Accept ? 201 : 0;
  r.body = '{"id":"ord-1","status":"created"}';
  r.parsed = { id: 'ord-1' };
  r.timings = { duration: 1.5, blocked: 0, looking_up: 0, connecting: 0, tls_handshaking: 0, sending: 0.1, waiting: 1.2, receiving: 0.2 };
  return r;
}
function check(v, sets) { let all = true; for (const k in sets) { all = !!sets[k](v) && all; } return all; }
function iteration() {
  const res = post(`${BASE_URL}/api/v1/orders`, MODE === 'nojson' ? '' : JSON.stringify(order), {
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
for (let i = 0; i < N; i++) iteration();
