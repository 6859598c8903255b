// Response.submitForm() and Response.clickLink(): a page's form and links followed as k6 does.
import http from 'k6/http';
import { check } from 'k6';

export const options = {
  iterations: 1,
  thresholds: { checks: ['rate==1'] },
};

export default function () {
  const page = http.get(`${__ENV.BASE_URL}/html`);

  const sent = page.submitForm({ formSelector: '#login', fields: { user: 'bob', extra: 'a b' } });
  check(sent, {
    'the form goes to its action with its method': (r) => r.status === 200 && r.request.method === 'POST'
      && r.url === `${__ENV.BASE_URL}/post`,
    'the form is sent urlencoded': (r) => r.request.headers['Content-Type'][0] === 'application/x-www-form-urlencoded',
    'its own fields go with it': (r) => r.json('form.csrf') === 't0k3n' && r.json('form.plan') === 'pro'
      && r.json('form.note') === 'hello',
    'fields replace and add values': (r) => r.json('form.user') === 'bob' && r.json('form.extra') === 'a b',
  });

  const clicked = page.clickLink({ selector: 'a.next', params: { tags: { name: 'next' } } });
  check(clicked, {
    'the link is followed with a GET, resolved against the page': (r) => r.status === 200
      && r.url === `${__ENV.BASE_URL}/get?page=2` && r.json('args.page') === '2',
  });

  const first = page.clickLink();
  check(first, { 'the first link by default': (r) => r.url === `${__ENV.BASE_URL}/json` });

  let missing = '';
  try {
    page.submitForm({ formSelector: '#nope' });
  } catch (e) {
    missing = String(e.message || e);
  }
  check(missing, { 'a missing form is an error naming the selector': (m) => m.includes("'#nope'") });
}
