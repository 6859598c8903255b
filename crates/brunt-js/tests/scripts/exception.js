// An exception in an iteration is logged and counted; the run goes on and exits 0.
import { Counter } from 'k6/metrics';

const after = new Counter('after_throw');

export const options = { iterations: 4, vus: 1, thresholds: { after_throw: ['count==2'] } };

export default function () {
  if (__ITER % 2 === 0) {
    throw new Error(`boom on iteration ${__ITER}`);
  }
  after.add(1);
}
