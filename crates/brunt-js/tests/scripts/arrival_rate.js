// An open-model scenario that cannot keep up: one VU, slow responses, dropped iterations.
import http from 'k6/http';

export const options = {
  scenarios: {
    open: {
      executor: 'constant-arrival-rate',
      rate: 20,
      timeUnit: '1s',
      duration: '2s',
      preAllocatedVUs: 1,
      maxVUs: 1,
      gracefulStop: '1s',
    },
  },
  thresholds: { dropped_iterations: ['count>0'] },
};

export default function () {
  http.get(`${__ENV.BASE_URL}/delay/200`);
}
