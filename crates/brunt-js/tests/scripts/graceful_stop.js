// Iterations still sleeping when gracefulStop ends are interrupted (not counted), as in k6.
import http from 'k6/http';
import { sleep } from 'k6';

export const options = {
  scenarios: {
    short: { executor: 'constant-vus', vus: 2, duration: '1s', gracefulStop: '0s' },
  },
};

export default function () {
  http.get(`${__ENV.BASE_URL}/`);
  sleep(5);
}
