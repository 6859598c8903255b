// k6/http's JavaScript layer: requests with params or a body, batch, asyncRequest, files, URL
// templates, expected statuses and forms. The module scripts import is native
// (modules/http/module.rs); it sends plain `http.get(url)` itself and calls this layer, which a VU
// evaluates the first time it needs it, for everything else.
const n = globalThis.__brunt_native('http');

function parseDuration(v, what) {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'number') return v;
  const s = String(v).trim();
  const re = /(\d+(?:\.\d+)?)(ms|us|µs|ns|s|m|h)/g;
  let total = 0;
  let seen = '';
  let m;
  while ((m = re.exec(s)) !== null) {
    const k = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, m: 60000, h: 3600000 }[m[2]];
    total += Number(m[1]) * k;
    seen += m[0];
  }
  if (seen !== s || s === '') {
    if (/^\d+(\.\d+)?$/.test(s)) return Number(s);
    throw new TypeError(`invalid ${what} '${s}': use a number of milliseconds or a duration like '30s'`);
  }
  return total;
}

class FileData {
  constructor(data, filename, contentType) {
    this.data = data;
    this.filename = filename;
    this.content_type = contentType || 'application/octet-stream';
  }
}

export function file(data, filename, contentType) {
  return new FileData(data, filename, contentType);
}

class ExpectedStatuses {
  constructor(ranges) { this.ranges = ranges; }
}

export function expectedStatuses(...args) {
  const ranges = [];
  for (const a of args) {
    if (typeof a === 'number' && Number.isInteger(a)) ranges.push([a, a]);
    else if (a && typeof a === 'object' && Number.isInteger(a.min) && Number.isInteger(a.max)) ranges.push([a.min, a.max]);
    else throw new TypeError('expectedStatuses takes status codes and {min, max} objects');
  }
  return new ExpectedStatuses(ranges);
}

export function setResponseCallback(cb) {
  if (cb !== null && !(cb instanceof ExpectedStatuses)) {
    throw new TypeError('setResponseCallback takes http.expectedStatuses(...) or null');
  }
  n.setResponseCallback(cb === null ? null : cb.ranges);
}

class URLTemplate {
  constructor(url, name) { this.url = url; this.name = name; }
  toString() { return this.url; }
}

export function url(strings, ...values) {
  let u = '';
  let name = '';
  strings.forEach((s, i) => {
    u += s;
    name += s;
    if (i < values.length) { u += String(values[i]); name += '${}'; }
  });
  return new URLTemplate(u, name);
}

// Go's url.QueryEscape: only letters, digits and -_.~ stay as they are; a space is '+'.
function queryEscape(v) {
  return encodeURIComponent(v).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`).replace(/%20/g, '+');
}

// A number as Go's fmt.Sprint prints what goja exported: an int64 when it is integral and fits
// one, else a float64 in %v's shortest form (exponent when it is below -4 or from 6 up).
function goNumber(x) {
  if (Number.isInteger(x) && !Object.is(x, -0) && x >= -(2 ** 63) && x < 2 ** 63) return BigInt(x).toString();
  if (Number.isNaN(x)) return 'NaN';
  if (!Number.isFinite(x)) return x > 0 ? '+Inf' : '-Inf';
  const [mant, e] = x.toExponential().split('e');
  const exp = Number(e);
  if (exp >= -4 && exp < 6) return Object.is(x, -0) ? '-0' : String(x);
  return `${mant}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
}

// Go's fmt.Sprint of a value goja exported from JavaScript: k6 turns form values into text so.
function goSprint(v) {
  if (v === null || v === undefined) return '<nil>';
  if (typeof v === 'number') return goNumber(v);
  if (Array.isArray(v)) return `[${v.map(goSprint).join(' ')}]`;
  if (typeof v === 'object') return `map[${Object.keys(v).sort().map((k) => `${k}:${goSprint(v[k])}`).join(' ')}]`;
  return String(v);
}

// A form body or query as k6 encodes one (Go's url.Values.Encode): keys sorted, values escaped,
// an array's elements each a value of its key (none for an empty array).
function encodeForm(obj) {
  return Object.keys(obj).sort()
    .flatMap((k) => (Array.isArray(obj[k]) ? obj[k] : [obj[k]])
      .map((v) => `${queryEscape(k)}=${queryEscape(goSprint(v))}`))
    .join('&');
}

// k6/html's native functions, for resolving links and form actions against the page's URL.
let htmlNative;
function resolveUrl(base, ref) {
  if (!htmlNative) htmlNative = globalThis.__brunt_native('html');
  return htmlNative.urlParts(base, String(ref))[0];
}

