// A small k6 script for `brunt run` (and `k6 run`) against `brunt target`:
// create an order, read it back, check both, with pass/fail thresholds.
import http from 'k6/http';
import { check, sleep } from 'k6';

const BASE_URL = __ENV.BASE_URL || 'http://127.0.0.1:8080';
const order = JSON.parse(open('./order.json'));

export const options = {
  vus: 5,
  duration: '10s',
  thresholds: {
    http_req_failed: ['rate<0.01'],
    'http_req_duration{name:create}': ['p(95)<500'],
    checks: ['rate>0.99'],
  },
};

export default function () {
  const created = http.post(`${BASE_URL}/api/orders`, JSON.stringify(order), {
    headers: { 'Content-Type': 'application/json' },
    tags: { name: 'create' },
  });
  check(created, { 'created: 201': (r) => r.status === 201 });

  const id = created.json('id');
  const read = http.get(`${BASE_URL}/api/orders/${id}`, { tags: { name: 'read' } });
  check(read, { 'read: same order': (r) => r.json('id') === id });
  sleep(0.1);
}
