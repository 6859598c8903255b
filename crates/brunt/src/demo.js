// brunt demo: a small k6 script run against the built-in target (BASE_URL is set by `brunt demo`).
import http from 'k6/http';
import { check, group, sleep } from 'k6';

export const options = {
  scenarios: {
    shoppers: { executor: 'constant-vus', vus: 10, duration: '5s' },
    spike: { executor: 'constant-arrival-rate', rate: 200, timeUnit: '1s', duration: '3s', startTime: '1s', preAllocatedVUs: 20, maxVUs: 100, exec: 'browse' },
  },
  thresholds: {
    http_req_failed: ['rate<0.01'],
    'http_req_duration{name:create order}': ['p(95)<200'],
    checks: ['rate>0.99'],
  },
};

const BASE = __ENV.BASE_URL;

export default function () {
  group('order', () => {
    const created = http.post(`${BASE}/api/orders`, JSON.stringify({ item: 'book', qty: 1 }), {
      headers: { 'Content-Type': 'application/json' },
      tags: { name: 'create order' },
    });
    check(created, { 'order created': (r) => r.status === 201 });
    const id = created.json('id');
    const fetched = http.get(`${BASE}/api/orders/${id}`, { tags: { name: 'get order' } });
    check(fetched, { 'order found': (r) => r.status === 200 && r.json('id') === id });
  });
  sleep(0.1);
}

export function browse() {
  check(http.get(`${BASE}/json`, { tags: { name: 'catalog' } }), { 'catalog ok': (r) => r.status === 200 });
}
