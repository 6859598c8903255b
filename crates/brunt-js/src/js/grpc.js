// k6/net/grpc: k6's gRPC client over brunt-grpc (modules/grpc.rs). Client: load, loadProtoset
// (init context), connect, invoke, asyncInvoke, healthCheck, close; Stream: on('data' | 'error' |
// 'end' | 'status'), write, end; the Status* and HealthCheck* constants. Parameters are checked
// here with k6's messages; async calls and streams report through `pump`, a promise job kept
// queued while any is outstanding (see js/http.js's asyncRequest), so their handlers run on the
// VU's event loop and the iteration ends when they have.
const n = globalThis.__brunt_native('grpc');

const show = (v) => (typeof v === 'string' ? `"${v}"` : JSON.stringify(v));

function parseDuration(v, what) {
  if (typeof v === 'number') return v;
  const s = String(v).trim();
  const re = /(\d+(?:\.\d+)?)(ms|us|µs|ns|s|m|h)/g;
  let total = 0;
  let seen = '';
  let m;
  while ((m = re.exec(s)) !== null) {
    total += Number(m[1]) * { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, m: 60000, h: 3600000 }[m[2]];
    seen += m[0];
  }
  if (seen !== s || s === '') throw new Error(`invalid ${what} value: ${show(v)}`);
  return total;
}

// Metadata as [key, value] pairs: values are strings, or binary (ArrayBuffer) for `-bin` keys.
function metadataPairs(md, what) {
  if (md === undefined || md === null) return [];
  if (typeof md !== 'object') throw new Error(`invalid ${what} param: must be an object with key-value pairs`);
  const out = [];
  for (const [k, v] of Object.entries(md)) {
    if (k.endsWith('-bin')) {
      if (!(v instanceof ArrayBuffer)) throw new Error(`invalid ${what} param: "${k}" value must be binary`);
      out.push([k, String.fromCharCode(...new Uint8Array(v))]);
    } else if (typeof v !== 'string') {
      throw new Error(`invalid ${what} param: "${k}" value must be a string`);
    } else {
      out.push([k, v]);
    }
  }
  return out;
}

// A call's params (invoke, asyncInvoke, Stream), as k6 checks them.
function callParams(params, defaultTimeout) {
  const p = { metadata: [], tags: null, timeout: defaultTimeout, discard: false };
  if (params === undefined || params === null) return p;
  for (const [k, v] of Object.entries(params)) {
    switch (k) {
      case 'metadata':
        p.metadata = metadataPairs(v, 'metadata');
        break;
      case 'tags':
        if (v !== null && typeof v !== 'object') throw new Error('metric tags: invalid tags');
        p.tags = v;
        break;
      case 'timeout':
        p.timeout = parseDuration(v, 'timeout');
        break;
      case 'discardResponseMessage':
        p.discard = Boolean(v);
        break;
      default:
        throw new Error(`unknown param: "${k}"`);
    }
  }
  return p;
}

function connectParams(params) {
  const p = {
    plaintext: false, timeout: 60000, reflect: false, reflectMetadata: [],
    maxReceiveSize: 0, maxSendSize: 0, authority: null, tls: null,
  };
  if (params === undefined || params === null) return p;
  const size = (k, v) => {
    if (typeof v !== 'number' || !Number.isInteger(v)) throw new Error(`invalid ${k} value: '${show(v)}', it needs to be an integer`);
    if (v < 0) throw new Error(`invalid ${k} value: '${show(v)}, it needs to be a positive integer`);
    return v;
  };
  for (const [k, v] of Object.entries(params)) {
    switch (k) {
      case 'plaintext':
      case 'reflect':
        if (typeof v !== 'boolean') throw new Error(`invalid ${k} value: '${show(v)}', it needs to be boolean`);
        p[k] = v;
        break;
      case 'timeout':
        p.timeout = parseDuration(v, 'timeout');
        break;
      case 'reflectMetadata':
        p.reflectMetadata = metadataPairs(v, 'reflectMetadata');
        break;
      case 'maxReceiveSize':
      case 'maxSendSize':
        p[k] = size(k, v);
        break;
      case 'authority':
        if (typeof v !== 'string') throw new Error(`invalid authority value: '${show(v)}', it needs to be a string`);
        p.authority = v;
        break;
      case 'tls':
        p.tls = tlsParam(v);
        break;
      default:
        throw new Error(`unknown connect param: "${k}"`);
    }
  }
  return p;
}

