// What check() passes to each check and how it counts each kind of value, custom metrics added
// from booleans and numbers, and Response fields read, replaced and read again: the paths the
// order script (bench/order_create.js) takes natively. k6-compare runs it under k6 as well.
import http from 'k6/http';
import { check } from 'k6';
import { Counter, Rate, Trend } from 'k6/metrics';

export const options = {
  iterations: 3,
  vus: 1,
};

const created = new Rate('check_values_rate');
const took = new Trend('check_values_trend', true);
const counted = new Counter('check_values_counter');

export default function () {
  const res = http.post(`${__ENV.BASE_URL}/api/orders`, JSON.stringify({ a: 1, 'b"\n': [true, null] }), {
    headers: { 'Content-Type': 'application/json' },
    tags: { name: 'check values' },
  });
  let args = -1;
  let self = 'unset';
  const ok = check(res, {
    'a function gets the value': function (r) {
      args = arguments.length;
      self = this;
      return r === res;
    },
    'status read by atom': (r) => r.status === res.status,
  });
  check(ok, {
    'check returns true when all pass': (v) => v === true,
    'one argument': () => args === 1,
    'this is undefined': () => self === undefined,
  });
  // Values that are not functions count by their truthiness.
  check(null, { 'number 1': 1, 'string x': 'x', 'an object': {}, 'empty string': '', 'zero': 0, 'null': null });
  check(undefined, { 'undefined is given': (v) => v === undefined });
  check(res, { 'results are coerced': () => 'yes', 'zero fails': () => 0 });
  // A check that throws counts as failed, then the error goes on.
  let thrown = '';
  try {
    check(res, { 'throws': () => { throw new Error('boom'); }, 'never reached': () => true });
  } catch (e) {
    thrown = e.message;
  }
  check(thrown, { 'the error goes on': (m) => m === 'boom' });
  // Lazy fields: the same value on every read, replaceable, and the body as text.
  const t = res.timings;
  check(res, {
    'timings are one object': (r) => r.timings === t && typeof t.duration === 'number',
    'timings keep k6 order': () => Object.keys(t).join() === 'duration,blocked,looking_up,connecting,tls_handshaking,sending,waiting,receiving',
    'body is text': (r) => typeof r.body === 'string' && r.body === res.body,
    'json reads the body': (r) => r.json('order.a') === 1 && r.json('status') === 'created',
  });
  res.body = 'replaced';
  check(res, {
    'body replaced': (r) => r.body === 'replaced',
    'body is an own property now': (r) => Object.keys(r).includes('body'),
  });
  // Custom metrics from booleans, numbers and nothing.
  created.add(true);
  created.add(false);
  created.add(1);
  took.add(2);
  took.add(t.duration);
  counted.add(3, { kind: 'tagged' });
  counted.add(true);
}
