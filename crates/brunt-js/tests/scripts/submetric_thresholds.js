// Sub-metric thresholds on tags: status, name (http.url and the name tag), custom tags.
import http from 'k6/http';

export const options = {
  iterations: 4,
  vus: 1,
  thresholds: {
    'http_reqs{status:200}': ['count==8'],
    'http_reqs{status:404}': ['count==4'],
    'http_reqs{name:order}': ['count==4'],
    'http_req_duration{kind:api}': ['max>=0'],
    http_req_failed: ['rate>0.3', 'rate<0.4'],
  },
};

export default function () {
  const base = __ENV.BASE_URL;
  http.get(`${base}/status/200`, { tags: { kind: 'api' } });
  http.get(`${base}/status/404`);
  http.get(http.url`${base}/anything/${Math.random()}`, { tags: { name: 'order' } });
}
