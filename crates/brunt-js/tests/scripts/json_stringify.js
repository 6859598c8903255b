// JSON.stringify as scripts build request bodies (brunt's is native without a replacer or an
// indent): each check compares with the spec's output, which k6 (goja) gives too.
import { check } from 'k6';

export const options = { vus: 1, iterations: 1 };

export default function () {
  const order = { customer: 'c-42', items: [{ sku: 'book-1', qty: 2 }, { sku: 'pen-7', qty: 5 }], note: 'bench' };
  const cycle = {};
  cycle.self = cycle;
  const throws = (f) => { try { f(); return false; } catch (e) { return e instanceof TypeError; } };
  const seen = [];
  check(null, {
    'an order': () => JSON.stringify(order) === '{"customer":"c-42","items":[{"sku":"book-1","qty":2},{"sku":"pen-7","qty":5}],"note":"bench"}',
    'numbers': () => JSON.stringify([0, -0, 1.5, 0.1 + 0.2, 1e21, 1e-7, 5e-324, 2 ** 53, NaN, -Infinity]) === '[0,0,1.5,0.30000000000000004,1e+21,1e-7,5e-324,9007199254740992,null,null]',
    'strings': () => JSON.stringify('"\\\n\t\u0001\u007f\u2028é\ud83d\ude00\ud800') === '"\\"\\\\\\n\\t\\u0001\u007f\u2028é\ud83d\ude00\\ud800"',
    'skipped values': () => JSON.stringify({ a: undefined, b: () => 1, c: Symbol('s'), d: [undefined, () => 1] }) === '{"d":[null,null]}',
    'key order': () => JSON.stringify({ b: 1, 2: 'x', a: 2, 0: 'y' }) === '{"0":"y","2":"x","b":1,"a":2}',
    'toJSON and its key': () => JSON.stringify({ a: { toJSON(k) { seen.push(k); return k + '!'; } }, d: new Date(0) }) === '{"a":"a!","d":"1970-01-01T00:00:00.000Z"}' && seen.join() === 'a',
    'boxed': () => JSON.stringify([new String('s'), new Number(2), new Boolean(false)]) === '["s",2,false]',
    'top-level undefined': () => JSON.stringify(undefined) === undefined && JSON.stringify(() => 1) === undefined,
    'cycle throws': () => throws(() => JSON.stringify(cycle)),
    'BigInt throws': () => throws(() => JSON.stringify({ n: 1n })),
    'indent and replacer': () => JSON.stringify({ a: [1] }, null, 1) === '{\n "a": [\n  1\n ]\n}' && JSON.stringify({ a: 1, b: 2 }, ['b']) === '{"b":2}',
  });
}
