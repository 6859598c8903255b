// setup() data reaches every iteration and teardown() as a JSON copy.
import http from 'k6/http';
import { check } from 'k6';
import { Counter } from 'k6/metrics';

const seen = new Counter('setup_data_seen');

export const options = { iterations: 5, vus: 2, thresholds: { setup_data_seen: ['count==5'] } };

export function setup() {
  const res = http.post(`${__ENV.BASE_URL}/api/orders`, JSON.stringify({ item: 'book' }), {
    headers: { 'Content-Type': 'application/json' },
  });
  return { id: res.json('id'), list: [1, 2, 3] };
}

export default function (data) {
  if (data.id && data.id.startsWith("ord-") && data.list[0] === 1) seen.add(1);
  data.list.push(4); // this VU's own copy (parsed once per VU, as in k6); teardown never sees it
}

export function teardown(data) {
  const res = http.get(`${__ENV.BASE_URL}/api/orders/${data.id}`);
  if (!check(res, { 'order exists': (r) => r.status === 200 })) throw new Error('order lost');
  if (data.list.length !== 3) throw new Error('teardown got a modified copy');
}
