// The k6/http module object itself: its exports, Response methods, cookie jars chosen per
// request, and a response callback that also governs plain `http.get(url)` calls.
import http, { get, CookieJar } from 'k6/http';
import * as ns from 'k6/http';
import { check } from 'k6';

export const options = {
  iterations: 1,
  vus: 1,
  thresholds: {
    checks: ['rate==1'],
    // 404s count as expected once the callback says so, plain gets included.
    http_req_failed: ['rate==0'],
  },
};

export default function () {
  const base = __ENV.BASE_URL;
  const exports = ['get', 'head', 'post', 'put', 'patch', 'del', 'options', 'request', 'asyncRequest',
    'batch', 'file', 'url', 'expectedStatuses', 'setResponseCallback', 'cookieJar', 'CookieJar'];
  check(null, {
    'exports are functions': () => exports.every((k) => typeof http[k] === 'function' && ns[k] === http[k]),
    'named imports are the default export\'s': () => get === http.get && CookieJar === http.CookieJar,
    'constants': () => http.TLS_1_3 === 'tls1.3' && http.OCSP_REASON_AA_COMPROMISE === 'aa_compromise',
    'the default export has k6\'s keys': () => Object.keys(http).length === 34 && http.Response === undefined,
  });

  http.setResponseCallback(http.expectedStatuses(200, { min: 404, max: 404 }));
  const plain = http.get(`${base}/status/404`);
  const viaRequest = http.request('GET', `${base}/status/404`);
  const ok = http.get(`${base}/get`);
  check(ok, {
    'json is a method': (r) => typeof r.json === 'function' && r.json('url') === `${base}/get`,
    'fields are own properties once read': (r) => r.url === `${base}/get` && Object.keys(r).includes('url'),
    'fields can be replaced': (r) => { r.body = 'mine'; return r.body === 'mine'; },
    'JSON.stringify gives the fields': (r) => {
      const o = JSON.parse(JSON.stringify(r));
      return o.status === 200 && o.url === `${base}/get` && typeof o.timings.duration === 'number';
    },
  });
  check(plain, { 'plain 404 answered': (r) => r.status === 404 && viaRequest.status === 404 });

  const jar = new http.CookieJar();
  jar.set(`${base}/cookies`, 'own', 'jar');
  check(jar, {
    'cookiesForURL': (j) => j.cookiesForURL(`${base}/cookies`).own[0] === 'jar',
  });
  const withJar = http.get(`${base}/cookies`, { jar });
  check(withJar, { 'params.jar is used': (r) => r.json('cookies.own') === 'jar' });
  const vuJar = http.cookieJar();
  check(vuJar, { 'the VU jar is apart': (j) => j.cookiesForURL(`${base}/cookies`).own === undefined });
  vuJar.set(`${base}/cookies`, 'vu', 'yes');
  check(http.get(`${base}/cookies`), {
    'the VU jar goes with plain gets': (r) => r.json('cookies.vu') === 'yes' && r.json('cookies.own') === undefined,
  });
  vuJar.delete(`${base}/cookies`, 'vu');
  check(http.get(`${base}/cookies`), { 'delete': (r) => r.json('cookies.vu') === undefined });
}
