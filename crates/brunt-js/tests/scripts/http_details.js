// k6/http's details that scripts rely on: object bodies encoded as k6 encodes them (Go's
// fmt.Sprint of each value, an array's elements as repeated keys), a method sent as written, and
// a URL that cannot be used giving a response with k6's error code instead of an exception, and
// `res.ocsp`.
import http from 'k6/http';
import { check } from 'k6';

export const options = {
  iterations: 1,
  thresholds: { checks: ['rate==1'] },
};

export default function () {
  const form = http.post(`${__ENV.BASE_URL}/post`, {
    t: ['a', 'b'], n: null, u: undefined, o: { y: 'q', x: 1 }, num: 3, b: true, e: [], s: 'x y',
    f: 1234567.5, small: 0.00001, big: 1e21, neg: -0, nested: [1, [2, 3]],
  });
  check(form, {
    'an object body is encoded as k6 encodes it': (r) => r.request.body === 'b=true&big=1e%2B21&f=1.2345675e%2B06&n=%3Cnil%3E&neg=-0&nested=1&nested=%5B2+3%5D&num=3&o=map%5Bx%3A1+y%3Aq%5D&s=x+y&small=1e-05&t=a&t=b&u=%3Cnil%3E',
    'the server reads repeated keys': (r) => JSON.stringify(r.json('form.t')) === '["a","b"]',
  });

  const multipart = http.post(`${__ENV.BASE_URL}/post`, {
    file: http.file('abc', 'a.txt'), t: ['x', 'y'], z: null, o: { k: 1 }, n: 3.5e7,
  });
  check(multipart, {
    'multipart values are printed as k6 prints them': (r) => r.json('form.t') === '[x y]'
      && r.json('form.z') === '<nil>' && r.json('form.o') === 'map[k:1]' && r.json('form.n') === '35000000',
  });

  const lower = http.request('get', `${__ENV.BASE_URL}/anything`);
  check(lower, {
    'a lower-case method is sent as written': (r) => r.json('method') === 'get',
    'res.ocsp has k6\'s fields': (r) => JSON.stringify(r.ocsp)
      === '{"produced_at":0,"this_update":0,"next_update":0,"revoked_at":0,"revocation_reason":"","status":""}',
  });

  const relative = http.get('not a url');
  check(relative, {
    'a URL without a scheme gives error 1000': (r) => r.status === 0 && r.error_code === 1000
      && r.error === 'unsupported protocol scheme ""' && r.url === 'not a url',
  });
  const ftp = http.get('ftp://example.invalid/');
  check(ftp, { 'an unsupported scheme gives error 1000': (r) => r.error_code === 1000 && r.url === 'ftp://example.invalid/' });
  const broken = http.get('http://[::1');
  check(broken, {
    'a URL that does not parse gives error 1020': (r) => r.status === 0 && r.error_code === 1020
      && r.url === '' && r.error.startsWith('invalid URL: parse "http://[::1": '),
  });
}
