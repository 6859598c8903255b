// k6's base compatibility mode: the same as extended (the default) but for `global`, which base
// mode leaves out.
// k6-compare: args --compatibility-mode=base
import { check } from 'k6';

export const options = { iterations: 1 };

export default function () {
  let named;
  try {
    named = typeof global === 'undefined' ? String(global) : 'defined';
  } catch (e) {
    named = e.name;
  }
  check(null, {
    'no global in base mode': () => typeof global === 'undefined',
    'naming it is a ReferenceError': () => named === 'ReferenceError',
    'globalThis is there': () => typeof globalThis === 'object',
  });
}
