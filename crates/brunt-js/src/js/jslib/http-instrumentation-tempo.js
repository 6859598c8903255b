// Built-in equivalent of jslib.k6.io/http-instrumentation-tempo (any version), for offline runs:
// `instrumentHTTP({ propagator, sampling })` makes every k6/http request carry a fresh trace in
// the propagator's header (w3c traceparent, b3, jaeger uber-trace-id), and `new Client(opts)`
// does so for its own requests. Each request's trace id is set in
// `exec.vu.metrics.metadata.trace_id` while it runs, so its samples keep it.
import http from 'k6/http';
import exec from 'k6/execution';
import { randomBytes } from 'k6/crypto';

const hex = (bytes) =>
  Array.from(new Uint8Array(randomBytes(bytes)), (b) => b.toString(16).padStart(2, '0')).join('');

const headerOf = {
  w3c: (id, on) => ({ traceparent: `00-${id}-${hex(8)}-${on ? '01' : '00'}` }),
  b3: (id, on) => ({ b3: `${id}-${hex(8)}-${on ? '1' : '0'}` }),
  jaeger: (id, on) => ({ 'uber-trace-id': `${id}:${hex(8)}:0:${on ? '1' : '0'}` }),
};

function sampler(rate) {
  if (rate < 0 || rate > 1) throw 'sampling rate must be between 0.0 and 1.0';
  if (rate === undefined || rate === 1) return () => true;
  if (rate === 0) return () => false;
  return () => Math.random() < rate;
}

// The request's arguments after the URL (body, params) with the trace header added to params.
function withTrace(args, header) {
  const out = args.slice();
  while (out.length < 1) out.push(null);
  if (out.length < 2 || out[1] == null) out[1] = {};
  const params = out[1];
  params.headers = Object.assign(params.headers == null ? {} : params.headers, header);
  return out;
}

export class Client {
  #header;
  #sample;
  #request;
  #asyncRequest;

  constructor(opts, request = http.request, asyncRequest = http.asyncRequest) {
    this.configure(opts);
    this.#request = request;
    this.#asyncRequest = asyncRequest;
  }

  configure(opts) {
    this.#sample = sampler(opts.sampling);
    this.#header = headerOf[opts.propagator];
    if (this.#header === undefined) throw 'unknown propagator: ' + opts.propagator;
  }

  request(method, url, ...args) {
    const id = hex(16);
    const traced = withTrace(args, this.#header(id, this.#sample()));
    exec.vu.metrics.metadata['trace_id'] = id;
    try {
      return this.#request(method, url, ...traced);
    } finally {
      delete exec.vu.metrics.metadata['trace_id'];
    }
  }

  async asyncRequest(method, url, ...args) {
    const id = hex(16);
    const traced = withTrace(args, this.#header(id, this.#sample()));
    let pending;
    exec.vu.metrics.metadata['trace_id'] = id;
    try {
      pending = this.#asyncRequest(method, url, ...traced);
    } finally {
      delete exec.vu.metrics.metadata['trace_id'];
    }
    return await pending;
  }

  del(url, ...args) { return this.request('DELETE', url, ...args); }
  get(url, ...args) { return this.request('GET', url, null, ...args); }
  head(url, ...args) { return this.request('HEAD', url, null, ...args); }
  options(url, ...args) { return this.request('OPTIONS', url, ...args); }
  patch(url, ...args) { return this.request('PATCH', url, ...args); }
  post(url, ...args) { return this.request('POST', url, ...args); }
  put(url, ...args) { return this.request('PUT', url, ...args); }
}

export function instrumentHTTP(opts) {
  // The functions as they are now, so that earlier instrumentation is kept.
  const client = new Client(opts, http.request, http.asyncRequest);
  for (const name of ['del', 'get', 'head', 'options', 'patch', 'post', 'put', 'request', 'asyncRequest']) {
    http[name] = client[name].bind(client);
  }
}

export default { Client, instrumentHTTP };