// The named options of submitForm/clickLink, as k6 reads them (other keys are ignored).
function readArgs(args, defaults) {
  const out = { ...defaults };
  if (args === undefined || args === null) return out;
  for (const k of Object.keys(args)) {
    if (!(k in defaults)) continue;
    if (k === 'params') out.params = args.params;
    else if (k === 'fields') out.fields = args.fields !== null && typeof args.fields === 'object' ? args.fields : undefined;
    else out[k] = String(args[k]);
  }
  return out;
}

function prepareBody(body, headers) {
  if (body === undefined || body === null) return null;
  if (typeof body === 'string' || body instanceof ArrayBuffer) return body;
  if (ArrayBuffer.isView(body)) return body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength);
  if (typeof body === 'object') {
    const keys = Object.keys(body);
    if (keys.some((k) => body[k] instanceof FileData)) {
      const parts = keys.map((k) => {
        const v = body[k];
        return v instanceof FileData ? [k, v.data, v.filename || k, v.content_type] : [k, goSprint(v)];
      });
      const boundary = n.multipartBoundary();
      if (!hasHeader(headers, 'content-type')) headers['Content-Type'] = `multipart/form-data; boundary=${boundary}`;
      return n.multipart(boundary, parts);
    }
    if (!hasHeader(headers, 'content-type')) headers['Content-Type'] = 'application/x-www-form-urlencoded';
    return encodeForm(body);
  }
  return String(body);
}

function hasHeader(headers, lower) {
  return Object.keys(headers).some((k) => k.toLowerCase() === lower);
}

function flat(obj) {
  if (!obj) return null;
  const keys = Object.keys(obj);
  if (keys.length === 0) return null;
  const out = [];
  for (const k of keys) out.push(k, String(obj[k]));
  return out;
}

// brunt's `retry` param as the native side reads it: JSON, durations in milliseconds; only
// http.request and its shorthands retry (`where` names the others).
function describeRetry(retry, where) {
  if (retry === undefined || retry === null) return undefined;
  if (where) throw new TypeError(`retry: ${where} does not retry; use http.request or its shorthands (http.get, http.post, ...)`);
  if (typeof retry !== 'object') throw new TypeError(`retry: must be an object such as { policy: 'exponential', max: 4 }, not ${retry}`);
  const r = Object.assign({}, retry);
  for (const k of ['base', 'cap', 'window']) {
    if (r[k] !== undefined) r[k] = parseDuration(r[k], `retry.${k}`);
  }
  return JSON.stringify(r);
}

// A request as the native side reads it: positional, so no property lookups by name.
// [method, url, headers, body, tags, timeout, redirects, responseType, expected, jar, cookies, auth, retry]
// (headers and tags are flat [k, v, ...] arrays, cookies [name, value, replace, ...], or null;
// expected is undefined for the VU's default, null, or [[min, max], ...]).
function describe(method, target, body, params, where) {
  let u = target;
  let name;
  if (target instanceof URLTemplate) { u = target.url; name = target.name; }
  if (params === undefined || params === null) {
    let b = body;
    let headers = null;
    if (body !== undefined && body !== null && typeof body !== 'string') {
      const h = {};
      b = prepareBody(body, h);
      headers = flat(h);
    }
    const tags = name === undefined ? null : ['name', name];
    return [String(method), String(u), headers, b, tags, undefined, undefined, undefined,
      undefined, undefined, null, undefined];
  }
  const headers = {};
  for (const k of Object.keys(params.headers || {})) headers[k] = String(params.headers[k]);
  const prepared = prepareBody(body, headers);
  const tags = {};
  for (const k of Object.keys(params.tags || {})) tags[k] = String(params.tags[k]);
  if (name !== undefined && tags.name === undefined) tags.name = name;
  const cb = 'responseCallback' in params ? params.responseCallback : undefined;
  if (cb !== undefined && cb !== null && !(cb instanceof ExpectedStatuses)) {
    throw new TypeError('responseCallback must be http.expectedStatuses(...) or null');
  }
  let cookies = null;
  for (const k of Object.keys(params.cookies || {})) {
    const c = params.cookies[k];
    cookies = cookies || [];
    if (c !== null && typeof c === 'object') cookies.push(k, String(c.value), !!c.replace);
    else cookies.push(k, String(c), false);
  }
  return [
    String(method), String(u), flat(headers), prepared, flat(tags),
    parseDuration(params.timeout, 'timeout'), params.redirects, params.responseType,
    cb === undefined || cb === null ? cb : cb.ranges,
    params.jar, cookies, params.auth, describeRetry(params.retry, where),
  ];
}

