// A VU's native requests reuse what they read from the last request's headers and tags when the
// next gives the same names and value strings (a script's literals): whatever the script changes
// between requests must still go out as changed. Also params read through getters, inherited
// properties (ignored, as own keys only are read) and checks named by numbers.
import http from 'k6/http';
import { check } from 'k6';

export const options = {
  iterations: 4,
  vus: 1,
  thresholds: {
    checks: ['rate==1'],
    'http_reqs{kind:even}': ['count==2'],
    'http_reqs{kind:odd}': ['count==2'],
    'http_reqs{kind:fixed}': ['count==24'],
    'http_reqs{step:n-3}': ['count==1'],
    'http_reqs{seq:one}': ['count==8'],
    'http_reqs{seq:two}': ['count==8'],
  },
};

const shared = { 'X-Mutated': 'first' };

export default function () {
  const url = `${__ENV.BASE_URL}/anything`;
  const i = __ITER;
  const lit = i % 2 === 0 ? 'even' : 'odd';
  // A literal that alternates, a value computed each time, a number; the tags follow suit.
  const a = http.get(url, {
    headers: { 'X-Literal': lit, 'X-Computed': `n-${i}`, 'X-Number': i },
    tags: { kind: lit, step: `n-${i}` },
  });
  // One request after another with the same name and another literal, then the same again.
  const seq = [];
  for (const v of ['one', 'two', 'two', 'one']) {
    seq.push(http.get(url, { headers: { 'X-Seq': v }, tags: { seq: v } }).json('headers.X-Seq'));
  }
  // Headers added and left out, and the same names in another order.
  const headers = { 'X-Always': 'yes' };
  if (i % 2 === 1) {
    headers['X-Sometimes'] = 'here';
  }
  const b = http.get(url, { headers, tags: { kind: 'fixed' } });
  const order = i % 2 === 0 ? { 'X-One': '1', 'X-Two': '2' } : { 'X-Two': '2', 'X-One': '1' };
  const c = http.get(url, { headers: order, tags: { kind: 'fixed' } });
  // The same object, its value changed in place.
  shared['X-Mutated'] = i < 2 ? 'first' : 'second';
  const d = http.get(url, { headers: shared, tags: { kind: 'fixed' } });
  check(a, {
    'a literal that changes goes out changed': (r) => r.json('headers.X-Literal') === lit,
    'a computed value goes out as computed': (r) => r.json('headers.X-Computed') === `n-${i}`,
    'a number goes out as a string': (r) => r.json('headers.X-Number') === String(i),
  });
  check(seq, { 'each of a sequence goes out as written': (s) => s.join() === 'one,two,two,one' });
  check(b, {
    'a header added goes out': (r) => r.json('headers.X-Always') === 'yes'
      && r.json('headers.X-Sometimes') === (i % 2 === 1 ? 'here' : undefined),
  });
  check(c, {
    'headers in another order go out': (r) => r.json('headers.X-One') === '1' && r.json('headers.X-Two') === '2',
  });
  check(d, {
    'a value changed in place goes out changed': (r) => r.json('headers.X-Mutated') === (i < 2 ? 'first' : 'second'),
  });

  // Params and headers read through getters, each time they are sent.
  let reads = 0;
  const viaGetter = {
    get headers() {
      reads += 1;
      return { 'X-Getter': `g-${reads}` };
    },
    tags: { kind: 'fixed' },
  };
  const g1 = http.get(url, viaGetter);
  const g2 = http.get(url, viaGetter);
  // Inherited params and headers are not the request's own: not sent.
  const inherited = Object.create({ headers: { 'X-Inherited': 'params' } });
  const h = http.get(url, inherited);
  const protoHeaders = Object.create({ 'X-Inherited': 'headers' });
  protoHeaders['X-Own'] = 'own';
  const k = http.get(url, { headers: protoHeaders, tags: { kind: 'fixed' } });
  check(null, {
    'getters run for each request': () => g1.json('headers.X-Getter') === 'g-1' && g2.json('headers.X-Getter') === 'g-2',
    'inherited params are not sent': () => h.status === 200 && h.json('headers.X-Inherited') === undefined,
    'inherited headers are not sent': () => k.json('headers.X-Inherited') === undefined && k.json('headers.X-Own') === 'own',
    7: () => true,
  });
}
