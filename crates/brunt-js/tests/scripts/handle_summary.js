// handleSummary gets k6's data object; its returned map writes files (and stdout).
import http from 'k6/http';
import { check } from 'k6';
import { textSummary, jUnit } from 'https://jslib.k6.io/k6-summary/0.0.2/index.js';

export const options = { iterations: 2, thresholds: { http_reqs: ['count==2'] } };

export default function () {
  check(http.get(`${__ENV.BASE_URL}/`), { ok: (r) => r.status === 200 });
}

export function handleSummary(data) {
  const out = {};
  out[__ENV.SUMMARY_JSON] = JSON.stringify({
    reqs: data.metrics.http_reqs.values.count,
    passes: data.root_group.checks[0] ? data.root_group.checks[0].passes : -1,
    threshold_ok: data.metrics.http_reqs.thresholds['count==2'].ok,
    text: textSummary(data, { indent: ' ', enableColors: false }).includes('http_reqs'),
    junit: jUnit(data).includes('testcase'),
  });
  return out;
}
