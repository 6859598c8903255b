// exec.test.fail() marks the run failed and lets it go on to its end: exit code 110, which
// k6 gives even when a threshold failed too (110 beats 99). The check after fail() still runs.
import exec from 'k6/execution';
import { check } from 'k6';

export const options = {
  iterations: 3,
  thresholds: { iterations: ['count<1'] },
};

export default function () {
  if (__ITER === 0) exec.test.fail('the first iteration saw bad data');
  check(__ITER, { 'ran after fail()': () => true });
}