// Response.prototype's `html`, `submitForm` and `clickLink` (native, per runtime) call these.
export function html(res, ...selector) {
  if (res.body === null || res.body === undefined) {
    throw new Error("the body is null so we can't transform it to HTML - this likely was because of a request error getting the response");
  }
  // k6/html is evaluated on first use only; it leaves its parser in a hidden global.
  if (!globalThis.__brunt_html) globalThis.__brunt_native('html').load();
  const doc = globalThis.__brunt_html(typeof res.body === 'string' ? res.body : n.utf8(res.body), res.url);
  return selector.length > 0 ? doc.find(String(selector[0])) : doc;
}

// Fills in the page's form as a browser would (its fields, the submit button's name and value,
// then `fields`) and sends it to the form's action with its method.
export function submitForm(res, args) {
  const a = readArgs(args, { formSelector: 'form', submitSelector: '[type="submit"]', fields: undefined, params: null });
  const form = html(res, a.formSelector);
  if (form.size() === 0) throw new Error(`no form found for selector '${a.formSelector}' in response '${res.url}'`);
  const m = form.attr('method');
  const method = m === undefined ? 'GET' : String(m).toUpperCase();
  const action = form.attr('action');
  let target = action === undefined ? res.url : resolveUrl(res.url, action);
  const values = form.serializeObject();
  const submit = form.find(a.submitSelector);
  const name = submit.attr('name');
  const value = submit.val();
  if (name !== undefined && value !== undefined) values[name] = value;
  if (a.fields) for (const k of Object.keys(a.fields)) values[k] = a.fields[k];
  if (method === 'GET') {
    const hash = target.indexOf('#');
    const fragment = hash < 0 ? '' : target.slice(hash);
    const path = (hash < 0 ? target : target.slice(0, hash)).split('?')[0];
    const query = encodeForm(values);
    target = `${path}${query ? `?${query}` : ''}${fragment}`;
    return request(method, target, null, a.params);
  }
  return request(method, target, values, a.params);
}

// Follows the page's first link matching `selector` (default `a[href]`) with a GET.
export function clickLink(res, args) {
  const a = readArgs(args, { selector: 'a[href]', params: null });
  const link = html(res, a.selector);
  if (link.size() === 0) throw new Error(`no element found for selector '${a.selector}' in response '${res.url}'`);
  const href = link.attr('href');
  if (href === undefined) {
    throw new Error(`no valid href attribute value found on element '${a.selector}' in response '${res.url}'`);
  }
  return request('GET', resolveUrl(res.url, href), undefined, a.params);
}


export function request(method, target, body, params) {
  return n.request(describe(method, target, body, params));
}

// asyncRequest: the native side starts the request with the VU's next wait; `pump` is a
// promise job kept queued while requests are outstanding. When it is the only job left it
// waits for some of them to finish and resolves their promises; otherwise it queues itself
// again behind the other jobs. A wait that ends with none finished (a timer is due, or a socket
// has an event) queues the pump as a timer instead, so the event loop runs those first.
const outstanding = new Map();
let pumping = false;

function pump() {
  let done;
  try {
    done = n.pump();
  } catch (e) {
    outstanding.clear();
    pumping = false;
    throw e;
  }
  if (done === false) {
    outstanding.clear();
  } else if (done !== null) {
    for (let i = 0; i < done.length; i += 2) {
      const resolve = outstanding.get(done[i]);
      outstanding.delete(done[i]);
      if (resolve) resolve(done[i + 1]);
    }
  }
  if (outstanding.size === 0) pumping = false;
  else if (Array.isArray(done) && done.length === 0) setTimeout(pump, 0);
  else Promise.resolve().then(pump);
}

export function asyncRequest(method, target, body, params) {
  return new Promise((resolve) => {
    let id = n.start(describe(method, target, body, params, 'http.asyncRequest'));
    if (id < 0) {
      // The native side dropped what an interrupted call left behind.
      outstanding.clear();
      id = -id;
    }
    outstanding.set(id, resolve);
    if (!pumping) {
      pumping = true;
      Promise.resolve().then(pump);
    }
  });
}

function batchItem(item) {
  if (typeof item === 'string' || item instanceof URLTemplate) return describe('GET', item, null, undefined);
  if (Array.isArray(item)) return describe(item[0], item[1], item[2], item[3], 'http.batch');
  if (item && typeof item === 'object') return describe(item.method || 'GET', item.url, item.body, item.params, 'http.batch');
  throw new TypeError('a batch request is a URL, an array [method, url, body, params] or an object');
}

export function batch(requests) {
  if (Array.isArray(requests)) {
    return n.batch(requests.map(batchItem));
  }
  const keys = Object.keys(requests || {});
  const out = n.batch(keys.map((k) => batchItem(requests[k])));
  const result = {};
  keys.forEach((k, i) => { result[k] = out[i]; });
  return result;
}
