// jslib.k6.io's k6-utils, served by brunt's built-in copy.
import { randomIntBetween, randomItem, randomString, uuidv4, findBetween } from 'https://jslib.k6.io/k6-utils/1.4.0/index.js';
import { check } from 'k6';

export const options = { iterations: 3, thresholds: { checks: ['rate==1'] } };

export default function () {
  check(null, {
    randomIntBetween: () => { const n = randomIntBetween(3, 5); return n >= 3 && n <= 5 && Number.isInteger(n); },
    randomItem: () => ['a', 'b'].includes(randomItem(['a', 'b'])),
    randomString: () => randomString(8).length === 8 && randomString(4, 'x') === 'xxxx',
    uuidv4: () => /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(uuidv4()),
    findBetween: () => findBetween('<a>1</a><a>2</a>', '<a>', '</a>') === '1',
    findBetween_repeat: () => findBetween('<a>1</a><a>2</a>', '<a>', '</a>', true).join() === '1,2',
  });
}
