// k6/execution's scenario.progress: the share of iterations done (iteration-based executors) or
// of the duration elapsed (duration-based ones), 0 to 1.
import { check, sleep } from 'k6';
import exec from 'k6/execution';

export const options = {
  scenarios: {
    counted: { executor: 'per-vu-iterations', vus: 1, iterations: 4, exec: 'counted' },
    timed: { executor: 'constant-vus', vus: 1, duration: '1s', exec: 'timed', gracefulStop: '0s' },
  },
  thresholds: { checks: ['rate==1'] },
};

export function counted() {
  const p = exec.scenario.progress;
  check(p, { 'iterations done over iterations planned': (v) => v === exec.scenario.iterationInTest / 4 });
}

let last = -1;
export function timed() {
  const p = exec.scenario.progress;
  check(p, { 'elapsed share, between 0 and 1, never going back': (v) => v >= 0 && v <= 1 && v >= last });
  last = p;
  sleep(0.2);
}
