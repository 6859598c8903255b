// batch: at most 3 of a batch's requests run at once (whatever their hosts), so the batch of 6
// opens 3 connections and the other 3 requests reuse them; the default batchPerHost (6) allows more.
import http from 'k6/http';
import { check } from 'k6';

export const options = {
  iterations: 1,
  vus: 1,
  batch: 3,
  thresholds: { checks: ['rate==1'] },
};

export default function () {
  const base = __ENV.BASE_URL;
  const reqs = [];
  for (let i = 0; i < 6; i++) reqs.push(`${base}/delay/50?i=${i}`);
  const res = http.batch(reqs);
  check(res, {
    'all answered': (r) => r.length === 6 && r.every((x) => x.status === 200),
    'three connections': (r) => r.filter((x) => x.timings.connecting > 0).length === 3,
  });
}
