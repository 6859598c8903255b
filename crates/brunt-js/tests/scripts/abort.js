// exec.test.abort() stops the run with exit code 108.
import exec from 'k6/execution';

export const options = { vus: 1, duration: '10s' };

export default function () {
  if (__ITER === 2) exec.test.abort('enough');
}
