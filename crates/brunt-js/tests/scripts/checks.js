// 10 iterations; each passes one check and fails another.
import http from 'k6/http';
import { check } from 'k6';

export const options = {
  iterations: 10,
  vus: 2,
  thresholds: { checks: ['rate>0.4', 'rate<0.6'] },
};

export default function () {
  const res = http.get(`${__ENV.BASE_URL}/`);
  check(res, {
    'status is 200': (r) => r.status === 200,
    'body is empty': (r) => r.body.length === 0,
  });
}
