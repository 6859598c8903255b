// brunt/chaos from a script: a proxy and a latency toxic set up in setup(), measured through in
// the iterations, removed in teardown().
import http from 'k6/http';
import { check } from 'k6';
import { Client } from 'brunt/chaos';

export const options = {
  vus: 1,
  iterations: 3,
  thresholds: { 'http_req_duration{name:through-proxy}': ['min>=150'] },
};

export function setup() {
  const chaos = new Client(__ENV.CHAOS_URL);
  const proxy = chaos.createProxy({ name: 'api', listen: '127.0.0.1:0', upstream: __ENV.UPSTREAM });
  const toxic = proxy.addToxic({ type: 'latency', attributes: { latency: 200 } });
  check(toxic, { 'toxic named as Toxiproxy names it': (t) => t.name === 'latency_downstream' });
  let refused = '';
  try {
    proxy.addToxic({ type: 'no_such_toxic' });
  } catch (e) {
    refused = String(e);
  }
  check(refused, { 'a bad toxic is an error with the API message': (m) => m.includes('400') });
  return { listen: proxy.listen };
}

export default function (data) {
  const r = http.get(`http://${data.listen}/json`, { tags: { name: 'through-proxy' } });
  check(r, { 'status 200 through the proxy': (res) => res.status === 200 });
}

export function teardown() {
  const proxy = new Client(__ENV.CHAOS_URL).proxy('api');
  proxy.removeToxic('latency_downstream');
  check(proxy.listToxics(), { 'toxic removed': (t) => t.length === 0 });
  proxy.delete();
}
