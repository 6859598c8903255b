// SharedArray built once from a file opened relative to the script.
import { SharedArray } from 'k6/data';
import { check } from 'k6';

const users = new SharedArray('users', () => JSON.parse(open('./data/users.json')));

export const options = { iterations: 6, vus: 3, thresholds: { checks: ['rate==1'] } };

export default function () {
  const u = users[__ITER % users.length];
  const names = [];
  for (const x of users) names.push(x.name);
  check(u, {
    'has three users': () => users.length === 3,
    'element read': (v) => typeof v.name === 'string' && v.id >= 1,
    'iterates': () => names.join(',') === 'ann,bob,cy',
    'array methods': () => users.map((x) => x.id).join('') === '123',
    'out of range is undefined': () => users[10] === undefined,
  });
}