// connect()'s tls: PEM strings cert, key, password and cacerts (one or an array), all optional.
function tlsParam(v) {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) {
    throw new Error(`invalid tls value: '${show(v)}', expected (optional) keys: cert, key, password, and cacerts`);
  }
  const text = (k, what) => {
    if (v[k] === undefined) return '';
    if (typeof v[k] !== 'string') throw new Error(`invalid tls ${k} value: '${show(v)}', ${what}`);
    return v[k];
  };
  const out = {
    cert: text('cert', 'it needs to be a PEM formatted string'),
    key: text('key', 'it needs to be a PEM formatted string'),
    password: text('password', 'it needs to be a string'),
    cacerts: [],
  };
  const ca = v.cacerts;
  if (typeof ca === 'string') {
    out.cacerts = [ca];
  } else if (Array.isArray(ca) && ca.every((c) => typeof c === 'string')) {
    out.cacerts = ca;
  } else if (ca !== undefined) {
    throw new Error(`invalid tls cacerts value: '${show(v)}', it needs to be a string or an array of PEM formatted strings`);
  }
  return out;
}

// The request as JSON, with k6's spelling of NaN and the infinities.
function requestJSON(req) {
  if (req === undefined || req === null) throw new Error('request cannot be nil');
  return JSON.stringify(req, (k, v) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v));
}

const ID = Symbol('grpc client');

// Async calls (their resolve) and streams, by id, until their end is delivered.
const waiting = new Map();
let pumping = false;

function pump() {
  let events;
  try {
    events = n.next();
  } catch (e) {
    waiting.clear();
    pumping = false;
    throw e;
  }
  if (events === false) {
    waiting.clear();
    pumping = false;
    return;
  }
  if (events !== null) {
    for (const ev of events) {
      const w = waiting.get(ev.id);
      if (w === undefined) continue;
      if (ev.type !== 'data') waiting.delete(ev.id);
      try {
        w.deliver(ev);
      } catch (e) {
        // A throwing handler fails the iteration, as in k6: rethrown where the VU sees it.
        setTimeout(() => { throw e; }, 0);
      }
    }
  }
  if (waiting.size === 0) {
    pumping = false;
  } else if (events === null || events.length > 0) {
    Promise.resolve().then(pump);
  } else {
    // A timer of the script is due: it runs before the pump waits again.
    setTimeout(pump, 0);
  }
}

function track(id, handler) {
  waiting.set(id, handler);
  if (!pumping) {
    pumping = true;
    Promise.resolve().then(pump);
  }
}

export class Client {
  constructor() {
    this[ID] = n.client();
  }

  load(importPaths, ...protoFiles) {
    const paths = importPaths === undefined || importPaths === null ? [] : Array.from(importPaths, String);
    return n.load(this[ID], paths, protoFiles.map(String));
  }

  loadProtoset(protosetPath) {
    return n.loadProtoset(this[ID], String(protosetPath));
  }

  connect(address, params) {
    let p;
    try {
      p = connectParams(params);
    } catch (e) {
      throw new Error(`invalid grpc.connect() parameters: ${e.message}`);
    }
    return n.connect(this[ID], String(address), p);
  }

  invoke(method, request, params) {
    let p;
    try {
      p = callParams(params, 120000);
    } catch (e) {
      throw new Error(`invalid GRPC's client.invoke() parameters: ${e.message}`);
    }
    return n.invoke(this[ID], String(method ?? ''), requestJSON(request), p);
  }

