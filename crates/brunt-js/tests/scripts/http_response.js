// Every field of a Response, read from the fast path (http.get(url)) and from requests with
// params, body types, cookies, redirects and failures; k6-compare runs it under k6 as well.
import http from 'k6/http';
import { check } from 'k6';

export const options = {
  iterations: 2,
  vus: 1,
  thresholds: { checks: ['rate==1'] },
};

function fields(res, url) {
  return {
    status: res.status === 200,
    status_text: res.status_text === '200 OK',
    url: res.url === url,
    proto: res.proto === 'HTTP/1.1',
    remote_ip: res.remote_ip === '127.0.0.1',
    remote_port: typeof res.remote_port === 'number' && res.remote_port > 0,
    tls_version: res.tls_version === '' || res.tls_version === undefined,
    error: res.error === '',
    error_code: res.error_code === 0,
    timings: ['blocked', 'connecting', 'tls_handshaking', 'sending', 'waiting', 'receiving', 'duration']
      .every((k) => typeof res.timings[k] === 'number' && res.timings[k] >= 0),
    duration: Math.abs(res.timings.duration - (res.timings.sending + res.timings.waiting + res.timings.receiving)) < 1e-6,
    body: typeof res.body === 'string' && res.body.length > 0,
    request_method: res.request.method === 'GET',
    request_url: res.request.url === url,
    request_headers: typeof res.request.headers === 'object',
    headers: typeof res.headers['Content-Type'] === 'string',
  };
}

function prefixed(prefix, o) {
  const out = {};
  for (const k of Object.keys(o)) out[`${prefix} ${k}`] = () => o[k];
  return out;
}

export default function () {
  const base = __ENV.BASE_URL;
  const plain = http.get(`${base}/get`);
  check(null, prefixed('plain', fields(plain, `${base}/get`)));
  const withParams = http.get(`${base}/get?a=1`, { headers: { 'X-Test': 'yes' }, tags: { kind: 'p' } });
  check(null, prefixed('params', fields(withParams, `${base}/get?a=1`)));
  check(withParams, {
    'params header sent': (r) => r.json('headers.X-Test') === 'yes' || r.json('headers.X-Test.0') === 'yes',
    'params request header': (r) => r.request.headers['X-Test'][0] === 'yes',
  });
  const viaRequest = http.request('GET', `${base}/get`);
  check(viaRequest, { 'http.request': (r) => r.status === 200 && r.request.method === 'GET' });
  const json = http.get(`${base}/json`);
  check(json, {
    'json parses': (r) => typeof r.json() === 'object',
    'json body is text': (r) => typeof r.body === 'string',
  });
  const bin = http.get(`${base}/bytes/16`, { responseType: 'binary' });
  check(bin, { 'binary body': (r) => r.body instanceof ArrayBuffer && r.body.byteLength === 16 });
  const none = http.get(`${base}/get`, { responseType: 'none' });
  check(none, { 'none body': (r) => r.body === null && r.status === 200 });
  const missing = http.get(`${base}/status/404`);
  check(missing, {
    '404 status': (r) => r.status === 404,
    '404 error_code': (r) => r.error_code === 1404,
    '404 status_text': (r) => r.status_text === '404 Not Found',
  });
  const redirected = http.get(`${base}/redirect/2`);
  check(redirected, {
    'redirect followed': (r) => r.status === 200 && r.url === `${base}/get`,
  });
  const noFollow = http.get(`${base}/redirect/1`, { redirects: 0 });
  check(noFollow, {
    'redirect kept': (r) => r.status === 302 && typeof r.headers.Location === 'string',
  });
  http.get(`${base}/cookies/set?flavor=oat`, { redirects: 0 });
  const cookies = http.get(`${base}/cookies/set?kind=rye`, { redirects: 0 });
  check(cookies, {
    'response cookies': (r) => r.cookies.kind && r.cookies.kind[0].value === 'rye',
    'jar sends cookies': () => http.get(`${base}/cookies`).json('cookies.flavor') === 'oat',
  });
  const refused = http.get('http://127.0.0.1:1/');
  check(refused, {
    'refused status': (r) => r.status === 0,
    'refused error_code': (r) => r.error_code === 1212,
    'refused error': (r) => typeof r.error === 'string' && r.error.length > 0,
    'refused body': (r) => r.body === null || r.body === undefined || r.body === '',
  });
  const assigned = http.get(`${base}/get`);
  assigned.status_text = 'mine';
  assigned.body = 'replaced';
  check(assigned, {
    'fields are writable': (r) => r.status_text === 'mine' && r.body === 'replaced',
  });
  const parsed = JSON.parse(JSON.stringify(http.get(`${base}/get`)));
  check(parsed, {
    'JSON.stringify has every field': (p) => p.status === 200 && p.url === `${base}/get` && p.status_text === '200 OK'
      && p.proto === 'HTTP/1.1' && typeof p.timings.duration === 'number' && p.timings.looking_up === 0
      && p.request.method === 'GET' && typeof p.headers['Content-Type'] === 'string' && p.body.length > 0
      && p.error === '' && p.error_code === 0 && typeof p.cookies === 'object' && p.remote_ip === '127.0.0.1',
  });
  const same = [http.get(`${base}/get`), http.get(`${base}/get`)];
  check(same, { 'repeated url': (s) => s[0].status === 200 && s[1].status === 200 && s[0] !== s[1] });
}
