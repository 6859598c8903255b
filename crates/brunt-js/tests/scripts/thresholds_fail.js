// A threshold that cannot pass: the run exits with 99.
import http from 'k6/http';

export const options = {
  iterations: 2,
  thresholds: { http_req_duration: ['max<0'] },
};

export default function () {
  http.get(`${__ENV.BASE_URL}/`);
}
