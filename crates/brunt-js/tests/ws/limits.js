// Servers that misbehave once the socket is open, under both WebSocket modules: a message over
// the frame limit (16 MiB), and a server that never answers a ping or a close. Each ends as an
// error and a close on the socket; no VU hangs.
import ws from 'k6/ws';
import { WebSocket } from 'k6/websockets';
import { check } from 'k6';

export const options = {
  scenarios: { s: { executor: 'shared-iterations', iterations: 1, maxDuration: '40s' } },
};

export default function () {
  const big = [];
  ws.connect(`${__ENV.WS_URL}/big`, (socket) => {
    socket.on('error', (e) => big.push(e.error().includes('too long') ? 'error' : e.error()));
    socket.on('close', (code) => big.push(`close ${code}`));
  });
  check(big, { 'k6/ws: too big, error then close': (e) => e.join(' ') === 'error close 1006' });

  let pongs = 0;
  ws.connect(`${__ENV.BAD_URL}/silent`, (socket) => {
    socket.on('open', () => {
      socket.ping();
      socket.setTimeout(() => socket.close(), 300);
    });
    socket.on('pong', () => {
      pongs += 1;
    });
  });
  check(pongs, { 'k6/ws: unanswered ping, closed all the same': (p) => p === 0 });

  const seen = [];
  const b = new WebSocket(`${__ENV.WS_URL}/big`);
  b.onerror = (e) => seen.push(e.error.includes('too long') ? 'error' : e.error);
  b.onclose = (e) => {
    seen.push(`close ${e.code}`);
    check(seen, { 'k6/websockets: too big, error then close': (x) => x.join(' ') === 'error close 1006' });
  };

  const silent = [];
  const s = new WebSocket(`${__ENV.BAD_URL}/silent`);
  s.onopen = () => {
    s.ping();
    setTimeout(() => s.close(), 300);
  };
  s.onpong = () => silent.push('pong');
  s.onerror = (e) => silent.push(e.error.includes('did not answer') ? 'error' : e.error);
  s.onclose = (e) => {
    silent.push(`close ${e.code}`);
    check(silent, {
      'k6/websockets: unanswered ping and close, error then close': (x) =>
        x.join(' ') === 'error close 1006',
    });
  };
}
