// batchPerHost: at most 2 of the batch's 6 requests to one host run at once, so the batch opens
// 2 connections and the other 4 requests reuse them (a reused connection has connecting == 0).
import http from 'k6/http';
import { check } from 'k6';

export const options = {
  iterations: 1,
  vus: 1,
  batchPerHost: 2,
  thresholds: { checks: ['rate==1'] },
};

export default function () {
  const base = __ENV.BASE_URL;
  const reqs = [];
  for (let i = 0; i < 6; i++) reqs.push(['GET', `${base}/delay/50?i=${i}`]);
  const res = http.batch(reqs);
  check(res, {
    'all answered in order': (r) => r.length === 6 && r.every((x, i) => x.status === 200 && x.url === `${base}/delay/50?i=${i}`),
    'two connections': (r) => r.filter((x) => x.timings.connecting > 0).length === 2,
  });
  const named = http.batch({ a: `${base}/get`, b: `${base}/json` });
  check(named, { 'named batch': (r) => r.a.status === 200 && r.b.status === 200 && typeof r.b.json() === 'object' });
}
