// options.systemTags: only `status` and `check` are attached. A threshold on a sub-metric of a
// tag left out (`method`, `scenario`) sees no samples; one on `status` sees them all; checks keep
// their names but, without the `group` tag, no group.
import http from 'k6/http';
import { check, group } from 'k6';

export const options = {
  iterations: 2,
  systemTags: ['status', 'check'],
  thresholds: {
    'http_reqs{status:200}': ['count==4'],
    'http_reqs{status:404}': ['count==2'],
    'http_reqs{method:GET}': ['count==0'],
    'iterations{scenario:default}': ['count==0'],
    'checks{check:is 200}': ['rate==0.5'],
  },
};

export default function () {
  group('api', () => {
    const r = http.get(`${__ENV.BASE_URL}/get`);
    check(r, { 'is 200': (res) => res.status === 200 });
  });
  const r = http.get(`${__ENV.BASE_URL}/status/404`);
  check(r, { 'is 200': (res) => res.status === 200 });
  http.get(`${__ENV.BASE_URL}/get`, { tags: { name: 'named' } });
}
