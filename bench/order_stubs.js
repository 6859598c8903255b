// Stand-ins for the imports of bench/order_create.js (issue 16): `http.post`, `check`, `Rate` and
// `Trend` in plain JavaScript, with no I/O and nothing recorded. bench/cpu_per_request.sh puts
// them before the order script with its `import` lines left out (`orderjs` for brunt,
// `k6orderjs` for k6), so a run measures what the JavaScript engine alone spends on the script's
// own work each iteration: the params, headers and check literals, three closures and their
// calls, JSON in and out, a fresh response object. The order script costs no less than that plus
// a plain request (`quick`).
const BODY = '{"id":"o-1","status":"created","customer":"c-42"}';
function json(path) { return JSON.parse(this.body)[path]; }
const http = {
  post(url, body, params) {
    return {
      status: 201, body: BODY, json,
      timings: { blocked: 0, connecting: 0, tls_handshaking: 0, sending: 0, waiting: 1, receiving: 0, duration: 1 },
    };
  },
};
function check(value, sets) {
  let ok = true;
  for (const name in sets) if (!sets[name](value)) ok = false;
  return ok;
}
class Rate { constructor(name) { this.name = name; } add(value) {} }
class Trend { constructor(name, isTime) { this.name = name; } add(value) {} }
