// A socket's events and a timer while an http.asyncRequest is awaited, as k6's event loop runs
// them: against the target, a ping-pong of five echoes on /ws/echo (each sent by the previous
// one's handler) and a 50 ms timer both finish while /delay/1500 is in flight.
import http from 'k6/http';
import { WebSocket } from 'k6/experimental/websockets';
import { check } from 'k6';

export const options = { iterations: 1 };

const base = __ENV.BASE_URL || 'http://127.0.0.1:8080';

export default async function () {
  const echoes = [];
  let timerAt = 0;
  const ws = new WebSocket(`${base.replace(/^http/, 'ws')}/ws/echo`);
  ws.onopen = () => ws.send('0');
  ws.onmessage = () => {
    echoes.push(Date.now());
    if (echoes.length < 5) ws.send(String(echoes.length));
    else ws.close();
  };
  setTimeout(() => {
    timerAt = Date.now();
  }, 50);
  const res = await http.asyncRequest('GET', `${base}/delay/1500`);
  const end = Date.now();
  check(res, { 'the slow request answered': (r) => r.status === 200 });
  check(echoes, {
    'five echoes, all while the request was in flight': (x) => x.length === 5 && x[4] < end,
  });
  check(timerAt, { 'the timer ran while the request was in flight': (t) => t > 0 && t < end });
}
