// CommonJS modules imported from ESM and with require(), as k6 runs them.
import { x, add, thisIsExports, same } from './lib/cjs_exports.js';
import lib from './lib/cjs_exports.js';
import greet from './lib/cjs_module_exports.js';
import { check } from 'k6';

const http = require('k6/http');
const required = require('./lib/cjs_exports.js');
const greetRequired = require('./lib/cjs_module_exports.js');

export const options = { iterations: 1, thresholds: { checks: ['rate==1'] } };

export default function () {
  check(null, {
    'named imports': () => x === 1 && add(2, 3) === 5,
    'this is exports': () => thisIsExports && same,
    'default import is module.exports': () => lib.x === 1 && typeof lib.add === 'function',
    'module.exports replaced': () => greet('a') === 'hi a' && greet.hasHttp === true,
    'require of a k6 module': () => typeof http.get === 'function',
    'require returns the imported instance': () => required === lib && greetRequired === greet,
  });
}
