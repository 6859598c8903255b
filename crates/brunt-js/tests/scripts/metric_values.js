// What Metric.add() makes of values that are not numbers, as k6 reads them: a string or an object
// converted as JavaScript converts it, a truthy value that converts to 0 counting 1; nothing,
// null and NaN dropped with a warning (thrown with --throw) and add() returning false.
import { check } from 'k6';
import { Counter } from 'k6/metrics';

export const options = { iterations: 1, vus: 1 };

const counter = new Counter('metric_values_counter');

export default function () {
  check(null, {
    'nothing is dropped': () => counter.add() === false,
    'null is dropped': () => counter.add(null) === false,
    'NaN is dropped': () => counter.add(NaN) === false,
    'undefined is dropped': () => counter.add(undefined) === false,
    'a word is dropped': () => counter.add('x') === false,
    'an object is dropped': () => counter.add({}) === false,
    'a long value is dropped': () => counter.add('y'.repeat(120)) === false,
    'a numeric string counts': () => counter.add('3') === true,
    'a hex string counts': () => counter.add('0x10') === true,
    'an empty array counts 1': () => counter.add([]) === true,
    'a space counts 1': () => counter.add(' ') === true,
    'valueOf is used': () => counter.add({ valueOf() { return 7; } }) === true,
    'true counts 1': () => counter.add(true) === true,
    'a number counts': () => counter.add(2.5) === true,
  });
}
