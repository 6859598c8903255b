// k6's globals outside k6's modules: `global` (an alias of globalThis in k6's default, extended,
// compatibility mode) and `__ITER`, which only iterations have.
import { check } from 'k6';

let initIter;
try {
  initIter = `${typeof __ITER} ${__ITER}`;
} catch (e) {
  initIter = e.name;
}

export const options = { iterations: 2 };

export default function () {
  check(null, {
    'global is globalThis': () => typeof global === 'object' && global === globalThis,
    'global is writable through': () => { global.seen = 1; return globalThis.seen === 1; },
    '__ITER is not in the init context': () => initIter === 'ReferenceError',
    '__ITER counts iterations': () => typeof __ITER === 'number' && __ITER >= 0,
  });
}
