// k6/encoding, k6/crypto, k6/execution, __VU/__ITER, timers, custom metrics, cookies, batch, file uploads.
import http from 'k6/http';
import { check, sleep } from 'k6';
import encoding from 'k6/encoding';
import crypto from 'k6/crypto';
import exec from 'k6/execution';
import { Counter, Gauge, Rate, Trend } from 'k6/metrics';

const c = new Counter('my_counter');
const g = new Gauge('my_gauge');
const r = new Rate('my_rate');
const t = new Trend('my_trend', true);

export const options = {
  iterations: 2,
  vus: 1,
  thresholds: {
    checks: ['rate==1'],
    my_counter: ['count==4'],
    my_gauge: ['value==7'],
    my_rate: ['rate==0.5'],
    'my_trend{kind:x}': ['avg==20'],
  },
};

export default function () {
  const base = __ENV.BASE_URL;
  c.add(2);
  g.add(7);
  r.add(true);
  r.add(0);
  t.add(20, { kind: 'x' });
  // As in k6, timers run once the function has returned, before the iteration ends.
  setTimeout((v) => check(v, { 'setTimeout fired': (x) => x === 42 }), 10, 42);
  sleep(0.01);
  const batch = http.batch([
    ['GET', `${base}/get`],
    { method: 'POST', url: `${base}/anything`, body: { a: '1', b: 'x y' } },
  ]);
  const upload = http.post(`${base}/anything`, { f: http.file('hello', 'h.txt', 'text/plain') });
  http.get(`${base}/cookies/set?flavor=oat`);
  const cookies = http.get(`${base}/cookies`);
  check(null, {
    b64: () => encoding.b64encode('hello') === 'aGVsbG8=' && encoding.b64decode('aGVsbG8=', 'std', 's') === 'hello',
    b64url: () => encoding.b64encode('??>', 'rawurl') === 'Pz8-',
    md5: () => crypto.md5('abc', 'hex') === '900150983cd24fb0d6963f7d28e17f72',
    sha256: () => crypto.sha256('abc', 'hex') === 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    hmac: () => crypto.hmac('sha256', 'key', 'The quick brown fox jumps over the lazy dog', 'hex') ===
      'f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8',
    createHash: () => {
      const h = crypto.createHash('sha1');
      h.update('a');
      h.update('bc');
      return h.digest('hex') === 'a9993e364706816aba3e25717850c26c9cd0d89d';
    },
    randomBytes: () => crypto.randomBytes(8).byteLength === 8,
    vu: () => exec.vu.idInTest === __VU && __VU >= 1,
    iter: () => exec.vu.iterationInScenario === __ITER,
    scenario: () => exec.scenario.name === 'default' && exec.scenario.executor === 'shared-iterations',
    options: () => exec.test.options.thresholds.checks[0] === 'rate==1',
    batch: () => batch.length === 2 && batch[0].status === 200 && batch[1].json('form.b') === 'x y',
    upload: () => upload.status === 200 && upload.json('files.f') === 'hello',
    cookies: () => cookies.json('cookies.flavor') === 'oat',
    timings: () => batch[0].timings.duration >= 0 && batch[0].timings.waiting >= 0,
    headers: () => batch[0].headers['Content-Type'].startsWith('application/json'),
  });
}
