// k6/execution's exec.instance: live VU and iteration counts of this instance.
// Every check holds under k6 too (tests/k6-compare.py runs this script with both).
import { check, sleep } from 'k6';
import exec from 'k6/execution';

let initError = '';
try {
  initError = String(exec.instance.vusActive);
} catch (e) {
  initError = String(e);
}

export const options = {
  scenarios: {
    // 2 VUs x 3 iterations: 6 completed iterations.
    counted: { executor: 'per-vu-iterations', vus: 2, iterations: 3, exec: 'counted' },
    // One VU whose second iteration the end of the scenario cuts (no gracefulStop).
    cut: { executor: 'constant-vus', vus: 1, duration: '1s', gracefulStop: '0s', exec: 'cut', startTime: '500ms' },
    // Once both have ended (k6 refuses instance information in teardown()).
    after: { executor: 'per-vu-iterations', vus: 1, iterations: 1, exec: 'after', startTime: '2s' },
  },
  thresholds: { checks: ['rate==1'] },
};

export function setup() {
  check(exec.instance, {
    'setup: no iteration yet': (i) => i.iterationsCompleted === 0 && i.iterationsInterrupted === 0,
    'setup: duration is a number': (i) => typeof i.currentTestRunDuration === 'number' && i.currentTestRunDuration >= 0,
  });
}

export function counted() {
  const i = exec.instance;
  check(i, {
    'init context refuses instance': () => initError.includes('getting instance information in the init context is not supported'),
    'vusInitialized': () => i.vusInitialized === 3,
    'vusActive': () => i.vusActive >= 1 && i.vusActive <= 3,
    'iterationsCompleted grows': () => i.iterationsCompleted >= exec.vu.iterationInScenario && i.iterationsCompleted < 6,
    'nothing interrupted yet': () => i.iterationsInterrupted === 0,
  });
  sleep(0.05);
}

export function cut() {
  sleep(0.7);
}

export function after() {
  check(exec.instance, {
    'after: completed': (i) => i.iterationsCompleted === 7,
    'after: interrupted': (i) => i.iterationsInterrupted === 1,
    'after: duration covers the run': (i) => i.currentTestRunDuration >= 2000,
    'after: one VU active': (i) => i.vusActive === 1,
  });
}
