// The seed's order-creation flow, as issue 16 describes it, for bench/cpu_per_request.sh: a POST
// with a JSON body and headers, three checks (one reads r.json('id')), a Rate and a Trend, and no
// sleep, so the figure is the generator's cost per request. BASE_URL: the reference nginx.
import http from 'k6/http';
import { check } from 'k6';
import { Rate, Trend } from 'k6/metrics';

const created = new Rate('orders_created');
const createTime = new Trend('order_create_time', true);
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
