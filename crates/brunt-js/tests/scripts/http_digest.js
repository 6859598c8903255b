// `auth: 'digest'`: the credentials in the URL answer the server's RFC 7616 challenge (k6 counts
// the challenge as a request whose 401 was expected), and leave the response's URL.
import http from 'k6/http';
import { check } from 'k6';

export const options = {
  iterations: 1,
  thresholds: {
    checks: ['rate==1'],
    'http_reqs{status:401}': ['count==3'],
    'http_req_failed': ['rate>0.2', 'rate<0.3'],
  },
};

export default function () {
  const base = __ENV.BASE_URL.replace('http://', '');
  const ok = http.get(`http://bob:s3cret@${base}/digest-auth/auth/bob/s3cret`, { auth: 'digest' });
  check(ok, {
    'the right credentials pass the challenge': (r) => r.status === 200 && r.json('authenticated') === true
      && r.json('user') === 'bob',
    'the credentials leave the URL': (r) => r.url === `${__ENV.BASE_URL}/digest-auth/auth/bob/s3cret`,
  });
  const wrong = http.get(`http://bob:guess@${base}/digest-auth/auth/bob/s3cret`, { auth: 'digest' });
  check(wrong, { 'wrong credentials get the 401': (r) => r.status === 401 });
}
