// k6/execution: information about the running VU, scenario, instance and test.
const n = globalThis.__brunt_native('execution');

const tagsProxy = () =>
  new Proxy({}, {
    get(_, k) { return n.execInfo().tags[k]; },
    set(_, k, v) { n.vuTagSet(String(k), v); return true; },
    deleteProperty(_, k) { n.vuTagDelete(String(k)); return true; },
    has(_, k) { return k in n.execInfo().tags; },
    ownKeys() { return Object.keys(n.execInfo().tags); },
    getOwnPropertyDescriptor(_, k) {
      const t = n.execInfo().tags;
      return k in t ? { value: t[k], enumerable: true, configurable: true, writable: true } : undefined;
    },
  });

const vuTags = tagsProxy();

// k6's sample metadata: string values kept with the VU's samples while set. The
// http-instrumentation-tempo jslib sets `trace_id` around each request; brunt keeps that one
// (JSON output's metadata, exemplars), the others are kept here only.
const metadata = new Proxy({}, {
  set(t, k, v) {
    t[k] = String(v);
    if (k === 'trace_id') n.traceIdSet(String(v));
    return true;
  },
  deleteProperty(t, k) {
    delete t[k];
    if (k === 'trace_id') n.traceIdSet(undefined);
    return true;
  },
});

export const vu = {
  get idInTest() { return n.execInfo().vuIdInTest; },
  get idInInstance() { return n.execInfo().vuIdInInstance; },
  get iterationInInstance() { return n.execInfo().iter; },
  get iterationInScenario() { return n.execInfo().iterationInScenario; },
  get tags() { return vuTags; },
  metrics: { get tags() { return vuTags; }, metadata },
};

export const scenario = {
  get name() { return n.execInfo().scenario; },
  get executor() { return n.execInfo().executor; },
  get startTime() { return n.execInfo().startTime; },
  get progress() { return n.execInfo().progress; },
  get iterationInInstance() { return n.execInfo().iterationInInstance; },
  get iterationInTest() { return n.execInfo().iterationInTest; },
};

// The engine's live counts for this instance (k6 refuses them in the init context):
// vusActive is what the `vus` metric samples, iterationsCompleted counts iterations that ran to
// their end (those that threw included), iterationsInterrupted those cut short (gracefulStop,
// Ctrl-C, test.abort()). currentTestRunDuration counts from the end of setup().
export const instance = {
  get vusActive() { return n.instanceInfo()[0]; },
  get vusInitialized() { return n.instanceInfo()[1]; },
  get iterationsCompleted() { return n.instanceInfo()[2]; },
  get iterationsInterrupted() { return n.instanceInfo()[3]; },
  get currentTestRunDuration() {
    n.instanceInfo();
    const s = n.execInfo().testStartTime;
    return s ? Date.now() - s : 0;
  },
};

export const test = {
  abort(reason) { n.abort(reason === undefined ? undefined : String(reason)); },
  fail(reason) { n.fail(reason === undefined ? undefined : String(reason)); },
  get options() { return n.testOptions(); },
};

export default { vu, scenario, instance, test };
