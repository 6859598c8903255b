// k6: checks, groups, sleep, fail, randomSeed.
const n = globalThis.__brunt_native('k6');

export function sleep(seconds) {
  n.sleep(Number(seconds));
}

export function check(value, checks, tags) {
  let all = true;
  for (const name of Object.keys(checks || {})) {
    const c = checks[name];
    let ok;
    try {
      ok = !!(typeof c === 'function' ? c(value) : c);
    } catch (e) {
      // As k6: a check whose function throws counts as failed, then the error goes on.
      n.check(name, false, tags);
      throw e;
    }
    n.check(name, ok, tags);
    if (!ok) all = false;
  }
  return all;
}

export function group(name, fn) {
  if (typeof fn !== 'function') throw new TypeError('group() needs a function');
  n.groupEnter(String(name));
  try {
    return fn();
  } finally {
    n.groupExit();
  }
}

export function fail(message) {
  throw new Error(message === undefined ? '' : String(message));
}

// Makes Math.random repeatable: a 32-bit mixing generator seeded from `seed`.
export function randomSeed(seed) {
  let s = Number(seed) >>> 0;
  Math.random = function random() {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export default { sleep, check, group, fail, randomSeed };