  asyncInvoke(method, request, params) {
    return new Promise((resolve) => {
      let p;
      try {
        p = callParams(params, 120000);
      } catch (e) {
        throw new Error(`invalid GRPC's client.invoke() parameters: ${e.message}`);
      }
      const id = n.asyncInvoke(this[ID], String(method ?? ''), requestJSON(request), p);
      track(id, { deliver: (ev) => resolve(ev.response) });
    });
  }

  healthCheck(service) {
    return n.health(this[ID], service === undefined || service === null ? '' : String(service));
  }

  close() {
    n.close(this[ID]);
  }
}

const EVENTS = ['data', 'error', 'end', 'status'];

export class Stream {
  constructor(client, method, params) {
    if (client === undefined || client === null) throw new Error("invalid GRPC Stream's client: empty gRPC client");
    if (!(client instanceof Client)) throw new Error("invalid GRPC Stream's client: not a gRPC client");
    let p;
    try {
      p = callParams(params, 0);
    } catch (e) {
      throw new Error(`invalid GRPC Stream's parameters: ${e.message}`);
    }
    let opened;
    try {
      opened = n.streamOpen(client[ID], String(method ?? ''), p);
    } catch (e) {
      const prefix = e.message.startsWith('no gRPC connection') ? "invalid GRPC Stream's client: " : "invalid GRPC Stream's method: ";
      throw new Error(prefix + e.message);
    }
    const id = opened.id;
    const handlers = { data: [], error: [], end: [], status: [] };
    let writing = true;
    let done = false;
    const fire = (event, arg) => {
      const meta = { ts: Math.floor(Date.now() / 1000) };
      for (const h of handlers[event]) h(arg, meta);
    };
    const finish = (error) => {
      if (done) return;
      done = true;
      writing = false;
      waiting.delete(id);
      if (error) {
        if (handlers.error.length === 0) console.warn(`no handlers for error registered, but an error happened: ${error.message}`);
        fire('error', error);
      }
      fire('end', {});
    };
    this.on = (event, handler) => {
      if (typeof handler !== 'function') throw new Error(`handler for "${event}" event isn't a callable function`);
      if (!EVENTS.includes(event)) {
        console.warn(`can't register ${event} event handler: unknown GRPC stream's event type: ${event}`);
        return;
      }
      handlers[event].push(handler);
    };
    this.write = (message) => {
      if (!writing) return;
      if (message === undefined || message === null) {
        console.warn("can't send empty message");
        return;
      }
      const error = n.streamWrite(id, JSON.stringify(message));
      if (error) {
        finish(error);
        return;
      }
      if (opened.single) this.end();
    };
    this.end = () => {
      if (!writing) return;
      writing = false;
      n.streamEnd(id);
    };
    track(id, {
      deliver(ev) {
        if (ev.type === 'data') fire('data', ev.message);
        else finish(ev.error);
      },
    });
  }
}

export const {
  StatusOK, StatusCanceled, StatusUnknown, StatusInvalidArgument, StatusDeadlineExceeded,
  StatusNotFound, StatusAlreadyExists, StatusPermissionDenied, StatusResourceExhausted,
  StatusFailedPrecondition, StatusAborted, StatusOutOfRange, StatusUnimplemented, StatusInternal,
  StatusUnavailable, StatusDataLoss, StatusUnauthenticated,
  HealthCheckUnknown, HealthCheckServing, HealthCheckNotServing, HealthCheckServiceUnkown,
} = n.constants;

export default {
  Client, Stream,
  StatusOK, StatusCanceled, StatusUnknown, StatusInvalidArgument, StatusDeadlineExceeded,
  StatusNotFound, StatusAlreadyExists, StatusPermissionDenied, StatusResourceExhausted,
  StatusFailedPrecondition, StatusAborted, StatusOutOfRange, StatusUnimplemented, StatusInternal,
  StatusUnavailable, StatusDataLoss, StatusUnauthenticated,
  HealthCheckUnknown, HealthCheckServing, HealthCheckNotServing, HealthCheckServiceUnkown,
};
