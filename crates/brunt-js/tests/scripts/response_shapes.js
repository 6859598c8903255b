// A response's `timings` and fields over many iterations, read in different orders, while the
// number of VUs goes down and up (3, 1, then 4: one VU made during the run), and in setup and
// teardown: the objects' shapes that brunt keeps between iterations must not show.
// k6-compare runs it under k6 as well.
import http from 'k6/http';
import { check } from 'k6';

const ITERATIONS = 10;

export const options = {
  scenarios: {
    three: { executor: 'per-vu-iterations', vus: 3, iterations: ITERATIONS },
    one: { executor: 'per-vu-iterations', vus: 1, iterations: ITERATIONS, startTime: '1500ms' },
    four: { executor: 'per-vu-iterations', vus: 4, iterations: ITERATIONS, startTime: '3s' },
  },
  thresholds: { checks: ['rate==1'] },
};

const KEYS = ['duration', 'blocked', 'looking_up', 'connecting', 'tls_handshaking', 'sending', 'waiting', 'receiving'];

function timingsAsK6(res) {
  const t = res.timings;
  return {
    'timings keys in order': () => Object.keys(t).join() === KEYS.join(),
    'timings as JSON': () => JSON.stringify(t) === `{${KEYS.map((k) => `"${k}":${JSON.stringify(t[k])}`).join(',')}}`,
    'timings values': () => KEYS.every((k) => typeof t[k] === 'number' && t[k] >= 0) && t.looking_up === 0
      && Math.abs(t.duration - (t.sending + t.waiting + t.receiving)) < 1e-6,
    'timings a plain object': () => Object.getPrototypeOf(t) === Object.prototype && t.hasOwnProperty('waiting'),
    'timings one object': (r) => r.timings === t,
  };
}

function requests() {
  const base = __ENV.BASE_URL;
  const first = http.get(`${base}/get`);
  check(first, timingsAsK6(first));
  check(first, { 'status then body': (r) => r.status === 200 && r.body.length > 0 });
  // The fields read in another order.
  const second = http.get(`${base}/get?second=1`);
  check(second, {
    'body then timings': (r) => r.body.length > 0 && r.timings.duration >= 0 && r.url === `${base}/get?second=1`,
  });
  check(second, timingsAsK6(second));
  for (let i = 0; i < 10; i++) {
    const r = http.get(`${base}/get`);
    check(r, timingsAsK6(r));
  }
}

export function setup() {
  requests();
}

export default function () {
  requests();
}

export function teardown() {
  requests();
}
