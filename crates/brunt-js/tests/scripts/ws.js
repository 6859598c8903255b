// k6/ws against the target's /ws/echo: text, binary, a ping and a timer in one session, echoed
// back in order; a handshake the server refuses returns its response. The ws_* metrics and their
// status tag are checked by the thresholds.
import http from 'k6/http';
import ws from 'k6/ws';
import { check } from 'k6';

export const options = {
  iterations: 1,
  thresholds: {
    ws_sessions: ['count==2'],
    'ws_sessions{status:101}': ['count==1'],
    'ws_sessions{status:404}': ['count==1'],
    'ws_msgs_sent{room:a}': ['count==3'],
    'ws_msgs_received{room:a}': ['count==3'],
    'ws_ping{room:a}': ['max>=0'],
    ws_connecting: ['max>=0'],
    ws_session_duration: ['max>=0'],
  },
};

const base = __ENV.BASE_URL || 'http://127.0.0.1:8080';
const wsBase = base.replace(/^http/, 'ws');

export default function () {
  http.get(`${base}/`);
  const got = [];
  const res = ws.connect(`${wsBase}/ws/echo`, { tags: { room: 'a' } }, (socket) => {
    socket.on('open', () => {
      socket.send('hello');
      socket.sendBinary(new Uint8Array([1, 2, 3]).buffer);
      socket.ping();
      socket.setTimeout(() => socket.send('later'), 10);
    });
    socket.on('message', (m) => {
      got.push(m);
      if (m === 'later') socket.close(1000);
    });
    socket.on('binaryMessage', (b) => got.push(new Uint8Array(b).join(',')));
    socket.on('pong', () => got.push('pong'));
    socket.on('close', (code) => got.push(`close ${code}`));
  });
  check(res, {
    'status 101': (r) => r.status === 101,
    'url': (r) => r.url === `${wsBase}/ws/echo`,
    'upgrade header': (r) => r.headers.Upgrade === 'websocket',
  });
  check(got, {
    'echoed in order': (g) => g.filter((x) => x !== 'pong').join(' ') === 'hello 1,2,3 later close 1000',
    'pong': (g) => g.includes('pong'),
  });

  let ran = false;
  const missing = ws.connect(`${wsBase}/ws/nope`, () => {
    ran = true;
  });
  check(missing, {
    'refused handshake: status 404': (r) => r.status === 404,
    'refused handshake: setup not run': () => !ran,
  });
}
