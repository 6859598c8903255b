// http.asyncRequest: outstanding requests of one VU progress together (three at once open three
// connections; one after the other would reuse one), promises resolve to Responses, requests
// left un-awaited still finish before the iteration ends, and sleep() lets them progress.
import http from 'k6/http';
import { check, sleep } from 'k6';

export const options = {
  iterations: 1,
  vus: 1,
  thresholds: { checks: ['rate==1'], http_reqs: ['count==9'] },
};

export default async function () {
  const base = __ENV.BASE_URL;
  const all = await Promise.all([
    http.asyncRequest('GET', `${base}/delay/200?i=0`),
    http.asyncRequest('GET', `${base}/delay/200?i=1`),
    http.asyncRequest('POST', `${base}/delay/200`),
  ]);
  const posted = await http.asyncRequest('POST', `${base}/anything`, 'hello');
  check(all, {
    'async statuses': (r) => r.every((x) => x.status === 200),
    'async in order': (r) => r[0].url === `${base}/delay/200?i=0` && r[1].url === `${base}/delay/200?i=1`,
    'async post': (r) => r[2].request.method === 'POST',
    'async concurrent': (r) => r.filter((x) => x.timings.connecting > 0).length === 3,
    'async response fields': (r) => r[0].status_text === '200 OK' && typeof r[0].json() === 'object',
  });
  check(posted, { 'async body': (r) => r.json('data') === 'hello' });
  const redirected = await http.asyncRequest('GET', `${base}/redirect/1`);
  check(redirected, { 'async redirect': (r) => r.status === 200 && r.url === `${base}/get` });
  http.asyncRequest('GET', `${base}/get?late=1`).then((r) => check(r, { 'un-awaited resolves': (x) => x.status === 200 }));
  const pending = http.asyncRequest('GET', `${base}/delay/50`);
  sleep(0.2);
  const sync = http.get(`${base}/get`);
  check(sync, { 'sync alongside async': (r) => r.status === 200 });
  check(await pending, { 'progressed during sleep': (r) => r.status === 200 });
}
