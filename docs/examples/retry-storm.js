// A retry storm: 100 logical requests a second, each retried by the policy below when it fails
// (no response, or 5xx). BUDGET=0.1 caps the retries at 10% of the first attempts over 10 s.
// k6 ignores the `retry` param and sends each request once.
import http from 'k6/http';

const retry = __ENV.BUDGET
  ? { policy: 'exponential', base: '50ms', max: 4, jitter: true, budget: Number(__ENV.BUDGET) }
  : { policy: 'immediate', max: 4 };

export const options = {
  scenarios: {
    storm: {
      executor: 'constant-arrival-rate',
      rate: 100,
      timeUnit: '1s',
      duration: '20s',
      preAllocatedVUs: 50,
      maxVUs: 200,
    },
  },
};

export default function () {
  http.get(`${__ENV.BASE_URL}/json`, { retry });
}
