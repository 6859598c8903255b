// Built-in equivalent of jslib.k6.io/k6-utils (any version).
import exec from 'k6/execution';

export function randomIntBetween(min, max) {
  return Math.floor(Math.random() * (max - min + 1) + min);
}

export function randomItem(items) {
  return items[Math.floor(Math.random() * items.length)];
}

const ALPHANUMERIC = 'abcdefghijklmnopqrstuvwxyz0123456789';

export function randomString(length, charset) {
  const chars = charset === undefined ? ALPHANUMERIC : String(charset);
  let out = '';
  for (let i = 0; i < length; i++) out += chars.charAt(Math.floor(Math.random() * chars.length));
  return out;
}

function hex(n, width) {
  return n.toString(16).padStart(width, '0');
}

// A version-4 UUID from Math.random (jslib's uuidv4 does the same unless `secure` is asked).
export function uuidv4(secure) {
  const b = secure ? new Uint8Array(globalThis.__brunt_native('crypto').randomBytes(16)) : Array.from({ length: 16 }, () => Math.floor(Math.random() * 256));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = Array.from(b, (x) => hex(x, 2)).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export function randomUUID() {
  return uuidv4(true);
}

export function findBetween(content, left, right, repeat) {
  const found = [];
  let from = 0;
  for (;;) {
    const start = content.indexOf(left, from);
    if (start === -1) break;
    const s = start + left.length;
    const end = content.indexOf(right, s);
    if (end === -1) break;
    const value = content.substring(s, end);
    if (!repeat) return value;
    found.push(value);
    from = end + right.length;
  }
  return repeat ? found : null;
}

// Stages that approximate a normal distribution of `maxVUs` over `durationSeconds`, in
// `numberOfStages` steps (plus ramp-up and ramp-down stages of a tenth each).
export function normalDistributionStages(maxVUs, durationSeconds, numberOfStages) {
  const steps = numberOfStages === undefined ? 10 : numberOfStages;
  const edge = Math.round(durationSeconds * 0.1);
  const body = durationSeconds - 2 * edge;
  const stepSec = Math.max(1, Math.round(body / steps));
  const stages = [{ duration: `${edge}s`, target: Math.round(maxVUs * 0.1) }];
  for (let i = 0; i < steps; i++) {
    const x = -3 + (6 * (i + 0.5)) / steps;
    const density = Math.exp(-(x * x) / 2);
    stages.push({ duration: `${stepSec}s`, target: Math.max(1, Math.round(maxVUs * density)) });
  }
  stages.push({ duration: `${edge}s`, target: 0 });
  return stages;
}

function stageSeconds(d) {
  if (typeof d === 'number') return d / 1000;
  let total = 0;
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;
  let m;
  while ((m = re.exec(String(d))) !== null) {
    total += Number(m[1]) * { ms: 0.001, s: 1, m: 60, h: 3600 }[m[2]];
  }
  return total;
}

export function getCurrentStageIndex() {
  const opts = exec.test.options;
  const sc = opts.scenarios && opts.scenarios[exec.scenario.name];
  const stages = (sc && sc.stages) || opts.stages;
  if (!stages || stages.length === 0) throw new Error('the scenario has no stages');
  const elapsed = (Date.now() - exec.scenario.startTime) / 1000;
  let sum = 0;
  for (let i = 0; i < stages.length; i++) {
    sum += stageSeconds(stages[i].duration);
    if (elapsed < sum) return i;
  }
  return stages.length - 1;
}

export function tagWithCurrentStageIndex() {
  exec.vu.tags.stage = String(getCurrentStageIndex());
}

export function tagWithCurrentStageProfile() {
  const opts = exec.test.options;
  const sc = opts.scenarios && opts.scenarios[exec.scenario.name];
  const stages = (sc && sc.stages) || opts.stages;
  const i = getCurrentStageIndex();
  const prev = i === 0 ? 0 : stages[i - 1].target;
  const cur = stages[i].target;
  exec.vu.tags.stage_profile = cur > prev ? 'ramp-up' : cur < prev ? 'ramp-down' : 'steady';
}

export default {
  randomIntBetween, randomItem, randomString, uuidv4, randomUUID, findBetween,
  normalDistributionStages, getCurrentStageIndex, tagWithCurrentStageIndex, tagWithCurrentStageProfile,
};
