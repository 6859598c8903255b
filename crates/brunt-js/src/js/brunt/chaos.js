// brunt/chaos: a client of brunt's fault proxy (and of any Toxiproxy 2.x server) for load test
// scripts: add a toxic in setup() or from a scenario that starts later, remove it in teardown().
// Calls are plain k6/http requests (they count in http_reqs, as a Toxiproxy client written in a
// k6 script would), tagged {brunt_chaos: "api"} and named "brunt/chaos METHOD PATH", so that
// thresholds on your own endpoints can select them by name or tag and leave these out.
import http from 'k6/http';

const JSON_HEADERS = { 'Content-Type': 'application/json' };
const TAGS = { brunt_chaos: 'api' };

function defaultHost() {
  const env = typeof __ENV === 'object' && __ENV !== null ? __ENV : {};
  return env.TOXIPROXY_URL || env.BRUNT_CHAOS_URL || 'http://127.0.0.1:8474';
}

// Calls the API and returns the parsed body, or throws with the server's message and status.
function call(host, method, path, body) {
  const url = host.replace(/\/+$/, '') + path;
  const payload = body === undefined ? null : JSON.stringify(body);
  const res = http.request(method, url, payload, {
    headers: JSON_HEADERS,
    tags: Object.assign({ name: `brunt/chaos ${method} ${path}` }, TAGS),
    responseCallback: http.expectedStatuses({ min: 200, max: 299 }),
  });
  if (res.status === 0) {
    throw new Error(`brunt/chaos: cannot reach the fault proxy API at ${url}: ${res.error}`);
  }
  if (res.status < 200 || res.status > 299) {
    let message = res.body;
    try {
      message = JSON.parse(res.body).error || message;
    } catch (_) {
      // not JSON: keep the body as it is
    }
    throw new Error(`brunt/chaos: ${method} ${path} failed with ${res.status}: ${message}`);
  }
  return res.body ? JSON.parse(res.body) : null;
}

// A proxy as the API last described it (name, listen, upstream, enabled, toxics), with methods.
export class Proxy {
  constructor(client, data) {
    this.client = client;
    Object.assign(this, data);
  }

  get path() {
    return `/proxies/${encodeURIComponent(this.name)}`;
  }

  // toxic: {type, name?, stream?: 'upstream'|'downstream', toxicity?: 0..1, attributes?: {...}}
  addToxic(toxic) {
    if (!toxic || !toxic.type) throw new Error('brunt/chaos: addToxic needs a toxic with a type');
    return call(this.client.host, 'POST', `${this.path}/toxics`, toxic);
  }

  updateToxic(name, changes) {
    return call(this.client.host, 'POST', `${this.path}/toxics/${encodeURIComponent(name)}`, changes);
  }

  removeToxic(name) {
    call(this.client.host, 'DELETE', `${this.path}/toxics/${encodeURIComponent(name)}`);
  }

  // The proxy's toxics now (the `toxics` field holds them as of the last call).
  listToxics() {
    return call(this.client.host, 'GET', `${this.path}/toxics`);
  }

  update(changes) {
    Object.assign(this, call(this.client.host, 'POST', this.path, changes));
    return this;
  }

  // Takes the proxy down (connections refused and cut) or brings it back.
  disable() {
    return this.update({ enabled: false });
  }

  enable() {
    return this.update({ enabled: true });
  }

  delete() {
    call(this.client.host, 'DELETE', this.path);
  }
}

export class Client {
  // host: the API's base URL; defaults to $TOXIPROXY_URL, $BRUNT_CHAOS_URL or http://127.0.0.1:8474.
  constructor(host) {
    this.host = host || defaultHost();
  }

  version() {
    return http.get(`${this.host.replace(/\/+$/, '')}/version`, { tags: TAGS }).body;
  }

  proxies() {
    const all = call(this.host, 'GET', '/proxies');
    const out = {};
    for (const name of Object.keys(all)) out[name] = new Proxy(this, all[name]);
    return out;
  }

  proxy(name) {
    return new Proxy(this, call(this.host, 'GET', `/proxies/${encodeURIComponent(name)}`));
  }

  // spec: {name, listen, upstream, enabled?}
  createProxy(spec) {
    return new Proxy(this, call(this.host, 'POST', '/proxies', spec));
  }

  // Creates or updates several proxies at once (Toxiproxy's populate).
  populate(specs) {
    return call(this.host, 'POST', '/populate', specs).proxies.map((p) => new Proxy(this, p));
  }

  // Enables every proxy and removes every toxic.
  reset() {
    call(this.host, 'POST', '/reset');
  }
}

export default { Client, Proxy };
