// Response.html() in a script that does not import k6/html (brunt loads it on first use, in
// each VU: two VUs share a worker's runtime).
import http from 'k6/http';
import { check } from 'k6';

export const options = {
  iterations: 4,
  vus: 2,
  thresholds: { checks: ['rate==1'] },
};

export default function () {
  const res = http.get(`${__ENV.BASE_URL}/html`);
  check(res, {
    'html() parses the body': (r) => r.html().find('title').text() === 'brunt target',
    'html(selector) finds': (r) => r.html('li.order').size() === 3 && r.html('li').eq(1).attr('data-id') === '2',
    'links resolve against the response url': (r) => r.html('a.next').get(0).href() === `${__ENV.BASE_URL}/get?page=2`,
    'form values': (r) => r.html('form').serialize() === 'csrf=t0k3n&note=hello&password=&plan=pro&user=alice',
  });
}
