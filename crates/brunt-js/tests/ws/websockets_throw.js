// A message listener that throws drops its socket, reports the error and the close, and ends
// the iteration with the exception, as in k6; the VU goes on with its next iteration.
import { WebSocket } from 'k6/websockets';
import { check } from 'k6';

export const options = { iterations: 2, thresholds: { checks: ['rate==1'] } };

export default function () {
  const ws = new WebSocket(`${__ENV.WS_URL}/echo`);
  const seen = [];
  ws.onopen = () => ws.send('x');
  ws.onerror = (e) => seen.push(e.error.includes('boom') ? 'error' : e.error);
  ws.onclose = () => {
    seen.push('close');
    check(seen, { 'listener threw: error then close': (s) => s.join(' ') === 'error close' });
  };
  ws.onmessage = () => {
    throw new Error('boom');
  };
}
