// Nested groups: checks and requests carry the group path.
import http from 'k6/http';
import { check, group } from 'k6';

export const options = {
  iterations: 3,
  vus: 1,
  thresholds: {
    'checks{group:::outer::inner}': ['rate==1'],
    'http_reqs{group:::outer}': ['count==3'],
  },
};

export default function () {
  group('outer', () => {
    http.get(`${__ENV.BASE_URL}/json`);
    group('inner', () => {
      check(1, { 'one is one': (v) => v === 1 });
    });
  });
}
